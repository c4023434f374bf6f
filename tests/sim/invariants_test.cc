// The core invariant checkers over hand-built histories: for each, a history
// that holds and histories that violate it, with the evidence they must name.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sim/invariants/bounded_locks.h"
#include "sim/invariants/eventual_lock_release.h"
#include "sim/invariants/exactly_once_effect.h"
#include "sim/invariants/no_lost_work.h"
#include "sim/invariants/progress.h"
#include "sim/invariants/registry.h"
#include "sim/invariants/single_owner.h"

namespace faultline {
namespace {

using nlohmann::json;
using Evidence = std::vector<uint64_t>;

constexpr int64_t kMs = 1000;  // µs per ms

// One trace line: seq, run time t (ms), type, plus `extra` fields.
json Ev(uint64_t seq, int64_t t_ms, const char* type, json extra = json::object()) {
  json line = {{"seq", seq}, {"t", t_ms * kMs}, {"proc", "sim"}, {"type", type}};
  line.update(extra);
  return line;
}

// A claim_ok at process time now_ms (also its run time) with a lease until until_ms.
json Claim(uint64_t seq, const char* item, const char* agent, int64_t token, int64_t now_ms,
           int64_t until_ms) {
  return Ev(seq, now_ms, "claim_ok",
            {{"proc", agent}, {"item", item}, {"agent", agent}, {"token", token},
             {"now_us", now_ms * kMs}, {"lease_until_us", until_ms * kMs}, {"attempt", token}});
}

json Op(uint64_t seq, int64_t t_ms, const char* type, const char* item, const char* agent,
        int64_t token, json extra = json::object()) {
  json line = Ev(seq, t_ms, type, {{"proc", agent}, {"item", item}, {"agent", agent},
                                   {"token", token}, {"now_us", t_ms * kMs}});
  line.update(extra);
  return line;
}

json RunStart(const char* mode, int64_t lease_ms = 3000, int64_t reap_ms = 1000,
              int items = 0) {
  return Ev(0, 0, "run_start",
            {{"scenario", "test"}, {"seed", 1}, {"mode", mode}, {"lease_ms", lease_ms},
             {"heartbeat_ms", 500}, {"reap_interval_ms", reap_ms}, {"agent_timeout_ms", 3000},
             {"max_attempts", 5}, {"agents", 2}, {"items", items}});
}

json Item(const char* id, const char* status, const char* reason = "", bool effect = false) {
  return {{"id", id}, {"status", status}, {"reason", reason}, {"effect", effect}};
}

json RunEnd(uint64_t seq, int64_t t_ms, json items, int64_t ledger = 0, bool completed = true,
            int64_t locks = 0, const char* deadlock = "") {
  return Ev(seq, t_ms, "run_end",
            {{"completed", completed}, {"locks", locks}, {"ledger", ledger},
             {"items", std::move(items)}, {"deadlock", deadlock}});
}

template <typename Checker>
std::vector<Violation> Check(const std::vector<json>& lines) {
  Checker checker;
  uint64_t previous = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    TraceEvent e = TraceEvent::FromJson(lines[i]);
    if (i > 0) {
      EXPECT_GT(e.seq, previous) << "test history out of order at line " << i;
    }
    previous = e.seq;
    checker.Observe(e);
  }
  std::vector<Violation> out;
  checker.Finish(&out);
  for (const Violation& v : out) EXPECT_EQ(v.invariant, Checker::kName);
  return out;
}

std::string Messages(const std::vector<Violation>& vs) {
  std::string all;
  for (const Violation& v : vs) all += v.invariant + ": " + v.message + "\n";
  return all;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---------------------------------------------------------------------------
// single_owner

TEST(SingleOwnerTest, SequentialGrantsHold) {
  auto v = Check<SingleOwner>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Op(2, 1500, "renew_ok", "w1", "a1", 1, {{"lease_until_us", 4500 * kMs}}),
      Op(3, 2000, "complete_ok", "w1", "a1", 1),
      Claim(4, "w2", "a2", 1, 2000, 5000),
      Op(5, 2500, "release", "w2", "a2", 1, {{"reason", "sigterm"}}),
      Claim(6, "w2", "a1", 2, 2600, 5600),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(SingleOwnerTest, TakeoverAfterExpiryIsFine) {
  auto v = Check<SingleOwner>({
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Ev(2, 4000, "takeover",
         {{"item", "w1"}, {"agent", "a2"}, {"owner", "a1"}, {"token", 1},
          {"lease_until_us", 4000 * kMs}}),
      Claim(3, "w1", "a2", 2, 4000, 7000),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(SingleOwnerTest, ClaimWhileAnotherGrantIsValidIsAViolation) {
  auto v = Check<SingleOwner>({
      Claim(1, "w000007", "a1", 2, 1000, 2000),
      Claim(2, "w000007", "a2", 3, 1250, 4250),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2}));
  EXPECT_EQ(v[0].message,
            "w000007: a2 was granted token 3 at 1.250 s while a1's grant (token 2) was valid "
            "until 2.000 s");
}

TEST(SingleOwnerTest, RenewExtendsValidity) {
  std::vector<json> history = {
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Op(2, 3000, "renew_ok", "w1", "a1", 1, {{"lease_until_us", 6000 * kMs}}),
      Claim(3, "w1", "a2", 2, 5000, 8000),  // after the first deadline, before the renewed one
  };
  auto v = Check<SingleOwner>(history);
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 3}));
  EXPECT_TRUE(Contains(v[0].message, "valid until 6.000 s (renewed at seq 2)")) << v[0].message;

  history.erase(history.begin() + 1);  // without the renewal the lease had run out
  EXPECT_TRUE(Check<SingleOwner>(history).empty());
}

TEST(SingleOwnerTest, RenewWithAnotherTokenDoesNotExtend) {
  auto v = Check<SingleOwner>({
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Op(2, 3000, "renew_ok", "w1", "a1", 7, {{"lease_until_us", 6000 * kMs}}),
      Claim(3, "w1", "a2", 2, 5000, 8000),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(SingleOwnerTest, CompleteEndsTheGrantEarly) {
  auto v = Check<SingleOwner>({
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Op(2, 2000, "complete_ok", "w1", "a1", 1),
      Claim(3, "w1", "a2", 2, 2001, 5001),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(SingleOwnerTest, CompleteWithAnotherTokenDoesNotEndTheGrant) {
  auto v = Check<SingleOwner>({
      Claim(1, "w1", "a1", 2, 1000, 4000),
      Op(2, 2000, "complete_ok", "w1", "a1", 1),
      Claim(3, "w1", "a2", 3, 2001, 5001),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 3}));
}

TEST(SingleOwnerTest, ReleaseAndReaperExpiryEndTheGrant) {
  auto v = Check<SingleOwner>({
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Op(2, 1500, "release", "w1", "a1", 1, {{"reason", "drift"}}),
      Claim(3, "w1", "a2", 2, 1600, 4600),
      Ev(4, 1700, "lease_expired", {{"item", "w1"}, {"by", "reaper"}, {"owner", "a2"},
                                    {"token", 2}}),
      Claim(5, "w1", "a1", 3, 1800, 4800),
      Ev(6, 1900, "dead_letter", {{"item", "w1"}, {"by", "reaper"}, {"reason", "r"}}),
      Claim(7, "w1", "a2", 4, 2000, 5000),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(SingleOwnerTest, TokensMustStrictlyIncrease) {
  auto v = Check<SingleOwner>({
      Claim(1, "w1", "a1", 2, 1000, 2000),
      Claim(2, "w1", "a2", 2, 3000, 6000),  // after expiry, but the token did not grow
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2}));
  EXPECT_TRUE(Contains(v[0].message, "token 2, not above the previous grant's token 2"))
      << v[0].message;
}

TEST(SingleOwnerTest, SameAgentReclaimIsNotAnOverlap) {
  auto v = Check<SingleOwner>({
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Claim(2, "w1", "a1", 2, 2000, 5000),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(SingleOwnerTest, ClaimWithoutNowIsDatedFromTheLease) {
  json first = Claim(1, "w1", "a1", 1, 1000, 4000);
  json second = Claim(2, "w1", "a2", 2, 2000, 5000);
  first.erase("now_us");
  second.erase("now_us");
  auto v = Check<SingleOwner>({RunStart("freerun"), first, second});
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2}));
  EXPECT_TRUE(Contains(v[0].message, "at 2.000 s")) << v[0].message;
}

TEST(SingleOwnerTest, MessageTimesReadAsRunTime) {
  // The clock runs 1 s ahead of run time (the lockstep epoch).
  json first = Claim(1, "w1", "a1", 1, 100, 3100);
  json second = Claim(2, "w1", "a2", 2, 600, 3600);
  for (json* claim : {&first, &second}) {
    (*claim)["now_us"] = claim->at("now_us").get<int64_t>() + 1000 * kMs;
    (*claim)["lease_until_us"] = claim->at("lease_until_us").get<int64_t>() + 1000 * kMs;
  }
  auto v = Check<SingleOwner>({first, second});
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "at 0.600 s while a1's grant (token 1) was valid until "
                                     "3.100 s"))
      << v[0].message;
}

TEST(SingleOwnerTest, ViolationsAreCapped) {
  std::vector<json> history;
  uint64_t seq = 1;
  for (int i = 0; i < 30; ++i) {
    history.push_back(Claim(seq++, "w1", "a1", 2 * i + 1, 1000, 9000));
    history.push_back(Claim(seq++, "w1", "a2", 2 * i + 2, 1000, 9000));
  }
  auto v = Check<SingleOwner>(history);
  // 59 overlaps (every claim but the first overlaps its predecessor).
  ASSERT_EQ(v.size(), 21u);
  EXPECT_EQ(v.back().message, "39 more violations not listed (59 in all)");
}

// ---------------------------------------------------------------------------
// exactly_once_effect

TEST(ExactlyOnceEffectTest, OneEffectPerDoneItemHolds) {
  auto v = Check<ExactlyOnceEffect>({
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Op(2, 1100, "effect", "w1", "a1", 1),
      Op(3, 1200, "complete_ok", "w1", "a1", 1),
      Claim(4, "w2", "a2", 1, 1000, 4000),
      Op(5, 1300, "complete_rejected", "w2", "a1", 0,
         {{"current_token", 1}, {"status", "claimed"}}),
      Op(6, 1400, "effect", "w2", "a2", 1),
      Op(7, 1500, "complete_ok", "w2", "a2", 1),
      RunEnd(8, 2000, {Item("w1", "done", "", true), Item("w2", "done", "", true)}, 2),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(ExactlyOnceEffectTest, EffectPresentIsNotASecondEffect) {
  // a1 wrote the effect and died before marking the item done; a2 took over,
  // found the ledger entry and kept it.
  auto v = Check<ExactlyOnceEffect>({
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Op(2, 1100, "effect", "w1", "a1", 1),
      Ev(3, 1200, "exit", {{"agent", "a1"}, {"signal", 9}}),
      Claim(4, "w1", "a2", 2, 4000, 7000),
      Op(5, 4100, "effect_present", "w1", "a2", 2, {{"effect_token", 1}}),
      Op(6, 4200, "complete_ok", "w1", "a2", 2),
      RunEnd(7, 5000, {Item("w1", "done", "", true)}, 1),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(ExactlyOnceEffectTest, SecondEffectIsAViolation) {
  auto v = Check<ExactlyOnceEffect>({
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Op(2, 1100, "effect", "w1", "a1", 1),
      Claim(3, "w1", "a2", 2, 4000, 7000),
      Op(4, 4100, "effect", "w1", "a2", 2),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{2, 4}));
  EXPECT_TRUE(Contains(v[0].message, "w1: a second effect was accepted, from a2 with token 2; "
                                     "the first was from a1 with token 1"))
      << v[0].message;
}

TEST(ExactlyOnceEffectTest, StaleTokenAcceptedIsAViolation) {
  auto v = Check<ExactlyOnceEffect>({
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Claim(2, "w1", "a2", 2, 4000, 7000),
      Op(3, 4100, "effect", "w1", "a1", 1),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{2, 3}));
  EXPECT_TRUE(Contains(v[0].message, "stale token accepted: an effect from a1 with token 1 while "
                                     "the latest grant was token 2 to a2"))
      << v[0].message;
}

TEST(ExactlyOnceEffectTest, EffectWithoutAnyGrantIsAViolation) {
  auto v = Check<ExactlyOnceEffect>({Op(1, 100, "effect", "w9", "a1", 1)});
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1}));
  EXPECT_TRUE(Contains(v[0].message, "never granted")) << v[0].message;
}

TEST(ExactlyOnceEffectTest, LedgerCountMustMatchTheEffects) {
  auto v = Check<ExactlyOnceEffect>({
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Op(2, 1100, "effect", "w1", "a1", 1),
      Op(3, 1200, "complete_ok", "w1", "a1", 1),
      RunEnd(4, 2000, {Item("w1", "done", "", true), Item("w2", "dead", "r", true)}, 2),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{4}));
  EXPECT_EQ(v[0].message,
            "the ledger holds 2 effects but the trace shows effects for 1 item: w2 (in the "
            "ledger, no effect event)");
}

TEST(ExactlyOnceEffectTest, DoneWithoutEffectIsAViolation) {
  auto v = Check<ExactlyOnceEffect>({
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Op(2, 1200, "complete_ok", "w1", "a1", 1),
      RunEnd(3, 2000, {Item("w1", "done")}, 0),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 3}));
  EXPECT_TRUE(Contains(v[0].message, "w1: done at the end of the run without an effect"));
}

// ---------------------------------------------------------------------------
// no_lost_work

TEST(NoLostWorkTest, DoneDeadAndQuarantinedWithReasonsHold) {
  auto v = Check<NoLostWork>({
      RunStart("lockstep", 3000, 1000, 3),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Claim(2, "w2", "a1", 1, 1000, 4000),
      RunEnd(3, 9000,
             {Item("w1", "done"), Item("w2", "dead", "lease of a1 (token 5) expired"),
              Item("w3", "quarantined", "items/w3.json: not JSON")}),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(NoLostWorkTest, UnfinishedItemsAreListed) {
  auto v = Check<NoLostWork>({
      RunEnd(1, 9000,
             {Item("w1", "done"), Item("w2", "pending"), Item("w3", "claimed"),
              Item("w4", "dead"), json{{"id", "w5"}}}),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1}));
  EXPECT_EQ(v[0].message,
            "4 items are not done, dead or quarantined with a reason at the end: w2 (pending), "
            "w3 (claimed), w4 (dead without a reason), w5 (no status)");
}

TEST(NoLostWorkTest, ListsAtMostTenItemsAndTheTotal) {
  json items = json::array();
  for (int i = 0; i < 25; ++i) items.push_back(Item(("w" + std::to_string(i)).c_str(), "pending"));
  auto v = Check<NoLostWork>({RunEnd(1, 9000, items)});
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "25 items are not done")) << v[0].message;
  EXPECT_TRUE(Contains(v[0].message, "w9 (pending) and 15 more")) << v[0].message;
  EXPECT_FALSE(Contains(v[0].message, "w10 ")) << v[0].message;
}

TEST(NoLostWorkTest, GrantedItemMissingFromTheEndIsAViolation) {
  auto v = Check<NoLostWork>({
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Claim(2, "w7", "a2", 1, 1000, 4000),
      Claim(3, "w7", "a1", 2, 5000, 8000),
      RunEnd(4, 9000, {Item("w1", "done")}),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{2, 4}));
  EXPECT_EQ(v[0].message, "1 item granted during the run missing from run_end: w7");
}

TEST(NoLostWorkTest, FewerItemsThanSubmittedIsAViolation) {
  auto v = Check<NoLostWork>({RunStart("lockstep", 3000, 1000, 3),
                              RunEnd(1, 9000, {Item("w1", "done"), Item("w2", "done")})});
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].message, "3 items were submitted but run_end accounts for only 2");
}

// ---------------------------------------------------------------------------
// eventual_lock_release
//
// lease 3000 ms + reap 1000 ms: in lockstep the deadline is death + 4 s; in
// freerun + 2 * 1000 + 1000 ms slack, death + 7 s.

json Kill(uint64_t seq, int64_t t_ms, const char* agent) {
  return Ev(seq, t_ms, "exit", {{"agent", agent}, {"signal", 9}});
}

json Expired(uint64_t seq, int64_t t_ms, const char* item, const char* owner, int64_t token) {
  return Ev(seq, t_ms, "lease_expired",
            {{"proc", "reaper"}, {"item", item}, {"by", "reaper"}, {"owner", owner},
             {"token", token}});
}

TEST(EventualLockReleaseTest, KilledHolderFreedInTimeHolds) {
  auto v = Check<EventualLockRelease>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Claim(2, "w2", "a1", 1, 1500, 4500),
      Kill(3, 2000, "a1"),
      Expired(4, 5000, "w1", "a1", 1),
      Ev(5, 6000, "takeover", {{"item", "w2"}, {"agent", "a2"}, {"owner", "a1"}, {"token", 1}}),
      Claim(6, "w2", "a2", 2, 6000, 9000),
      RunEnd(7, 20000, json::array()),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(EventualLockReleaseTest, FreedTooLateIsAViolation) {
  auto v = Check<EventualLockRelease>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Kill(2, 2000, "a1"),
      Expired(3, 6500, "w1", "a1", 1),  // deadline 6.000 s
      RunEnd(4, 20000, json::array()),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2, 3}));
  EXPECT_EQ(v[0].message,
            "w1: a1 was killed (signal 9) at 2.000 s holding token 1; the item was freed only at "
            "6.500 s by lease_expired, after the deadline 6.000 s (lease 3000 ms + reap interval "
            "1000 ms + slack 0 ms)");
}

TEST(EventualLockReleaseTest, NeverFreedIsAViolation) {
  auto v = Check<EventualLockRelease>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Kill(2, 2000, "a1"),
      RunEnd(3, 20000, json::array()),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2}));
  EXPECT_TRUE(Contains(v[0].message, "still not freed at the end (20.000 s), past the deadline "
                                     "6.000 s"))
      << v[0].message;
}

TEST(EventualLockReleaseTest, RunEndingBeforeTheDeadlineIsFine) {
  auto v = Check<EventualLockRelease>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Kill(2, 2000, "a1"),
      RunEnd(3, 5999, json::array()),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(EventualLockReleaseTest, FreerunAllowsSlack) {
  std::vector<json> history = {
      RunStart("freerun"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Kill(2, 2000, "a1"),
      Expired(3, 8500, "w1", "a1", 1),  // within death + 7 s, past death + 4 s
      RunEnd(4, 20000, json::array()),
  };
  EXPECT_TRUE(Check<EventualLockRelease>(history).empty());
  history[0] = RunStart("lockstep");
  EXPECT_EQ(Check<EventualLockRelease>(history).size(), 1u);
  history[0] = RunStart("freerun");
  history[3] = Expired(3, 9500, "w1", "a1", 1);
  auto v = Check<EventualLockRelease>(history);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(Contains(v[0].message, "slack 3000 ms")) << v[0].message;
}

TEST(EventualLockReleaseTest, ClaimByAnotherAgentFreesTheItem) {
  auto v = Check<EventualLockRelease>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Kill(2, 2000, "a1"),
      Claim(3, "w1", "a2", 2, 4000, 7000),
      RunEnd(4, 20000, json::array()),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(EventualLockReleaseTest, GrantsEndedBeforeTheKillOweNothing) {
  auto v = Check<EventualLockRelease>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Op(2, 1500, "complete_ok", "w1", "a1", 1),
      Claim(3, "w2", "a1", 1, 1600, 4600),
      Op(4, 1700, "release", "w2", "a1", 1, {{"reason", "drift"}}),
      Claim(5, "w3", "a1", 1, 1800, 4800),
      Expired(6, 4800, "w3", "a1", 1),
      Claim(7, "w3", "a2", 2, 4900, 7900),  // a2 holds w3 now, not a1
      Kill(8, 5000, "a1"),
      Ev(9, 5000, "exit", {{"agent", "a2"}, {"code", 0}}),  // an exit, not a kill
      RunEnd(10, 60000, json::array()),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(EventualLockReleaseTest, RestartedAgentStartsWithNewGrants) {
  auto v = Check<EventualLockRelease>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Kill(2, 2000, "a1"),
      Ev(3, 2100, "spawn", {{"agent", "a1"}, {"pid", 4242}, {"role", "agent"}, {"restart", true}}),
      Ev(4, 4000, "takeover", {{"item", "w1"}, {"agent", "a1"}, {"owner", "a1"}, {"token", 1}}),
      Claim(5, "w1", "a1", 2, 4000, 7000),
      Claim(6, "w2", "a1", 1, 4100, 7100),
      Kill(7, 30000, "a1"),  // the second death charges w1 (token 2) and w2, freed in time
      Expired(8, 31000, "w1", "a1", 2),
      Expired(9, 32000, "w2", "a1", 1),
      RunEnd(10, 60000, json::array()),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(EventualLockReleaseTest, LongStallMustBeFreedShortStallNeedNot) {
  json stall_long = Ev(2, 2000, "fault",
                       {{"kind", "stall_agent"}, {"index", 0}, {"agent", "a1"},
                        {"until_us", 30000 * kMs}});
  json stall_short = Ev(2, 2000, "fault",
                        {{"kind", "stall_agent"}, {"index", 0}, {"agent", "a1"},
                         {"until_us", 3000 * kMs}});
  auto v = Check<EventualLockRelease>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      stall_long,
      RunEnd(3, 40000, json::array()),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2}));
  EXPECT_TRUE(Contains(v[0].message, "a1 was stalled at 2.000 s until 30.000 s holding token 1"))
      << v[0].message;

  // The stalled agent wakes up in time, renews and keeps working.
  v = Check<EventualLockRelease>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      stall_short,
      Op(3, 3100, "renew_ok", "w1", "a1", 1, {{"lease_until_us", 6100 * kMs}}),
      Op(4, 9000, "complete_ok", "w1", "a1", 1),
      RunEnd(5, 40000, json::array()),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(EventualLockReleaseTest, LocksLeftAtTheEndAreAViolation) {
  auto v = Check<EventualLockRelease>({RunStart("lockstep"),
                                       RunEnd(1, 9000, json::array(), 0, true, /*locks=*/2)});
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1}));
  EXPECT_EQ(v[0].message, "2 lock files were left at the end of the run");
}

// ---------------------------------------------------------------------------
// bounded_locks

json Snapshot(uint64_t seq, int64_t t_ms, int locks, int temps, int claims, int procs) {
  return Ev(seq, t_ms, "snapshot",
            {{"locks", locks}, {"temps", temps}, {"claims", claims}, {"live_procs", procs}});
}

TEST(BoundedLocksTest, AtTheBoundHolds) {
  auto v = Check<BoundedLocks>({
      Snapshot(1, 100, 0, 0, 0, 0),
      Snapshot(2, 200, 9, 3, 3, 5),  // 12 <= 3 + 5 + 4
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(BoundedLocksTest, ReportsTheFirstViolationAndACount) {
  auto v = Check<BoundedLocks>({
      Snapshot(1, 100, 2, 0, 1, 5),
      Snapshot(2, 200, 11, 2, 3, 5),   // 13 > 12
      Snapshot(3, 300, 40, 0, 3, 5),   // worst: by 28
      Snapshot(4, 400, 20, 0, 3, 5),
  });
  ASSERT_EQ(v.size(), 2u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{2}));
  EXPECT_EQ(v[0].message,
            "snapshot at 0.200 s (seq 2): 11 locks + 2 temps = 13 exceeds 3 claims + 5 live "
            "processes + 4");
  EXPECT_EQ(v[1].evidence, (Evidence{3}));
  EXPECT_EQ(v[1].message, "3 snapshots in all exceeded the bound; the worst by 28 files (seq 3)");
}

// ---------------------------------------------------------------------------
// progress

TEST(ProgressTest, CompletedRunHolds) {
  auto v = Check<Progress>({RunStart("lockstep"), RunEnd(1, 9000, {Item("w1", "done")})});
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(ProgressTest, UnfinishedRunSaysHowManyItemsAreLeft) {
  auto v = Check<Progress>({
      RunStart("freerun"),
      RunEnd(1, 60000, {Item("w1", "done"), Item("w2", "pending"), Item("w3", "claimed")}, 1,
             /*completed=*/false),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1}));
  EXPECT_EQ(v[0].message, "the run ended at 60.000 s with 2 of 3 items left");
}

TEST(ProgressTest, LockstepDeadlockIsQuotedVerbatim) {
  const char* deadlock = "a1 parked at claim.locked (w3) waits on a2; a2 waits on a1; no timer";
  auto v = Check<Progress>({
      RunStart("lockstep"),
      RunEnd(1, 7000, {Item("w3", "pending")}, 0, /*completed=*/false, 0, deadlock),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1}));
  EXPECT_EQ(v[0].message, std::string("the run ended at 7.000 s with 1 of 1 items left; "
                                      "lockstep deadlock: ") +
                              deadlock);
}

TEST(ProgressTest, HistoryWithoutRunEndIsAViolation) {
  auto v = Check<Progress>({RunStart("lockstep"), Claim(5, "w1", "a1", 1, 1000, 4000)});
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{5}));
  EXPECT_TRUE(Contains(v[0].message, "without run_end")) << v[0].message;
}

// ---------------------------------------------------------------------------
// the registry

TEST(RegistryTest, ListsTheSixCoreInvariantsInOrder) {
  std::vector<InvariantKind> kinds = CoreInvariants();
  std::vector<std::string> names;
  for (const InvariantKind& k : kinds) {
    names.push_back(k.name);
    EXPECT_NE(std::string(k.summary), "") << k.name;
    std::unique_ptr<Invariant> a = k.make(), b = k.make();
    ASSERT_NE(a, nullptr) << k.name;
    EXPECT_NE(a.get(), b.get()) << k.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"single_owner", "exactly_once_effect",
                                             "no_lost_work", "eventual_lock_release",
                                             "bounded_locks", "progress"}));
}

TEST(RegistryTest, EveryCheckerPassesAnEmptyCompletedRun) {
  for (const InvariantKind& k : CoreInvariants()) {
    std::unique_ptr<Invariant> checker = k.make();
    checker->Observe(TraceEvent::FromJson(RunStart("lockstep")));
    checker->Observe(TraceEvent::FromJson(RunEnd(1, 1000, json::array())));
    std::vector<Violation> out;
    checker->Finish(&out);
    EXPECT_TRUE(out.empty()) << k.name << ": " << Messages(out);
  }
}

}  // namespace
}  // namespace faultline
