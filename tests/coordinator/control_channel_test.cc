#include "coordinator/control_channel.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace swarm {
namespace {

// Plays the simulator's side: answers every message that expects a reply
// with the next simulated time, and records every line.
// With `wall_step` != 0 the process's wall clock is stepped: "now" reads
// that much further and "boot" carries the unstepped clock.
void FakeSim(int fd, std::vector<std::string>* lines, int64_t wall_step) {
  std::string buf;
  int64_t now = 5000;
  char chunk[256];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) return;
    buf.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      lines->push_back(line);
      auto j = nlohmann::json::parse(line);
      if (j.contains("event")) continue;
      if (j.contains("sleep_us")) now += j["sleep_us"].get<int64_t>();
      nlohmann::json go = {{"go", true}, {"now", now + wall_step}};
      if (wall_step != 0) go["boot"] = now;
      std::string reply = go.dump() + "\n";
      if (write(fd, reply.data(), reply.size()) != static_cast<ssize_t>(reply.size())) return;
      now += 1;
    }
  }
}

TEST(ControlChannelTest, SpeaksTheProtocolAndRunsOnSimulatedTime) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  std::vector<std::string> lines;
  std::thread sim(FakeSim, sv[1], &lines, int64_t{0});
  {
    ControlChannel ch(sv[0], "agent", "a1");
    EXPECT_EQ(ch.NowMicros(), 5000);
    ch.Yield("claim.locked", "w7");
    EXPECT_EQ(ch.NowMicros(), 5001);
    ch.Emit({{"type", "claim_ok"}, {"item", "w7"}});
    ch.SleepMicros(1000);
    EXPECT_EQ(ch.NowMicros(), 6002);
    EXPECT_TRUE(ch.recording());
  }  // closes sv[0]: the fake sim sees EOF
  sim.join();
  close(sv[1]);
  ASSERT_EQ(lines.size(), 4u);
  auto hello = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(hello["hello"]["role"], "agent");
  EXPECT_EQ(hello["hello"]["id"], "a1");
  EXPECT_EQ(hello["hello"]["pid"], getpid());
  EXPECT_EQ(lines[1], R"({"item":"w7","yield":"claim.locked"})");
  EXPECT_EQ(lines[2], R"({"event":{"item":"w7","type":"claim_ok"}})");
  EXPECT_EQ(lines[3], R"({"sleep_us":1000})");
}

TEST(ControlChannelTest, PassedPointsSendNothingAndKeepTheClock) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  std::vector<std::string> lines;
  std::thread sim(FakeSim, sv[1], &lines, int64_t{0});
  {
    ControlChannel ch(sv[0], "agent", "a1");
    ch.PassPoints("heartbeat.locked,,heartbeat.written");
    ch.Yield("heartbeat.locked", "");
    ch.Emit({{"type", "heartbeat"}, {"agent", "a1"}});
    ch.Yield("heartbeat.written", "");
    EXPECT_EQ(ch.NowMicros(), 5000) << "a passed point is no answer: the clock stays";
    ch.Yield("heartbeat", "");  // a prefix of a passed point is not one
    EXPECT_EQ(ch.NowMicros(), 5001);
    ch.PassPoints("");
    ch.Yield("heartbeat.locked", "");
    EXPECT_EQ(ch.NowMicros(), 5002);
  }
  sim.join();
  close(sv[1]);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1], R"({"event":{"agent":"a1","type":"heartbeat"}})");
  EXPECT_EQ(lines[2], R"({"item":"","yield":"heartbeat"})");
  EXPECT_EQ(lines[3], R"({"item":"","yield":"heartbeat.locked"})");
}

TEST(ControlChannelTest, AfterAWallClockStepTheClockReadsTheBootClock) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  std::vector<std::string> lines;
  std::thread sim(FakeSim, sv[1], &lines, int64_t{-3'600'000'000});
  {
    ControlChannel ch(sv[0], "agent", "a1");
    EXPECT_EQ(ch.NowMicros(), 5000) << "leases must not move with the wall clock";
    ch.SleepMicros(1000);
    EXPECT_EQ(ch.NowMicros(), 6001);
  }
  sim.join();
  close(sv[1]);
}

TEST(ControlChannelTest, FreerunSendsStampedEventsAndNeverWaits) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  {
    // Nobody answers on sv[1]: a lockstep channel would block forever here.
    ControlChannel ch(sv[0], "agent", "a1", /*lockstep=*/false);
    ch.Yield("claim.locked", "w1");
    int64_t before = ch.NowMicros();
    ch.SleepMicros(1000);
    EXPECT_GE(ch.NowMicros() - before, 1000);
    ch.Emit({{"type", "claim_ok"}});
  }
  std::string got;
  char buf[512];
  ssize_t n;
  while ((n = read(sv[1], buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  close(sv[1]);
  size_t nl = got.find('\n');
  ASSERT_NE(nl, std::string::npos);
  EXPECT_TRUE(nlohmann::json::parse(got.substr(0, nl)).contains("hello"));
  auto event = nlohmann::json::parse(got.substr(nl + 1, got.find('\n', nl + 1) - nl - 1));
  EXPECT_EQ(event["event"]["type"], "claim_ok");
  EXPECT_GT(event["mono_us"].get<int64_t>(), 0);
}

TEST(ControlChannelTest, WithoutTheEnvironmentVariableRunsOnRealTime) {
  unsetenv("FAULTLINE_CTL_FD");
  Runtime rt = MakeRuntimeFromEnvironment("agent", "a1");
  EXPECT_EQ(rt.channel, nullptr);
  EXPECT_FALSE(rt.probe->recording());
  int64_t a = rt.clock->NowMicros();
  rt.clock->SleepMicros(2000);
  EXPECT_GE(rt.clock->NowMicros() - a, 2000);
}

TEST(ControlChannelDeathTest, ALostSimulatorEndsTheProcess) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  close(sv[1]);
  EXPECT_EXIT(ControlChannel(sv[0], "agent", "a1"), ::testing::ExitedWithCode(3),
              "control channel lost");
  close(sv[0]);
}

}  // namespace
}  // namespace swarm
