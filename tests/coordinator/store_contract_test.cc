// The Store contract (coordinator/store.h) on every backend: the same test,
// once over a coordination directory and once over a PostgreSQL schema.
// Backend-specific behaviour (files, locks, connections) is tested in
// fs_store_test.cc and pg_store_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "tests/coordinator/backend_fixture.h"

namespace swarm {
namespace {

class ContractTest : public BackendFixture {
 protected:
  std::optional<Grant> HolderPastItsLease(AgentRecord& a1);
};

constexpr int64_t kLeaseUs = 3000 * 1000;  // ClusterConfig{}.lease_ms

TEST_P(ContractTest, ClaimCompleteWritesOneEffectPerItem) {
  SubmitItems(3);
  for (int i = 0; i < 3; ++i) {
    auto out = store_->ClaimNext("a1");
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_TRUE(out->grant.has_value());
    EXPECT_EQ(out->grant->token, 1);
    EXPECT_EQ(out->grant->attempt, 1);
    EXPECT_EQ(out->grant->payload, "p");
    ASSERT_TRUE(store_->Complete(*out->grant, "r").ok());
  }
  auto out = store_->ClaimNext("a1");
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->grant.has_value());
  EXPECT_FALSE(out->work_remaining);
  auto end = store_->EndState();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ((*end)["completed"], true);
  EXPECT_EQ((*end)["ledger"], 3);
  EXPECT_EQ((*end)["locks"], 0);
  ASSERT_EQ((*end)["items"].size(), 3u);
  for (const auto& item : (*end)["items"]) {
    EXPECT_EQ(item["status"], "done");
    EXPECT_EQ(item["effect"], true);
  }
  EXPECT_EQ(probe_.Count("effect"), 3u);
  EXPECT_EQ(probe_.Count("complete_ok"), 3u);
}

TEST_P(ContractTest, AGrantIsExclusiveWhileItsLeaseHolds) {
  SubmitItems(1);
  auto first = store_->ClaimNext("a1");
  ASSERT_TRUE(first.ok() && first->grant);
  FakeClock other_clock(clock_.NowMicros() + kLeaseUs - 1);
  faultline::testing::RecordingProbe other_probe;
  auto other = OpenAnother(&other_clock, &other_probe);
  auto second = other->ClaimNext("a2");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->grant.has_value());
  EXPECT_TRUE(second->work_remaining);
  auto named = other->Claim("w1", "a2");
  EXPECT_EQ(named.status().code(), Status::Code::kConflict) << named.status().ToString();
}

TEST_P(ContractTest, ATakeoverRaisesTheTokenAndFencesTheOldHolder) {
  SubmitItems(1);
  auto first = store_->ClaimNext("a1");
  ASSERT_TRUE(first.ok() && first->grant);
  Grant old = *first->grant;
  clock_.Advance(kLeaseUs + 1);
  auto second = store_->ClaimNext("a2");
  ASSERT_TRUE(second.ok() && second->grant) << second.status().ToString();
  EXPECT_EQ(second->grant->item, "w1");
  EXPECT_GT(second->grant->token, old.token);
  EXPECT_EQ(probe_.Count("takeover"), 1u);
  EXPECT_EQ(store_->Complete(old, "late").code(), Status::Code::kStaleToken);
  EXPECT_EQ(store_->Renew(old).code(), Status::Code::kStaleToken);
  EXPECT_EQ(store_->Release(old, "late").code(), Status::Code::kStaleToken);
  EXPECT_EQ(store_->CheckGrant(old).code(), Status::Code::kStaleToken);
  EXPECT_EQ(Item("w1")["effect"], false);
  ASSERT_TRUE(store_->Complete(*second->grant, "r").ok());
  EXPECT_EQ(Item("w1")["status"], "done");
  EXPECT_EQ(store_->Complete(old, "later").code(), Status::Code::kStaleToken);
  auto end = store_->EndState();
  EXPECT_EQ((*end)["ledger"], 1);
}

TEST_P(ContractTest, RenewExtendsTheLease) {
  SubmitItems(1);
  auto out = store_->ClaimNext("a1");
  ASSERT_TRUE(out.ok() && out->grant);
  Grant g = *out->grant;
  clock_.Advance(kLeaseUs / 2);
  ASSERT_TRUE(store_->Renew(g).ok());
  EXPECT_EQ(g.lease_until_us, clock_.NowMicros() + kLeaseUs);
  clock_.Advance(kLeaseUs / 2 + 1);  // past the first lease, within the renewed one
  auto other = store_->ClaimNext("a2");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->grant.has_value());
  EXPECT_TRUE(store_->Complete(g, "r").ok());
}

TEST_P(ContractTest, ReleasesDoNotCountAgainstMaxAttempts) {
  ClusterConfig c;
  c.max_attempts = 2;
  Reopen(c);
  SubmitItems(1);
  for (int i = 0; i < 5; ++i) {
    auto out = store_->ClaimNext("a1");
    ASSERT_TRUE(out.ok() && out->grant) << i;
    EXPECT_EQ(out->grant->attempt, 1);
    EXPECT_EQ(out->grant->token, i + 1);
    ASSERT_TRUE(store_->Release(*out->grant, "stopping").ok());
  }
  EXPECT_EQ(Item("w1")["status"], "pending");
}

TEST_P(ContractTest, DeadLettersAfterMaxAttemptsWithTheReasonKept) {
  ClusterConfig c;
  c.max_attempts = 2;
  Reopen(c);
  SubmitItems(1);
  for (int i = 0; i < 2; ++i) {
    auto out = store_->ClaimNext("a" + std::to_string(i));
    ASSERT_TRUE(out.ok() && out->grant) << i;
    clock_.Advance(kLeaseUs + 1);
  }
  auto out = store_->ClaimNext("a9");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_FALSE(out->grant.has_value());
  EXPECT_FALSE(out->work_remaining);
  nlohmann::json item = Item("w1");
  EXPECT_EQ(item["status"], "dead");
  EXPECT_NE(item["reason"].get<std::string>().find("2 attempts"), std::string::npos) << item;
  EXPECT_EQ(probe_.Count("dead_letter"), 1u);
}

TEST_P(ContractTest, TheReaperReturnsExpiredClaimsOnly) {
  SubmitItems(2);
  auto a = store_->Claim("w1", "a1");
  ASSERT_TRUE(a.ok());
  clock_.Advance(kLeaseUs + 1);
  auto b = store_->Claim("w2", "a1");
  ASSERT_TRUE(b.ok());
  auto report = store_->Reap({});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->returned, std::vector<std::string>{"w1"});
  EXPECT_EQ(Item("w1")["status"], "pending");
  EXPECT_EQ(Item("w2")["status"], "claimed");
  auto dry = store_->Reap({.dry_run = true});
  ASSERT_TRUE(dry.ok());
  EXPECT_TRUE(dry->returned.empty());
}

TEST_P(ContractTest, TheReaperDeclaresSilentAgentsDeadButNotOnesThatHeartbeated) {
  AgentRecord a1 = AgentFor("a1"), a2 = AgentFor("a2");
  ASSERT_TRUE(store_->Register(a1).ok());
  ASSERT_TRUE(store_->Register(a2).ok());
  clock_.Advance(3000 * 1000 + 1);
  a2.heartbeat_us = clock_.NowMicros();
  ASSERT_TRUE(store_->Heartbeat(a2, nullptr, nullptr).ok());
  auto report = store_->Reap({});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->agents_dead, std::vector<std::string>{"a1"});
  auto snap = store_->Inspect();
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->agents.size(), 2u);
  EXPECT_EQ(snap->agents[0].record.status, AgentStatus::kDead);
  EXPECT_EQ(snap->agents[1].record.status, AgentStatus::kAlive);
  // A heartbeat from the agent declared dead says it is back.
  a1.heartbeat_us = clock_.NowMicros();
  ASSERT_TRUE(store_->Heartbeat(a1, nullptr, nullptr).ok());
  EXPECT_EQ(probe_.Count("agent_back"), 1u);
}

// a1, registered, claimed w1 and stood still past its lease: nobody holds
// the item yet. Returns a1's grant (none if the set-up failed: a test
// failure is recorded then).
std::optional<Grant> ContractTest::HolderPastItsLease(AgentRecord& a1) {
  SubmitItems(1);
  a1 = AgentFor("a1");
  EXPECT_TRUE(store_->Register(a1).ok());
  auto out = store_->ClaimNext("a1");
  if (!out.ok() || !out->grant) {
    ADD_FAILURE() << "a1 could not claim w1";
    return std::nullopt;
  }
  a1.holding = {"w1"};
  clock_.Advance(kLeaseUs + 1);
  return out->grant;
}

TEST_P(ContractTest, AHeartbeatDropsAHoldingThatWasTakenOver) {
  AgentRecord a1;
  std::optional<Grant> held = HolderPastItsLease(a1);
  ASSERT_TRUE(held);
  ASSERT_TRUE(store_->ClaimNext("a2").ok());
  bool lost = false;
  ASSERT_TRUE(store_->Heartbeat(a1, &*held, &lost).ok());
  EXPECT_TRUE(lost);
  EXPECT_TRUE(a1.holding.empty());
  EXPECT_EQ(probe_.Count("holding_lost"), 1u);
}

// A holder that stands still between its heartbeat's check of the item and
// the heartbeat's event (SIGSTOP, a loaded machine) must not trace a
// heartbeat listing an item that another agent took over meanwhile: the
// history would show the takeover first, and state_sync judges the heartbeat
// at its place. Here another process tries the takeover and its completion
// at the heartbeat's last step before the event (the heartbeat.ok probe);
// sharing the probe, both write one history in the order of emission.
TEST_P(ContractTest, NoTakeoverLandsBetweenAHeartbeatsCheckAndItsEvent) {
  AgentRecord a1;
  std::optional<Grant> held = HolderPastItsLease(a1);
  ASSERT_TRUE(held);
  a1.heartbeat_us = clock_.NowMicros();
  auto other = OpenAnother(&clock_, &probe_);
  bool tried = false;
  std::optional<Grant> taken;
  probe_.on_reached = [&](std::string_view name) {
    if (name != "heartbeat.ok" || tried) return;
    tried = true;
    auto claim = other->ClaimNext("a2");
    ASSERT_TRUE(claim.ok()) << claim.status().ToString();
    if (!claim->grant) return;
    taken = claim->grant;
    EXPECT_TRUE(other->Complete(*taken, "r").ok());
  };
  bool lost = false;
  Status beat = store_->Heartbeat(a1, &*held, &lost);
  probe_.on_reached = nullptr;
  ASSERT_TRUE(beat.ok()) << beat.ToString();
  ASSERT_TRUE(tried) << "the heartbeat reached no heartbeat.ok";
  bool claimed_by_other = false;
  int heartbeats = 0;
  for (const auto& e : probe_.events) {
    if (e["type"] == "claim_ok" && e["agent"] == "a2") claimed_by_other = true;
    if (e["type"] != "heartbeat" || e["agent"] != "a1") continue;
    ++heartbeats;
    const auto& holding = e["holding"];
    const bool lists = std::find(holding.begin(), holding.end(), "w1") != holding.end();
    EXPECT_FALSE(claimed_by_other && lists)
        << "a heartbeat of a1 lists w1 after a2 was granted it; history:\n"
        << nlohmann::json(probe_.events).dump(1);
    EXPECT_EQ(lost, !lists);
  }
  EXPECT_EQ(heartbeats, 1);
  // Nothing of the heartbeat is left holding the item: the takeover that
  // could not cut in goes through now.
  if (!taken) {
    auto again = other->ClaimNext("a2");
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    ASSERT_TRUE(again->grant.has_value());
    EXPECT_EQ(again->grant->item, "w1");
  }
}

TEST_P(ContractTest, HaltIsSeenByEveryProcess) {
  auto other = OpenAnother(&clock_, &probe_);
  EXPECT_FALSE(other->Halted());
  ASSERT_TRUE(store_->SetHalted(true).ok());
  EXPECT_TRUE(other->Halted());
  ASSERT_TRUE(store_->SetHalted(false).ok());
  EXPECT_FALSE(other->Halted());
}

TEST_P(ContractTest, SubmitIsIdempotentAndGeneratedIdsPassOverTakenOnes) {
  auto added = store_->Submit({{"w000002", "mine"}, {"x", ""}});
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(*added, 2u);
  EXPECT_EQ(*store_->Submit({{"x", "again"}}), 0u);
  EXPECT_EQ(store_->Submit({{"bad/id", ""}}).status().code(), Status::Code::kInvalidArgument);
  auto ids = store_->SubmitGenerated("w", 3);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  ASSERT_EQ(ids->size(), 3u);
  for (const std::string& id : *ids) EXPECT_NE(id, "w000002");
  auto end = store_->EndState();
  EXPECT_EQ((*end)["items"].size(), 5u);
}

TEST_P(ContractTest, ReconfigureIsSeenByOthersAsANewFingerprint) {
  auto other = OpenAnother(&clock_, &probe_);
  ClusterConfig changed;
  changed.lease_ms = 5000;
  ASSERT_TRUE(store_->Reconfigure(changed).ok());
  auto seen = other->LoadCluster();
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(Fingerprint(*seen), Fingerprint(changed));
}

TEST_P(ContractTest, SkillsDecideWhoIsGranted) {
  ASSERT_TRUE(store_->Submit({{"g1", ""}}, "gpu").ok());
  ASSERT_TRUE(store_->Register(AgentFor("plain")).ok());
  AgentRecord gpu = AgentFor("gpu-agent");
  gpu.skills = {"gpu"};
  ASSERT_TRUE(store_->Register(gpu).ok());
  auto plain = store_->ClaimNext("plain");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->grant.has_value());
  EXPECT_FALSE(plain->work_remaining);
  EXPECT_EQ(store_->Claim("g1", "plain").status().code(), Status::Code::kConflict);
  auto skilled = store_->ClaimNext("gpu-agent");
  ASSERT_TRUE(skilled.ok() && skilled->grant);
  EXPECT_EQ(skilled->grant->item, "g1");
}

TEST_P(ContractTest, InspectCountsEverything) {
  SubmitItems(4);
  ASSERT_TRUE(store_->Register(AgentFor("a1")).ok());
  auto done = store_->Claim("w1", "a1");
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(store_->Complete(*done, "r").ok());
  ASSERT_TRUE(store_->Claim("w2", "a1").ok());
  auto snap = store_->Inspect();
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ(snap->pending, 2u);
  EXPECT_EQ(snap->claimed, 1u);
  EXPECT_EQ(snap->done, 1u);
  EXPECT_EQ(snap->ledger_effects, 1u);
  ASSERT_EQ(snap->claims.size(), 1u);
  EXPECT_EQ(snap->claims[0].item, "w2");
  EXPECT_EQ(snap->claims[0].owner, "a1");
  EXPECT_EQ(snap->agents.size(), 1u);
  clock_.Advance(kLeaseUs + 1);
  snap = store_->Inspect();
  EXPECT_EQ(snap->expired_claims, std::vector<std::string>{"w2"});
}

INSTANTIATE_TEST_SUITE_P(Backends, ContractTest,
                         ::testing::Values(BackendKind::kFs, BackendKind::kPostgres), BackendName);

}  // namespace
}  // namespace swarm
