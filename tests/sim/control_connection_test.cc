#include "sim/control_connection.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
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
  Send(R"({"sleep_us":2500})" "\n" R"({"hello":{"pid":1}})" "\n");
  ASSERT_EQ(c.AwaitPark(1000, Collect(), &p, &error), ControlConnection::Read::kParked);
  EXPECT_EQ(p.kind, Parked::Kind::kSleep);
  EXPECT_EQ(p.sleep_us, 2500);
  ASSERT_EQ(c.AwaitPark(1000, Collect(), &p, &error), ControlConnection::Read::kParked);
  EXPECT_EQ(p.kind, Parked::Kind::kHello);
}

TEST_F(ControlConnectionTest, GoCarriesTheSimulatedTime) {
  ControlConnection c(sv_[0]);
  ASSERT_TRUE(c.Go(1234567, 1234567));
  char buf[64] = {};
  ASSERT_GT(read(sv_[1], buf, sizeof buf - 1), 0);
  EXPECT_EQ(std::string(buf), "{\"go\":true,\"now\":1234567}\n");
}

TEST_F(ControlConnectionTest, ASteppedWallClockAlsoSendsTheBootClock) {
  ControlConnection c(sv_[0]);
  ASSERT_TRUE(c.Go(11234567, 1234567));
  char buf[64] = {};
  ASSERT_GT(read(sv_[1], buf, sizeof buf - 1), 0);
  EXPECT_EQ(std::string(buf), "{\"go\":true,\"now\":11234567,\"boot\":1234567}\n");
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

TEST_F(ControlConnectionTest, DrainTakesWhatIsThereAndSeesTheEnd) {
  ControlConnection c(sv_[0]);
  std::string error;
  Send(R"({"hello":{"pid":1}})" "\n" R"({"event":{"type":"a"},"mono_us":77})" "\n");
  EXPECT_EQ(c.Drain(Collect(), &error), ControlConnection::Read::kParked);
  EXPECT_EQ(events_, std::vector<std::string>{"a"});
  EXPECT_EQ(monos_, std::vector<int64_t>{77});
  // Written just before the sender vanished: still delivered.
  Send(R"({"event":{"type":"b"},"mono_us":78})" "\n");
  close(sv_[1]);
  sv_[1] = -1;
  EXPECT_EQ(c.Drain(Collect(), &error), ControlConnection::Read::kClosed);
  EXPECT_EQ(events_, (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace faultline
