// The agent's model API client (coordinator/model_client.h) against the real
// stub model (faultline sink's POST /v1/model, in process, over loopback
// HTTP) in each of its modes; the agent's answer to a failing model (release,
// backoff, heartbeats and renewals while a call hangs); and the swarm binary
// doing its work through a stub that blackholes and then recovers.
#include "coordinator/model_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "coordinator/agent.h"
#include "coordinator/exit_codes.h"
#include "sim/sink.h"
#include "tests/coordinator/store_fixture.h"
#include "tests/support/poll.h"
#include "tests/support/subprocess.h"

namespace swarm {
namespace {

using faultline::CollectorMode;
using faultline::SinkServer;
using nlohmann::json;
using namespace std::chrono_literals;

// A Tending that counts its calls and has a duty every `every_us`.
class CountingTending final : public model::Tending {
 public:
  CountingTending(Clock* clock, int64_t every_us) : clock_(clock), every_us_(every_us) {}
  int64_t NextDutyUs() override { return next_; }
  bool Tend() override {
    const int64_t now = clock_->NowMicros();
    if (now >= next_) {
      ++duties;
      next_ = now + every_us_;
    }
    ++tends;
    return true;
  }
  int tends = 0;
  int duties = 0;

 private:
  Clock* clock_;
  int64_t every_us_;
  int64_t next_ = 0;
};

class ModelTest : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    auto sink = SinkServer::Start("127.0.0.1", 0, *dir_ / "model-record.jsonl", CollectorMode::kUp);
    ASSERT_TRUE(sink.ok()) << sink.status().ToString();
    sink_ = std::move(*sink);
  }

  model::Settings Settings(int64_t timeout_ms = 300) {
    model::Settings s;
    s.endpoint = "http://127.0.0.1:" + std::to_string(sink_->port());
    s.timeout_ms = timeout_ms;
    return s;
  }

  std::vector<json> Events(std::string_view type) {
    std::vector<json> out;
    for (const json& e : probe_.events) {
      if (e.value("type", "") == type) out.push_back(e);
    }
    return out;
  }

  std::unique_ptr<SinkServer> sink_;
};

TEST_F(ModelTest, SettingsAreValidated) {
  EXPECT_TRUE(model::Validate(Settings()).ok());
  model::Settings s = Settings();
  s.endpoint = "https://example.invalid";
  EXPECT_EQ(model::Validate(s).code(), Status::Code::kInvalidArgument);
  s = Settings(0);
  EXPECT_NE(model::Validate(s).message().find("--model-timeout-ms"), std::string::npos);
  s = Settings();
  EXPECT_TRUE(model::ParseBackoff("400:100", &s).ok());
  EXPECT_NE(model::Validate(s).message().find("--model-backoff-ms"), std::string::npos);
  EXPECT_FALSE(model::ParseBackoff("fast", &s).ok());
}

TEST_F(ModelTest, EachModeOfTheStubSettlesTheCallAsItSays) {
  model::ModelCaller caller(Settings(/*timeout_ms=*/250), &clock_, &probe_);
  CountingTending tending(&clock_, 100'000);
  const int64_t start = clock_.NowMicros();

  model::Outcome up = caller.Call("a1", "w1", tending);
  EXPECT_TRUE(up.ok) << up.error;
  EXPECT_EQ(clock_.NowMicros(), start) << "an answered call costs no simulated time";

  sink_->SetMode(CollectorMode::kUnavailable);
  model::Outcome unavailable = caller.Call("a1", "w2", tending);
  EXPECT_FALSE(unavailable.ok);
  EXPECT_EQ(unavailable.error, "HTTP 503");

  sink_->SetMode(CollectorMode::kBlackhole);
  model::Outcome hung = caller.Call("a1", "w3", tending);
  EXPECT_FALSE(hung.ok);
  EXPECT_FALSE(hung.abandoned);
  EXPECT_EQ(hung.error, "no answer within the timeout");
  EXPECT_EQ(clock_.NowMicros() - start, 250'000) << "the deadline is charged on the clock";
  EXPECT_GE(tending.duties, 3) << "duties every 100 ms went on while the call hung";

  sink_.reset();  // down: nothing listens on the port
  model::Outcome refused = caller.Call("a1", "w4", tending);
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.error, "connection refused");

  const auto calls = Events("model_call");
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0]["ok"], true);
  EXPECT_EQ(calls[1]["error"], "HTTP 503");
  EXPECT_EQ(calls[2]["item"], "w3");
  EXPECT_EQ(calls[3]["agent"], "a1");
}

TEST_F(ModelTest, OnTheRealClockAHungCallTendsInSlicesUntilItsDeadline) {
  RealClock real;
  sink_->SetMode(CollectorMode::kBlackhole);
  model::ModelCaller caller(Settings(/*timeout_ms=*/400), &real, &probe_);
  CountingTending tending(&real, 50'000);
  model::Outcome hung = caller.Call("a1", "w1", tending);
  EXPECT_EQ(hung.error, "no answer within the timeout");
  EXPECT_GE(tending.duties, 2) << "the wait was cut at each duty";
}

TEST_F(ModelTest, ATendingThatGivesUpAbandonsTheCall) {
  class GivingUp final : public model::Tending {
   public:
    int64_t NextDutyUs() override { return 0; }
    bool Tend() override { return false; }
  } giving_up;
  sink_->SetMode(CollectorMode::kBlackhole);
  model::ModelCaller caller(Settings(/*timeout_ms=*/100), &clock_, &probe_);
  model::Outcome o = caller.Call("a1", "w1", giving_up);
  EXPECT_TRUE(o.abandoned);
  EXPECT_EQ(Events("model_call").at(0)["error"], "abandoned");
}

TEST_F(ModelTest, BackoffDoublesUpToItsBoundAndIsDrawnFromTheUpperHalf) {
  model::Settings s = Settings();
  s.backoff_initial_ms = 100;
  s.backoff_max_ms = 1000;
  model::ModelCaller caller(s, &clock_, &probe_);
  const int64_t ceilings[] = {100'000, 200'000, 400'000, 800'000, 1'000'000, 1'000'000};
  for (int failures = 1; failures <= 6; ++failures) {
    const int64_t ceiling = ceilings[failures - 1];
    for (uint64_t random : {uint64_t{0}, uint64_t{12345}, ~uint64_t{0}}) {
      const int64_t d = caller.BackoffUs(failures, random);
      EXPECT_GE(d, ceiling / 2) << failures;
      EXPECT_LE(d, ceiling) << failures;
    }
  }
}

// The agent with a model: AgentOptions as in agent_test.cc.
class AgentModelTest : public ModelTest {
 protected:
  AgentOptions Options() {
    AgentOptions o;
    o.id = "a1";
    o.exit_when_idle = true;
    o.work_min_ms = 10;
    o.work_max_ms = 30;
    o.seed = 7;
    return o;
  }
  int RunAgent(model::ModelCaller* caller) {
    Agent agent(store_.get(), &clock_, &probe_, Options(), &stop_);
    agent.set_model(caller);
    return agent.Run();
  }
  // Heals the stub once the agent has released `n` items.
  void HealAfterReleases(int n) {
    probe_.on_yield = [this, n, released = 0](std::string_view point, std::string_view) mutable {
      if (point == "release.locked" && ++released == n) sink_->SetMode(CollectorMode::kUp);
    };
  }
  std::atomic<bool> stop_{false};
};

TEST_F(AgentModelTest, AFailedCallReleasesTheItemAndBacksOffHeartbeatingThenAllIsDone) {
  SubmitItems(5);
  sink_->SetMode(CollectorMode::kUnavailable);
  HealAfterReleases(3);
  model::Settings s = Settings();
  s.backoff_initial_ms = 400;
  s.backoff_max_ms = 4000;
  model::ModelCaller caller(s, &clock_, &probe_);
  EXPECT_EQ(RunAgent(&caller), kExitOk);
  EXPECT_EQ(Count("ledger"), 5u);
  EXPECT_EQ(Count("locks"), 0u);

  const auto releases = Events("release");
  ASSERT_EQ(releases.size(), 3u);
  for (const json& r : releases) EXPECT_EQ(r["reason"], "model call failed: HTTP 503");
  const auto backoffs = Events("model_backoff");
  ASSERT_EQ(backoffs.size(), 3u);
  int64_t ceiling = 400'000;
  for (size_t i = 0; i < backoffs.size(); ++i, ceiling *= 2) {
    EXPECT_EQ(backoffs[i]["failures"], i + 1);
    EXPECT_GE(backoffs[i]["delay_us"].get<int64_t>(), ceiling / 2);
    EXPECT_LE(backoffs[i]["delay_us"].get<int64_t>(), ceiling);
  }
  // Heartbeats went on during the backoffs (1.4 s at least, 500 ms beats).
  size_t first_backoff = 0, first_complete = 0, beats = 0;
  for (size_t i = 0; i < probe_.events.size(); ++i) {
    const std::string type = probe_.events[i].value("type", "");
    if (type == "model_backoff" && first_backoff == 0) first_backoff = i;
    if (type == "complete_ok" && first_complete == 0) first_complete = i;
    if (type == "heartbeat" && first_backoff != 0 && first_complete == 0) ++beats;
  }
  EXPECT_GE(beats, 2u);
  EXPECT_EQ(Events("model_call").size(), 8u) << "3 failed + 5 answered";
}

TEST_F(AgentModelTest, AHungCallKeepsHeartbeatingAndRenewingThenGivesTheItemBack) {
  ClusterConfig config;
  config.lease_ms = 600;
  config.heartbeat_ms = 100;
  config.reap_interval_ms = 200;
  config.agent_timeout_ms = 400;
  Reopen(config);
  SubmitItems(2);
  sink_->SetMode(CollectorMode::kBlackhole);
  HealAfterReleases(1);
  model::ModelCaller caller(Settings(/*timeout_ms=*/900), &clock_, &probe_);
  EXPECT_EQ(RunAgent(&caller), kExitOk);
  EXPECT_EQ(Count("ledger"), 2u);

  // Up to the release: the lease was renewed and heartbeats kept flowing.
  size_t renews = 0, beats = 0;
  for (const json& e : probe_.events) {
    const std::string type = e.value("type", "");
    if (type == "release") {
      EXPECT_EQ(e["reason"], "model call failed: no answer within the timeout");
      break;
    }
    renews += type == "renew_ok";
    beats += type == "heartbeat";
  }
  EXPECT_GE(renews, 2u) << "a 900 ms hang outlives a 600 ms lease only by renewing it";
  EXPECT_GE(beats, 8u);
  EXPECT_EQ(Events("lease_expired").size(), 0u);
}

// The swarm binary, on the real clock: the stub blackholes for a while, then
// answers. The agent gives items back and carries on; all the work is done.
TEST_F(ModelTest, SwarmAgentRidesOutABlackholedModel) {
  SubmitItems(10);
  sink_->SetMode(CollectorMode::kBlackhole);
  // Heals once the agent has given up on a held call and come back: a
  // second blackholed request means the first one timed out.
  ::testing::AssertionResult held = ::testing::AssertionSuccess();
  std::thread heal([this, &held] {
    held = faultline::testing::Eventually(
        "the agent's second model call into the blackhole",
        [this] { return sink_->counts().blackholed >= 2; }, 30s);
    sink_->SetMode(CollectorMode::kUp);
  });
  auto ran = faultline::testing::Run(
      {SWARM_BIN, "agent", path_, "--id", "a1", "--exit-when-idle", "--work-ms", "1:5",
       "--model-endpoint", Settings().endpoint, "--model-timeout-ms", "200", "--model-backoff-ms",
       "50:200", "-v"},
      *dir_ / "agent.log", 60s);
  heal.join();
  EXPECT_TRUE(held) << ran.output;
  EXPECT_EQ(ran.exit.code, 0) << ran.output;
  EXPECT_NE(ran.output.find("failed (no answer within the timeout); released it, backing off"),
            std::string::npos)
      << ran.output;
  EXPECT_EQ(Count("ledger"), 10u) << ran.output;
  EXPECT_EQ(Count("claims"), 0u) << ran.output;
}

TEST_F(ModelTest, SwarmAgentRefusesABadEndpoint) {
  auto ran = faultline::testing::Run(
      {SWARM_BIN, "agent", path_, "--model-endpoint", "https://x.invalid", "--exit-when-idle"},
      *dir_ / "agent.log", 60s);
  EXPECT_EQ(ran.exit.code, kExitUsage) << ran.output;
  EXPECT_NE(ran.output.find("--model-endpoint"), std::string::npos) << ran.output;
}

}  // namespace
}  // namespace swarm
