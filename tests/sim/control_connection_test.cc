#include "sim/control_connection.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace faultline {
namespace {

class ControlConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv_), 0); }
  void TearDown() override {
    close(sv_[0]);
    if (sv_[1] >= 0) close(sv_[1]);
  }
  void Send(const std::string& s) {
    ASSERT_EQ(write(sv_[1], s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  ControlConnection::EventFn Collect() {
    return [this](nlohmann::json e, int64_t mono) {
      events_.push_back(e.value("type", ""));
      monos_.push_back(mono);
    };
  }
  int sv_[2] = {-1, -1};
  std::vector<std::string> events_;
  std::vector<int64_t> monos_;
};

TEST_F(ControlConnectionTest, EventsInOrderThenTheParkingMessage) {
  ControlConnection c(sv_[0]);
  // A message split across writes, events before the yield.
  Send(R"({"event":{"type":"claim_ok"}})" "\n" R"({"event":{"type":"eff)");
  Send(R"(ect"}})" "\n" R"({"yield":"complete.locked","item":"w3"})" "\n");
  Parked p;
  std::string error;
  ASSERT_EQ(c.AwaitPark(1000, Collect(), &p, &error), ControlConnection::Read::kParked) << error;
  EXPECT_EQ(events_, (std::vector<std::string>{"claim_ok", "effect"}));
  EXPECT_EQ(p.kind, Parked::Kind::kYield);
  EXPECT_EQ(p.point, "complete.locked");
  EXPECT_EQ(p.item, "w3");
  // One parking message per answer (two at once are a flood, refused below).
  Send(R"({"sleep_us":2500})" "\n");
  ASSERT_EQ(c.AwaitPark(1000, Collect(), &p, &error), ControlConnection::Read::kParked);
  EXPECT_EQ(p.kind, Parked::Kind::kSleep);
  EXPECT_EQ(p.sleep_us, 2500);
  Send(R"({"hello":{"pid":1}})" "\n");
  ASSERT_EQ(c.AwaitPark(1000, Collect(), &p, &error), ControlConnection::Read::kParked);
  EXPECT_EQ(p.kind, Parked::Kind::kHello);
}

TEST_F(ControlConnectionTest, AParkBeforeTheLastAnswerWasReadIsAFlood) {
  ControlConnection c(sv_[0]);
  Parked p;
  std::string error;
  Send(R"({"yield":"claim.locked","item":""})" "\n");
  ASSERT_EQ(c.AwaitPark(1000, Collect(), &p, &error), ControlConnection::Read::kParked) << error;
  ASSERT_TRUE(c.Go(1000, 1000, 1000));
  // The peer reads its answer, then parks again: a conversation.
  char answer[256];
  ASSERT_GT(read(sv_[1], answer, sizeof answer), 0);
  Send(R"({"yield":"claim.locked","item":""})" "\n");
  ASSERT_EQ(c.AwaitPark(1000, Collect(), &p, &error), ControlConnection::Read::kParked) << error;
  ASSERT_TRUE(c.Go(2000, 2000, 2000));
  // It parks again with that answer unread, in a read of its own: a flood.
  Send(R"({"yield":"claim.locked","item":""})" "\n");
  EXPECT_EQ(c.AwaitPark(1000, Collect(), &p, &error), ControlConnection::Read::kBadMessage);
  EXPECT_NE(error.find("before faultline answered"), std::string::npos) << error;
}

TEST_F(ControlConnectionTest, GoCarriesTheSimulatedTime) {
  ControlConnection c(sv_[0]);
  ASSERT_TRUE(c.Go(1234567, 1234567, 1234567));
  char buf[64] = {};
  ASSERT_GT(read(sv_[1], buf, sizeof buf - 1), 0);
  EXPECT_EQ(std::string(buf), "{\"go\":true,\"now\":1234567}\n");
}

TEST_F(ControlConnectionTest, ASteppedWallClockAlsoSendsTheBootClock) {
  ControlConnection c(sv_[0]);
  ASSERT_TRUE(c.Go(11234567, 1234567, 1234567));
  char buf[64] = {};
  ASSERT_GT(read(sv_[1], buf, sizeof buf - 1), 0);
  EXPECT_EQ(std::string(buf), "{\"go\":true,\"now\":11234567,\"boot\":1234567}\n");
}

TEST_F(ControlConnectionTest, ASkewedClockInARunWithADatabaseAlsoSendsTheServerClock) {
  ControlConnection c(sv_[0]);
  ASSERT_TRUE(c.Go(1734567, 1734567, 1234567));
  char buf[80] = {};
  ASSERT_GT(read(sv_[1], buf, sizeof buf - 1), 0);
  EXPECT_EQ(std::string(buf), "{\"go\":true,\"now\":1734567,\"server\":1234567}\n");
}

TEST_F(ControlConnectionTest, TimeoutClosedAndBadMessages) {
  ControlConnection c(sv_[0]);
  Parked p;
  std::string error;
  EXPECT_EQ(c.AwaitPark(50, Collect(), &p, &error), ControlConnection::Read::kTimeout);
  Send("not json\n");
  EXPECT_EQ(c.AwaitPark(1000, Collect(), &p, &error), ControlConnection::Read::kBadMessage);
  EXPECT_NE(error.find("not a JSON object"), std::string::npos);
  error.clear();
  Send(R"({"dance":1})" "\n");
  EXPECT_EQ(c.AwaitPark(1000, Collect(), &p, &error), ControlConnection::Read::kBadMessage);
  EXPECT_NE(error.find("unknown message"), std::string::npos);
  close(sv_[1]);
  sv_[1] = -1;
  EXPECT_EQ(c.AwaitPark(1000, Collect(), &p, &error), ControlConnection::Read::kClosed);
}

// SIGINT/SIGTERM set the flag while a process is silent: the wait ends at
// once, not at the step timeout.
TEST_F(ControlConnectionTest, AnInterruptEndsTheWaitLongBeforeTheTimeout) {
  ControlConnection c(sv_[0]);
  Parked p;
  std::string error;
  std::atomic<bool> interrupted{false};
  std::thread signal([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    interrupted.store(true);
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(c.AwaitPark(60'000, Collect(), &p, &error, &interrupted),
            ControlConnection::Read::kInterrupted);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  signal.join();
  // Without the flag the same silence is a timeout.
  EXPECT_EQ(c.AwaitPark(50, Collect(), &p, &error), ControlConnection::Read::kTimeout);
}

TEST_F(ControlConnectionTest, AbandonEndsTheReadOfAFloodThatNeverParks) {
  ControlConnection c(sv_[0]);
  std::atomic<bool> flooding{true};
  // Events without end, never a parking message.
  std::thread flood([&] {
    const std::string line = R"({"event":{"type":"register"}})" "\n";
    std::string chunk;
    for (int i = 0; i < 64; ++i) chunk += line;
    while (flooding.load()) {
      if (send(sv_[1], chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0) break;
    }
  });
  Parked p;
  std::string error;
  bool abandon = false;
  size_t seen = 0;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(c.AwaitPark(60'000, [&](nlohmann::json, int64_t) { abandon = ++seen >= 1000; }, &p,
                        &error, nullptr, &abandon),
            ControlConnection::Read::kAbandoned);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_GE(seen, 1000u);
  // A writer blocked on the full buffer fails with EPIPE and ends.
  flooding.store(false);
  shutdown(sv_[1], SHUT_WR);
  flood.join();
}

TEST_F(ControlConnectionTest, DrainTakesWhatIsThereAndSeesTheEnd) {
  ControlConnection c(sv_[0]);
  std::string error;
  Send(R"({"hello":{"pid":1}})" "\n" R"({"event":{"type":"register"},"mono_us":77})" "\n");
  EXPECT_EQ(c.Drain(Collect(), &error), ControlConnection::Read::kParked);
  EXPECT_EQ(events_, std::vector<std::string>{"register"});
  EXPECT_EQ(monos_, std::vector<int64_t>{77});
  // Written just before the sender vanished: still delivered.
  Send(R"({"event":{"type":"heartbeat"},"mono_us":78})" "\n");
  close(sv_[1]);
  sv_[1] = -1;
  EXPECT_EQ(c.Drain(Collect(), &error), ControlConnection::Read::kClosed);
  EXPECT_EQ(events_, (std::vector<std::string>{"register", "heartbeat"}));
}

// Every line a process may not send, and what the harness says about it.
TEST(ParseControlLineTest, RefusesWhatTheProtocolDoesNotAllow) {
  struct Bad {
    std::string line;
    std::string says;
  };
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  const std::vector<Bad> cases = {
      {"garbage", "not a JSON object"},
      {"[1]", "not a JSON object"},
      {"{\"event\":{\"type\":\"register\",\"agent\":\"\xff\"}}", "not UTF-8"},
      {R"({"event":{"type":5}})", "without a string \"type\""},
      {R"({"event":{"item":"w1"}})", "without a string \"type\""},
      {R"({"event":7})", "not a JSON object"},
      {R"({"event":{"type":"i_was_here"}})", "type \"i_was_here\", which a process may not send"},
      {R"({"event":{"type":"run_end","completed":true}})", "which a process may not send"},
      {R"({"event":{"type":"exit","agent":"a1"}})", "which a process may not send"},
      {R"({"event":{"type":"fault","kind":"kill_agent"}})", "which a process may not send"},
      {R"({"event":{"type":"claim_ok","seq":3}})", "sets \"seq\", which the harness writes"},
      {R"({"event":{"type":"claim_ok","token":"7"}})", "whose \"token\" is not an integer"},
      {R"({"event":{"type":"release","item":null}})", "whose \"item\" is not a string"},
      {R"({"event":{"type":"span_dropped","spans":[1]}})", "not an array of strings"},
      {R"({"event":{"type":"claim_ok","t":3}})", "sets \"t\""},
      {R"({"event":{"type":"claim_ok","proc":"sim"}})", "sets \"proc\""},
      {R"({"event":{"type":"claim_ok"},"mono_us":"x"})", "\"mono_us\" that is not an integer"},
      {R"({"event":{"type":"claim_ok"},"extra":1})", "other keys"},
      {R"({"yield":"claim.locked","item":"w1\u0000w2"})", "NUL"},
      {R"({"event":{"type":"claim_ok","item":"a\u0000"}})", "NUL"},
      {R"({"yield":5})", "a yield whose point"},
      {R"({"yield":""})", "a yield whose point"},
      {R"({"yield":"p","item":3})", "a yield whose point"},
      {R"({"sleep_us":-1})", "a sleep_us that is not an integer"},
      {R"({"sleep_us":1.5})", "a sleep_us that is not an integer"},
      {R"({"hello":1})", "a hello that is not an object"},
      {R"({"hello":{"pid":"x"}})", "a hello whose pid"},
      {R"({"dance":1})", "unknown message"},
      {R"({"yield":"p","sleep_us":1})", "unknown message"},
      {R"({"spawned":0})", "a spawned whose pid"},
      {R"({"spawned":5,"timeout_ms":-1})", "a spawned whose timeout_ms"},
      {R"({"spawned":5,"timeout_ms":"9"})", "a spawned whose timeout_ms"},
      {R"({"spawned":5,"item":"w1"})", "unknown message"},
      {"{\"event\":{\"type\":\"register\",\"x\":" + deep + "}}", "nested deeper than 32"},
      {std::string(kMaxLineBytes + 1, ' '), "a line longer than"},
  };
  for (const Bad& b : cases) {
    ControlMessage m;
    std::string error;
    EXPECT_FALSE(ParseControlLine(b.line, &m, &error)) << b.line.substr(0, 80);
    EXPECT_NE(error.find(b.says), std::string::npos) << b.line.substr(0, 80) << " -> " << error;
    EXPECT_LT(error.size(), 600u) << "the excerpt is bounded";
  }
  ControlMessage m;
  std::string error;
  ASSERT_TRUE(ParseControlLine(R"({"event":{"type":"claim_ok","item":"w1"},"mono_us":5})", &m,
                               &error))
      << error;
  EXPECT_EQ(m.kind, ControlMessage::Kind::kEvent);
  EXPECT_EQ(m.mono_us, 5);
  ASSERT_TRUE(ParseControlLine(R"({"yield":"claim.locked","item":"w1"})", &m, &error)) << error;
  EXPECT_EQ(m.parked.item, "w1");
  ASSERT_TRUE(ParseControlLine(R"({"spawned":42,"timeout_ms":5000})", &m, &error)) << error;
  EXPECT_EQ(m.parked.kind, Parked::Kind::kCommand);
  EXPECT_EQ(m.parked.pid, 42);
  EXPECT_EQ(m.parked.timeout_ms, 5000);
  ASSERT_TRUE(ParseControlLine(R"({"spawned":42})", &m, &error)) << error;
  EXPECT_EQ(m.parked.timeout_ms, 0);
}

// The reference coordinator's sleep and yield lines are read without a JSON
// parser (the fast path of ParseControlLine): each must read exactly as the
// same message spelled so that only the parser takes it (a space after the
// brace), and the near misses must still be refused or read in full.
TEST(ParseControlLineTest, TheCoordinatorsOwnLinesReadAsTheParserReadsThem) {
  const std::vector<std::string> lines = {
      R"({"sleep_us":0})",
      R"({"sleep_us":7})",
      R"({"sleep_us":500000})",
      R"({"sleep_us":31536000000000})",
      R"({"item":"","yield":"heartbeat.locked"})",
      R"({"item":"w000123","yield":"claim.locked"})",
      R"({"item":"@agent.a1.lock","yield":"lock.busy"})",
      R"({"item":"a\"b","yield":"p"})",
      R"({"item":"é","yield":"p"})",
      R"({"item":"w1","yield":"p","x":1})",
  };
  for (const std::string& line : lines) {
    ControlMessage fast, full;
    std::string fast_error, full_error;
    const bool fast_ok = ParseControlLine(line, &fast, &fast_error);
    const bool full_ok = ParseControlLine("{ " + line.substr(1), &full, &full_error);
    EXPECT_EQ(fast_ok, full_ok) << line;
    EXPECT_EQ(fast.kind, full.kind) << line;
    EXPECT_EQ(fast.parked.kind, full.parked.kind) << line;
    EXPECT_EQ(fast.parked.sleep_us, full.parked.sleep_us) << line;
    EXPECT_EQ(fast.parked.point, full.parked.point) << line;
    EXPECT_EQ(fast.parked.item, full.parked.item) << line;
  }
  ControlMessage m;
  std::string error;
  ASSERT_TRUE(ParseControlLine(R"({"sleep_us":500000})", &m, &error)) << error;
  EXPECT_EQ(m.kind, ControlMessage::Kind::kSleep);
  EXPECT_EQ(m.parked.sleep_us, 500000);
  ASSERT_TRUE(ParseControlLine(R"({"item":"w7","yield":"renew.locked"})", &m, &error)) << error;
  EXPECT_EQ(m.parked.kind, Parked::Kind::kYield);
  EXPECT_EQ(m.parked.point, "renew.locked");
  EXPECT_EQ(m.parked.item, "w7");
  ASSERT_TRUE(ParseControlLine(R"({"item":"a\"b","yield":"p"})", &m, &error)) << error;
  EXPECT_EQ(m.parked.item, "a\"b");
  for (const std::string bad : {R"({"sleep_us":01})", R"({"sleep_us":31536000000001})",
                                R"({"sleep_us":})", R"({"item":"w1","yield":""})",
                                R"({"item":"w1","yield":"p"}})"}) {
    error.clear();
    EXPECT_FALSE(ParseControlLine(bad, &m, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST_F(ControlConnectionTest, ASecondHelloAFloodAndAnEndlessLineAreRefused) {
  {
    ControlConnection c(sv_[0]);
    Parked p;
    std::string error;
    Send(R"({"hello":{"pid":1}})" "\n");
    ASSERT_EQ(c.AwaitPark(1000, Collect(), &p, &error), ControlConnection::Read::kParked);
    Send(R"({"hello":{"pid":1}})" "\n");
    EXPECT_EQ(c.AwaitPark(1000, Collect(), &p, &error), ControlConnection::Read::kBadMessage);
    EXPECT_EQ(error, "a second hello");
  }
  {
    // Yields written without waiting for the answer.
    ControlConnection c(sv_[0]);
    Parked p;
    std::string error;
    Send(R"({"yield":"a","item":""})" "\n" R"({"yield":"b","item":""})" "\n");
    EXPECT_EQ(c.AwaitPark(1000, Collect(), &p, &error), ControlConnection::Read::kBadMessage);
    EXPECT_NE(error.find("before faultline answered"), std::string::npos) << error;
  }
  {
    // More than kMaxLineBytes without a newline: refused as soon as it is
    // read, not buffered without end.
    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    ControlConnection c(pair[0]);
    const std::string chunk(1 << 16, 'a');
    Parked p;
    std::string error;
    ControlConnection::Read r = ControlConnection::Read::kTimeout;
    for (size_t sent = 0; sent <= kMaxLineBytes + chunk.size() && r == ControlConnection::Read::kTimeout;
         sent += chunk.size()) {
      ASSERT_EQ(write(pair[1], chunk.data(), chunk.size()), static_cast<ssize_t>(chunk.size()));
      r = c.AwaitPark(10, Collect(), &p, &error);
    }
    EXPECT_EQ(r, ControlConnection::Read::kBadMessage);
    EXPECT_NE(error.find("a line longer than"), std::string::npos);
    close(pair[0]);
    close(pair[1]);
  }
}

TEST_F(ControlConnectionTest, FreerunRefusesYields) {
  ControlConnection c(sv_[0]);
  std::string error;
  Send(R"({"yield":"claim.locked","item":""})" "\n");
  EXPECT_EQ(c.Drain(Collect(), &error), ControlConnection::Read::kBadMessage);
  EXPECT_NE(error.find("a yield in freerun"), std::string::npos) << error;
}

}  // namespace
}  // namespace faultline
