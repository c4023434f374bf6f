#include "coordinator/agent.h"

#include <gtest/gtest.h>

#include "coordinator/exit_codes.h"
#include "sim/protocol/control_protocol.h"
#include "tests/coordinator/store_fixture.h"

namespace swarm {
namespace {

// A Store that forwards to the real one but fails chosen calls with an I/O
// error, as a full descriptor table or a failing disk would.
class FlakyStore final : public Store {
 public:
  explicit FlakyStore(Store* real) : real_(real) {}
  bool fail_renew = false;
  bool fail_cluster_reads = false;  // after the first (registration) read
  bool fail_complete = false;
  // Once a completion has failed, heartbeats that name the held item say it
  // is lost (someone else holds it now).
  bool lose_after_failed_complete = false;
  std::atomic<bool>* stop_after_many_completes = nullptr;
  int renews = 0;
  int completes = 0;

  Result<ClusterConfig> LoadCluster() override {
    if (fail_cluster_reads && cluster_reads_++ > 0) {
      return Status::IOError("open cluster.json: Too many open files");
    }
    return real_->LoadCluster();
  }
  bool Halted() override { return real_->Halted(); }
  Status SetHalted(bool h) override { return real_->SetHalted(h); }
  Result<size_t> Submit(const std::vector<std::pair<std::string, std::string>>& i,
                        std::string_view skill) override {
    return real_->Submit(i, skill);
  }
  Result<std::vector<std::string>> SubmitGenerated(std::string_view prefix, int64_t count,
                                                   std::string_view skill) override {
    return real_->SubmitGenerated(prefix, count, skill);
  }
  Status Register(const AgentRecord& a) override { return real_->Register(a); }
  Status Heartbeat(AgentRecord& a, const Grant* held, bool* lost) override {
    Status s = real_->Heartbeat(a, held, lost);
    if (held != nullptr && lose_after_failed_complete && completes > 0) *lost = true;
    return s;
  }
  Status MarkAgent(const AgentRecord& a) override { return real_->MarkAgent(a); }
  Result<ClaimOutcome> ClaimNext(const std::string& a) override { return real_->ClaimNext(a); }
  Result<Grant> Claim(const std::string& i, const std::string& a) override {
    return real_->Claim(i, a);
  }
  Status CheckGrant(const Grant& g) override { return real_->CheckGrant(g); }
  Status Renew(Grant& g) override {
    ++renews;
    if (fail_renew) return Status::IOError("create temp file x: Too many open files");
    return real_->Renew(g);
  }
  Status Complete(const Grant& g, std::string_view r) override {
    ++completes;
    // A bound for the test, not the agent: without it a retry loop that
    // never gives up would spin forever on the fake clock.
    if (stop_after_many_completes != nullptr && completes >= 1000) *stop_after_many_completes = true;
    if (fail_complete) return Status::IOError("link ledger/w1: Input/output error");
    return real_->Complete(g, r);
  }
  Status Release(const Grant& g, std::string_view r) override { return real_->Release(g, r); }
  Result<ReapReport> Reap(const ReapOptions& o) override { return real_->Reap(o); }
  Result<Snapshot> Inspect() override { return real_->Inspect(); }
  Status Reconfigure(const ClusterConfig& c) override { return real_->Reconfigure(c); }
  Result<nlohmann::json> EndState() override { return real_->EndState(); }

 private:
  Store* real_;
  int cluster_reads_ = 0;
};

class AgentTest : public StoreFixture {
 protected:
  int RunAgent(AgentOptions options) {
    Agent agent(store_.get(), &clock_, &probe_, std::move(options), &stop_);
    return agent.Run();
  }
  AgentOptions Options(const std::string& id) {
    AgentOptions o;
    o.id = id;
    o.exit_when_idle = true;
    o.work_min_ms = 10;
    o.work_max_ms = 50;
    return o;
  }
  std::atomic<bool> stop_{false};
};

TEST_F(AgentTest, DoesAllTheWorkOnceAndExitsWhenIdle) {
  SubmitItems(20);
  EXPECT_EQ(RunAgent(Options("a1")), kExitOk);
  EXPECT_EQ(Count("ledger"), 20u);
  EXPECT_EQ(probe_.Count("claim_ok"), 20u);
  EXPECT_EQ(probe_.Count("complete_ok"), 20u);
  EXPECT_EQ(Count("locks"), 0u);
  EXPECT_EQ(Count("claims"), 0u);
  auto snap = store_->Inspect();
  ASSERT_EQ(snap->agents.size(), 1u);
  EXPECT_EQ(snap->agents[0].record.status, AgentStatus::kStopped);
  EXPECT_GT(probe_.Count("heartbeat"), 0u) << "20 items of 10-50 ms span heartbeats";
}

TEST_F(AgentTest, RenewsLongWorkSoTheLeaseNeverLapses) {
  SubmitItems(1);
  AgentOptions o = Options("a1");
  o.work_min_ms = o.work_max_ms = 10'000;  // > 3 lease periods
  EXPECT_EQ(RunAgent(o), kExitOk);
  EXPECT_GE(probe_.Count("renew_ok"), 3u);
  EXPECT_EQ(Item("w1").status, ItemStatus::kDone);
  EXPECT_EQ(Item("w1").token, 1);
}

TEST_F(AgentTest, AFailingRenewBacksOffInsteadOfSpinning) {
  // Regression: a renew failing with a storage error was retried at once,
  // forever, without the clock moving (a lockstep livelock).
  SubmitItems(1);
  FlakyStore flaky(store_.get());
  flaky.fail_renew = true;
  AgentOptions o = Options("a1");
  o.work_min_ms = o.work_max_ms = 10'000;
  Agent agent(&flaky, &clock_, &probe_, o, &stop_);
  EXPECT_EQ(agent.Run(), kExitOk);
  EXPECT_LT(flaky.renews, 200) << "renew retried without backing off";
  EXPECT_EQ(probe_.Count("storage_error"), 1u) << "one event per distinct problem";
}

TEST_F(AgentTest, ACompletionRetryEndsOnceTheHeartbeatSaysTheItemIsLost) {
  // Regression: Complete failing with a storage error was retried even after
  // a heartbeat had found the item held by someone else.
  SubmitItems(1);
  FlakyStore flaky(store_.get());
  flaky.fail_complete = true;
  flaky.lose_after_failed_complete = true;
  flaky.stop_after_many_completes = &stop_;
  Agent agent(&flaky, &clock_, &probe_, Options("a1"), &stop_);
  agent.Run();
  EXPECT_FALSE(stop_.load()) << "still completing after 1000 tries";
  EXPECT_LT(flaky.completes, 50) << "retried after the item was lost";
}

TEST_F(AgentTest, AnUnreadableClusterFileIsAStorageErrorNotDrift) {
  // Regression: EMFILE while reading cluster.json at a heartbeat made the
  // agent exit 78 as if the configuration had changed.
  SubmitItems(20);
  FlakyStore flaky(store_.get());
  flaky.fail_cluster_reads = true;
  Agent agent(&flaky, &clock_, &probe_, Options("a1"), &stop_);
  EXPECT_EQ(agent.Run(), kExitOk);
  EXPECT_EQ(probe_.Count("drift_seen"), 0u);
  EXPECT_EQ(Count("ledger"), 20u);
}

TEST_F(AgentTest, MismatchedConfigIsRefusedWithExit78AndNeverClaims) {
  SubmitItems(3);
  AgentOptions o = Options("drifted");
  ClusterConfig mine;
  mine.lease_ms = 60'000;
  o.config = mine;
  EXPECT_EQ(RunAgent(o), kExitConfig);
  EXPECT_EQ(probe_.Count("claim_ok"), 0u);
  EXPECT_EQ(probe_.Count("refused"), 1u);
  auto snap = store_->Inspect();
  EXPECT_EQ(snap->pending, 3u);
  ASSERT_EQ(snap->agents.size(), 1u);
  EXPECT_EQ(snap->agents[0].record.status, AgentStatus::kRefused);
  EXPECT_NE(snap->agents[0].record.reason.find("lease_ms 60000 vs 3000"), std::string::npos)
      << snap->agents[0].record.reason;
}

TEST_F(AgentTest, DriftMidRunStopsClaimingAndGivesTheItemBack) {
  SubmitItems(50);
  std::string cluster = path_ + "/cluster.json";
  bool changed = false;
  probe_.on_yield = [&](std::string_view point, std::string_view) {
    if (!changed && point == faultline::protocol::point::kClaimStateWritten) {
      changed = true;
      ClusterConfig c;
      c.heartbeat_ms = 250;
      nlohmann::json j = {{"format", "swarm-coordination-dir"}, {"config", ToJson(c)},
                          {"fingerprint", Fingerprint(c)}};
      ASSERT_TRUE(fs::WriteAtomic(path_ + "/tmp", cluster, j.dump()).ok());
    }
  };
  AgentOptions o = Options("a1");
  o.work_min_ms = o.work_max_ms = 2000;  // the heartbeat comes while working
  EXPECT_EQ(RunAgent(o), kExitConfig);
  EXPECT_EQ(probe_.Count("drift_seen"), 1u);
  EXPECT_EQ(probe_.Count("claim_ok"), 1u);
  EXPECT_EQ(probe_.Count("release"), 1u);
  EXPECT_EQ(Count("ledger"), 0u);
  auto snap = store_->Inspect();
  EXPECT_EQ(snap->pending, 50u);
}

TEST_F(AgentTest, HaltStopsClaiming) {
  SubmitItems(5);
  ASSERT_TRUE(store_->SetHalted(true).ok());
  EXPECT_EQ(RunAgent(Options("a1")), kExitOk);
  EXPECT_EQ(probe_.Count("claim_ok"), 0u);
  EXPECT_EQ(probe_.Count("halt_seen"), 1u);
  ASSERT_TRUE(store_->SetHalted(false).ok());
  EXPECT_EQ(RunAgent(Options("a1")), kExitOk);
  EXPECT_EQ(Count("ledger"), 5u);
}

TEST_F(AgentTest, StopFlagReleasesTheCurrentItem) {
  SubmitItems(2);
  probe_.on_yield = [&](std::string_view point, std::string_view) {
    if (point == faultline::protocol::point::kClaimStateWritten) stop_.store(true);
  };
  AgentOptions o = Options("a1");
  o.exit_when_idle = false;
  EXPECT_EQ(RunAgent(o), kExitOk);
  EXPECT_EQ(probe_.Count("release"), 1u);
  EXPECT_EQ(store_->Inspect()->pending, 2u);
}

TEST_F(AgentTest, WorkTimesAreDeterministicPerSeedAndId) {
  AgentOptions o = Options("a1");
  o.seed = 7;
  auto run = [&] {
    Reopen(ClusterConfig{});
    SubmitItems(10);
    probe_.yields.clear();
    int64_t start = clock_.NowMicros();
    EXPECT_EQ(RunAgent(o), kExitOk);
    return std::make_pair(clock_.NowMicros() - start, probe_.yields);
  };
  auto first = run();
  auto second = run();
  EXPECT_EQ(first, second);
  o.seed = 8;
  EXPECT_NE(run().first, first.first) << "another seed draws other work times";
}

}  // namespace
}  // namespace swarm
