// The core invariant checkers over hand-built histories: for each, a history
// that holds and histories that violate it, with the evidence they must name.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sim/invariants/bounded_locks.h"
#include "sim/invariants/config_fail_fast.h"
#include "sim/invariants/eventual_lock_release.h"
#include "sim/invariants/exactly_once_effect.h"
#include "sim/invariants/no_false_death.h"
#include "sim/invariants/no_lost_work.h"
#include "sim/invariants/no_retry_storm.h"
#include "sim/invariants/no_silent_span_loss.h"
#include "sim/invariants/no_torn_state.h"
#include "sim/invariants/progress.h"
#include "sim/invariants/registry.h"
#include "sim/invariants/single_owner.h"
#include "sim/invariants/state_sync.h"
#include "sim/invariants/success_rate.h"

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

// The claimant's clock runs 2 s ahead (clock_skew): by its clock a1's lease
// (until 4.000 s) has run out at run time 3.000 s, but a1 still trusts it.
TEST(SingleOwnerTest, ATakeoverByAClockAheadIsJudgedOnTheUnskewedClock) {
  json skew = Ev(0, 0, "fault", {{"kind", "clock_skew"}, {"index", 0}, {"agent", "a2"},
                                 {"offset_us", 2000 * kMs}, {"drift_ppm", 0}});
  json early = Claim(2, "w1", "a2", 2, 3000, 6000);
  early["now_us"] = 5000 * kMs;  // a2's clock reads run time + 2 s
  early["lease_until_us"] = 8000 * kMs;
  auto v = Check<SingleOwner>({skew, Claim(1, "w1", "a1", 1, 1000, 4000), early});
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2}));
  EXPECT_EQ(v[0].message,
            "w1: a2 was granted token 2 at 3.000 s while a1's grant (token 1) was valid until "
            "4.000 s (a2's clock ran 2000 ms ahead of a1's)");

  // The same skewed claim after a1's lease ran out is fine.
  json late = early;
  late["t"] = 4000 * kMs;
  late["now_us"] = 6000 * kMs;
  EXPECT_TRUE(Check<SingleOwner>({skew, Claim(1, "w1", "a1", 1, 1000, 4000), late}).empty());
  // Without the fault's record the readings are taken as they are.
  EXPECT_TRUE(Check<SingleOwner>({Claim(1, "w1", "a1", 1, 1000, 4000), early}).empty());
}

// Freerun stamps "t" when an event is sent, a little after the clock was
// read: a renewal sent 10 ms late must not push the holder's lease 10 ms into
// a takeover that came exactly when it ran out.
TEST(SingleOwnerTest, FreerunSendDelaysDoNotMoveTheLease) {
  json late_renewal = Op(2, 2010, "renew_ok", "w1", "a1", 1, {{"lease_until_us", 5000 * kMs}});
  late_renewal["now_us"] = 2000 * kMs;
  EXPECT_TRUE(Check<SingleOwner>({RunStart("freerun"), Claim(1, "w1", "a1", 1, 1000, 4000),
                                  late_renewal, Claim(3, "w1", "a2", 2, 5001, 8001)})
                  .empty());
  // A takeover 5 ms before the renewed lease ran out is still caught.
  auto v = Check<SingleOwner>({RunStart("freerun"), Claim(1, "w1", "a1", 1, 1000, 4000),
                               late_renewal, Claim(3, "w1", "a2", 2, 4995, 7995)});
  ASSERT_EQ(v.size(), 1u) << Messages(v);
}

// A killed holder holds nothing: taking its item before the lease ran out
// overlaps nobody. A stalled (not exited) holder still holds.
TEST(SingleOwnerTest, AnExitedHolderHoldsNothing) {
  json killed = Ev(2, 1500, "exit", {{"agent", "a1"}, {"role", "agent"}, {"signal", 9}});
  EXPECT_TRUE(Check<SingleOwner>({Claim(1, "w1", "a1", 1, 1000, 4000), killed,
                                  Claim(3, "w1", "a2", 2, 2000, 5000)})
                  .empty());
  EXPECT_EQ(Check<SingleOwner>({Claim(1, "w1", "a1", 1, 1000, 4000),
                                Claim(3, "w1", "a2", 2, 2000, 5000)})
                .size(),
            1u);
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

TEST(RegistryTest, ListsTheCoreInvariantsInOrder) {
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
                                             "bounded_locks", "progress", "no_torn_state",
                                             "config_fail_fast", "no_false_death", "state_sync",
                                             "success_rate", "no_silent_span_loss",
                                             "no_retry_storm", "sut_responsive",
                                             "no_semantic_drift", "bounded_memory",
                                             "bounded_monitor_cost", "skill_match",
                                             "honest_outcome"}));
}

TEST(RegistryTest, EveryCheckerPassesAnEmptyCompletedRun) {
  for (const InvariantKind& k : CoreInvariants()) {
    std::unique_ptr<Invariant> checker = k.make();
    if (k.needs & observes::kCounterpart) {  // a counterpart that did the same: nothing
      checker->ObserveCounterpart(TraceEvent::FromJson({{"type", "differential_start"}}));
      checker->ObserveCounterpart(TraceEvent::FromJson(RunStart("lockstep")));
      checker->ObserveCounterpart(TraceEvent::FromJson(RunEnd(1, 1000, json::array())));
    }
    checker->Observe(TraceEvent::FromJson(RunStart("lockstep")));
    checker->Observe(TraceEvent::FromJson(RunEnd(1, 1000, json::array())));
    std::vector<Violation> out;
    checker->Finish(&out);
    EXPECT_TRUE(out.empty()) << k.name << ": " << Messages(out);
  }
}

// ---------------------------------------------------------------------------
// no_torn_state

json StateCheck(uint64_t seq, int64_t t_ms, json unparsable, int files = 12) {
  return Ev(seq, t_ms, "state_check", {{"files", files}, {"unparsable", std::move(unparsable)}});
}

json CorruptFile(uint64_t seq, int64_t t_ms, const char* file) {
  return Ev(seq, t_ms, "fault", {{"kind", "corrupt_file"}, {"index", 0}, {"file", file}});
}

json QuarantineItem(uint64_t seq, int64_t t_ms, const char* item) {
  return Ev(seq, t_ms, "quarantine",
            {{"proc", "a2"}, {"item", item},
             {"file", std::string("quarantine/items.") + item + ".json.123"},
             {"status", "quarantined"}, {"reason", "not JSON"}});
}

TEST(NoTornStateTest, CleanChecksHold) {
  auto v = Check<NoTornState>({
      RunStart("lockstep"),
      Kill(1, 1000, "a1"),
      StateCheck(2, 1000, json::array()),
      StateCheck(3, 9000, json::array()),
      RunEnd(4, 9000, json::array()),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(NoTornStateTest, AnUnparsableFileAfterAKillIsAViolation) {
  auto v = Check<NoTornState>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 500, 3500),
      Kill(2, 1000, "a1"),
      StateCheck(3, 1000, {"items/w1.json", "ledger/w1.json"}, 57),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{2, 3}));
  EXPECT_EQ(v[0].message,
            "state check at 1.000 s (seq 3, after a1 killed by signal 9 at seq 2): 2 state files "
            "do not parse (of 57 read): items/w1.json, ledger/w1.json");
}

TEST(NoTornStateTest, TheEndOfRunCheckNamesNoKill) {
  auto v = Check<NoTornState>({
      RunStart("lockstep"),
      Kill(1, 1000, "a1"),
      StateCheck(2, 1000, json::array()),
      StateCheck(3, 9000, {"agents/a2.json"}),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{3}));
  EXPECT_TRUE(Contains(v[0].message, "(seq 3): 1 state file does not parse (of 12 read): "
                                     "agents/a2.json"))
      << v[0].message;
}

TEST(NoTornStateTest, DeliberatelyCorruptedFileIsFineUntilRepaired) {
  std::vector<json> history = {
      RunStart("lockstep"),
      CorruptFile(1, 1000, "items/w1.json"),
      Kill(2, 1500, "a1"),
      StateCheck(3, 1500, {"items/w1.json"}),  // corrupted on purpose, not yet repaired
      QuarantineItem(4, 2000, "w1"),
      Kill(5, 2500, "a2"),
      StateCheck(6, 2500, json::array()),
  };
  auto v = Check<NoTornState>(history);
  EXPECT_TRUE(v.empty()) << Messages(v);

  // Once quarantine has rewritten it, the file must parse again.
  history.back() = StateCheck(6, 2500, {"items/w1.json"});
  v = Check<NoTornState>(history);
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{5, 6}));
  EXPECT_TRUE(Contains(v[0].message, "items/w1.json")) << v[0].message;
}

TEST(NoTornStateTest, ADifferentUnparsableFileIsAViolation) {
  auto v = Check<NoTornState>({
      RunStart("lockstep"),
      CorruptFile(1, 1000, "items/w1.json"),
      Kill(2, 1500, "a1"),
      StateCheck(3, 1500, {"items/w1.json", "items/w2.json"}),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{2, 3}));
  EXPECT_TRUE(Contains(v[0].message, "1 state file does not parse (of 12 read): items/w2.json"))
      << v[0].message;
  EXPECT_FALSE(Contains(v[0].message, "w1")) << v[0].message;
}

TEST(NoTornStateTest, AgentQuarantineRepairsTheAgentFile) {
  std::vector<json> history = {
      RunStart("lockstep"),
      CorruptFile(1, 1000, "agents/a1.json"),
      StateCheck(2, 1200, {"agents/a1.json"}),
      Ev(3, 1500, "quarantine",
         {{"proc", "reaper"}, {"agent", "a1"}, {"file", "quarantine/agents.a1.json.9"},
          {"reason", "not JSON"}}),
      Kill(4, 2000, "a2"),
      StateCheck(5, 2000, json::array()),
  };
  EXPECT_TRUE(Check<NoTornState>(history).empty());
  history.back() = StateCheck(5, 2000, {"agents/a1.json"});
  auto v = Check<NoTornState>(history);
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{4, 5}));
}

TEST(NoTornStateTest, AFileThatStaysTornIsReportedOnce) {
  auto v = Check<NoTornState>({
      RunStart("lockstep"),
      Kill(1, 1000, "a1"),
      StateCheck(2, 1000, {"ledger/w3.json"}),
      Kill(3, 2000, "a2"),
      StateCheck(4, 2000, {"ledger/w3.json"}),  // the same tear, not reported again
      Kill(5, 3000, "a3"),
      StateCheck(6, 3000, json::array()),
      Kill(7, 4000, "a4"),
      StateCheck(8, 4000, {"ledger/w3.json"}),  // torn again after parsing: a new tear
  });
  ASSERT_EQ(v.size(), 2u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2}));
  EXPECT_EQ(v[1].evidence, (Evidence{7, 8}));
}

// ---------------------------------------------------------------------------
// config_fail_fast

json RunStartWithFingerprint(const char* fingerprint) {
  json line = RunStart("lockstep");
  line["cluster_fingerprint"] = fingerprint;
  return line;
}

json Register(uint64_t seq, int64_t t_ms, const char* agent, const char* fingerprint) {
  return Ev(seq, t_ms, "register",
            {{"proc", agent}, {"agent", agent}, {"fingerprint", fingerprint}});
}

json Refused(uint64_t seq, int64_t t_ms, const char* agent, const char* fingerprint,
             const char* cluster) {
  return Ev(seq, t_ms, "refused",
            {{"proc", agent}, {"agent", agent}, {"fingerprint", fingerprint},
             {"cluster_fingerprint", cluster}});
}

json Drift(uint64_t seq, int64_t t_ms, const char* cluster) {
  return Ev(seq, t_ms, "fault",
            {{"kind", "config_drift"}, {"index", 1}, {"cluster_fingerprint", cluster}});
}

TEST(ConfigFailFastTest, MatchingFingerprintsHold) {
  auto v = Check<ConfigFailFast>({
      RunStartWithFingerprint("f1"),
      Register(1, 0, "a1", "f1"),
      Refused(2, 0, "a2", "f2", "f1"),  // refused and never claims: the fail-fast working
      Claim(3, "w1", "a1", 1, 100, 3100),
      Ev(4, 200, "exit", {{"agent", "a2"}, {"code", 78}}),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(ConfigFailFastTest, ClaimByAnAgentRegisteredWithAnotherFingerprintIsAViolation) {
  auto v = Check<ConfigFailFast>({
      RunStartWithFingerprint("f1"),
      Register(1, 0, "a1", "f2"),
      Claim(2, "w1", "a1", 1, 100, 3100),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2}));
  EXPECT_EQ(v[0].message,
            "w1: a1 was granted token 1 at 0.100 s with fingerprint f2 (registered at 0.000 s, "
            "seq 1) while the cluster's fingerprint was f1");
}

TEST(ConfigFailFastTest, RefusedAgentMustNotClaim) {
  auto v = Check<ConfigFailFast>({
      RunStartWithFingerprint("f1"),
      Refused(1, 0, "a1", "f2", "f1"),
      Claim(2, "w1", "a1", 1, 100, 3100),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2}));
  EXPECT_EQ(v[0].message,
            "w1: a1 was granted token 1 at 0.100 s after it was refused at 0.000 s (seq 1: "
            "fingerprint f2, the cluster's f1) and had not registered since");
}

TEST(ConfigFailFastTest, RefusalAfterARegistrationStillCounts) {
  // An earlier incarnation registered; the restarted one was refused.
  auto v = Check<ConfigFailFast>({
      RunStartWithFingerprint("f1"),
      Register(1, 0, "a1", "f1"),
      Kill(2, 500, "a1"),
      Refused(3, 1000, "a1", "f2", "f1"),
      Claim(4, "w1", "a1", 1, 1100, 4100),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{3, 4}));
}

TEST(ConfigFailFastTest, RestartedAgentReRegisteringWithTheRightFingerprintMayClaim) {
  auto v = Check<ConfigFailFast>({
      RunStartWithFingerprint("f1"),
      Refused(1, 0, "a1", "f2", "f1"),
      Ev(2, 10, "exit", {{"agent", "a1"}, {"code", 78}}),
      Ev(3, 500, "spawn", {{"agent", "a1"}, {"role", "agent"}, {"restart", true}}),
      Register(4, 500, "a1", "f1"),
      Claim(5, "w1", "a1", 1, 600, 3600),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(ConfigFailFastTest, DriftMakesALaterClaimAViolation) {
  std::vector<json> history = {
      RunStartWithFingerprint("f1"),
      Register(1, 0, "a1", "f1"),
      Claim(2, "w1", "a1", 1, 100, 3100),  // before the drift: fine
      Drift(3, 1000, "f2"),
      // Within a heartbeat period (500 ms) of the drift a1 is not yet due to
      // have noticed it (DESIGN §2: drift is seen at the next heartbeat).
      Claim(4, "w3", "a1", 1, 1400, 4400),
      Claim(5, "w2", "a1", 1, 1600, 4600),  // past that: a1 still runs with f1
  };
  auto v = Check<ConfigFailFast>(history);
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 3, 5}));
  EXPECT_EQ(v[0].message,
            "w2: a1 was granted token 1 at 1.600 s with fingerprint f1 (registered at 0.000 s, "
            "seq 1) while the cluster's fingerprint was f2 (the cluster's configuration drifted "
            "at 1.000 s, seq 3)");

  // Restarted with the new settings, a1 may claim again.
  history.pop_back();
  history.pop_back();
  history.push_back(Ev(4, 1050, "drift_seen", {{"agent", "a1"}, {"reason", "changed"}}));
  history.push_back(Kill(5, 1060, "a1"));
  history.push_back(Register(6, 1500, "a1", "f2"));
  history.push_back(Claim(7, "w2", "a1", 1, 1600, 4600));
  v = Check<ConfigFailFast>(history);
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(ConfigFailFastTest, UnknownClusterFingerprintIsNotJudged) {
  auto v = Check<ConfigFailFast>({
      RunStart("lockstep"),  // no cluster_fingerprint
      Register(1, 0, "a1", "f2"),
      Claim(2, "w1", "a1", 1, 100, 3100),
      Claim(3, "w2", "a9", 1, 100, 3100),  // never registered: fingerprint unknown
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(ConfigFailFastTest, AgentFormOfDriftLeavesTheClusterFingerprint) {
  // config_drift in agent form starts a1 with other settings; the cluster's
  // fingerprint stays f1, so a1's claim is still judged (found by the
  // no_config_check mutant).
  auto v = Check<ConfigFailFast>({
      RunStartWithFingerprint("f1"),
      Ev(1, 0, "fault",
         {{"kind", "config_drift"}, {"index", 0}, {"agent", "a1"}, {"setting", "lease_ms"},
          {"value", 5000}}),
      Register(2, 0, "a1", "f2"),
      Claim(3, "w1", "a1", 1, 100, 3100),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{2, 3}));
}

// ---------------------------------------------------------------------------
// no_false_death
//
// agent_timeout_ms 3000 (RunStart); clocks read run time.

json Heartbeat(uint64_t seq, int64_t at_ms, const char* agent, json holding = nullptr) {
  json line = Ev(seq, at_ms, "heartbeat", {{"proc", agent}, {"agent", agent},
                                           {"at_us", at_ms * kMs}});
  if (!holding.is_null()) line["holding"] = std::move(holding);
  return line;
}

json Dead(uint64_t seq, int64_t now_ms, const char* agent, int64_t last_heartbeat_ms,
          int64_t timeout_ms = 3000) {
  return Ev(seq, now_ms, "agent_dead",
            {{"proc", "reaper"}, {"agent", agent}, {"last_heartbeat_us", last_heartbeat_ms * kMs},
             {"now_us", now_ms * kMs}, {"agent_timeout_ms", timeout_ms},
             {"reason", "no heartbeat"}});
}

TEST(NoFalseDeathTest, StalledAgentDeclaredDeadAfterTheTimeoutIsNotAFalseDeath) {
  auto v = Check<NoFalseDeath>({
      RunStart("lockstep"),
      Heartbeat(1, 1500, "a1"),
      Heartbeat(2, 2000, "a1"),
      Ev(3, 2100, "fault", {{"kind", "stall_agent"}, {"agent", "a1"}, {"until_us", 9000 * kMs}}),
      Heartbeat(4, 4000, "a2"),  // another agent's heartbeat says nothing about a1
      Dead(5, 5500, "a1", 2000),
      Dead(6, 7000, "a2", 4000),  // exactly agent_timeout after: not within it
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(NoFalseDeathTest, DeclaringDeadWithinTheTimeoutIsAViolation) {
  auto v = Check<NoFalseDeath>({
      RunStart("lockstep"),
      Heartbeat(1, 1000, "a1"),
      Heartbeat(2, 3000, "a1"),
      Dead(3, 5500, "a1", 1000),  // the reaper read a stale heartbeat
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{2, 3}));
  EXPECT_EQ(v[0].message,
            "a1 was declared dead at 5.500 s (seq 3: no heartbeat) although it heartbeated at "
            "3.000 s (seq 2), 2500 ms before the declaration, within "
            "agent_timeout_ms 3000");
}

// A reaper whose clock runs 2 s ahead (clock_skew) sees a heartbeat 1.5 s
// old as 3.5 s old.
TEST(NoFalseDeathTest, AReaperClockAheadDoesNotExcuseTheDeclaration) {
  json skew = Ev(0, 0, "fault", {{"kind", "clock_skew"}, {"index", 0}, {"agent", "reaper"},
                                 {"offset_us", 2000 * kMs}, {"drift_ppm", 0}});
  json dead = Dead(2, 6500, "a1", 3000);
  dead["t"] = 4500 * kMs;  // the reaper's clock reads run time + 2 s
  auto v = Check<NoFalseDeath>({skew, Heartbeat(1, 3000, "a1"), dead});
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2}));
  EXPECT_TRUE(Contains(v[0].message, "1500 ms before the declaration")) << v[0].message;

  // An agent whose clock lags 2 s, declared 3.5 s after its last heartbeat
  // in real time, was dead: its stale-looking clock reading changes nothing.
  json lag = Ev(0, 0, "fault", {{"kind", "clock_skew"}, {"index", 0}, {"agent", "a1"},
                                {"offset_us", -2000 * kMs}, {"drift_ppm", 0}});
  json beat = Heartbeat(1, 1000, "a1");
  beat["t"] = 3000 * kMs;
  json later = Dead(2, 6500, "a1", 1000);
  EXPECT_TRUE(Check<NoFalseDeath>({lag, beat, later}).empty());
}

TEST(NoFalseDeathTest, TheDeclarationsTimeoutOverridesRunStart) {
  std::vector<json> history = {
      RunStart("lockstep"),
      Heartbeat(1, 3000, "a1"),
      Dead(2, 5500, "a1", 3000, /*timeout_ms=*/2000),
  };
  EXPECT_TRUE(Check<NoFalseDeath>(history).empty());
  history[2].erase("agent_timeout_ms");  // falls back to run_start's 3000
  EXPECT_EQ(Check<NoFalseDeath>(history).size(), 1u);
}

TEST(NoFalseDeathTest, OnlyHeartbeatsBeforeTheDeclarationCount) {
  auto v = Check<NoFalseDeath>({
      RunStart("lockstep"),
      Heartbeat(1, 1000, "a1"),
      Dead(2, 4500, "a1", 1000),
      Ev(3, 4600, "agent_back", {{"agent", "a1"}, {"declared_dead", "no heartbeat"}}),
      Heartbeat(4, 4600, "a1"),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(NoFalseDeathTest, OwnLastHeartbeatWithinTheTimeoutIsAViolation) {
  // The heartbeat was written but never traced (killed between the two).
  auto v = Check<NoFalseDeath>({RunStart("lockstep"), Dead(1, 5000, "a1", 4000)});
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1}));
  EXPECT_TRUE(Contains(v[0].message, "its own last_heartbeat_us is 1000 ms before the "
                                     "declaration"))
      << v[0].message;
}

TEST(NoFalseDeathTest, DeclarationWithoutNowIsNotJudged) {
  json dead = Dead(2, 4000, "a1", 3500);
  dead.erase("now_us");
  auto v = Check<NoFalseDeath>({RunStart("lockstep"), Heartbeat(1, 3500, "a1"), dead});
  EXPECT_TRUE(v.empty()) << Messages(v);
}

// ---------------------------------------------------------------------------
// state_sync
//
// Clocks read run time: at_us of a heartbeat at t ms is t ms.

TEST(StateSyncTest, HoldingsThatMatchTheGrantsHold) {
  auto v = Check<StateSync>({
      RunStart("lockstep"),
      Heartbeat(1, 100, "a1", json::array()),
      Claim(2, "w1", "a1", 1, 200, 3200),
      Claim(3, "w2", "a1", 1, 300, 3300),
      Heartbeat(4, 500, "a1", {"w1", "w2"}),
      Op(5, 600, "complete_ok", "w1", "a1", 1),
      Op(6, 700, "release", "w2", "a1", 1, {{"reason", "sigterm"}}),
      Heartbeat(7, 1000, "a1", json::array()),
      Heartbeat(8, 1000, "a2"),  // no holdings recorded: not judged
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(StateSyncTest, HoldingLostThenAHeartbeatWithoutTheItemIsFine) {
  auto v = Check<StateSync>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Ev(2, 1500, "fault", {{"kind", "stall_agent"}, {"agent", "a1"}, {"until_us", 9000 * kMs}}),
      Ev(3, 4500, "takeover",
         {{"item", "w1"}, {"agent", "a2"}, {"owner", "a1"}, {"token", 1},
          {"lease_until_us", 4000 * kMs}}),
      Claim(4, "w1", "a2", 2, 4500, 7500),
      Heartbeat(5, 5000, "a2", {"w1"}),
      Ev(6, 9000, "holding_lost",
         {{"agent", "a1"}, {"item", "w1"}, {"token", 1}, {"current_token", 2},
          {"status", "claimed"}}),
      Heartbeat(7, 9000, "a1", json::array()),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(StateSyncTest, ADamagedItemFileEndsItsGrantForTheHolder) {
  // A corrupt_file fault on a claimed item: its file names no holder any
  // more, so the holder's next heartbeat rightly leaves it out.
  auto v = Check<StateSync>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Ev(2, 1200, "fault", {{"kind", "corrupt_file"}, {"file", "items/w1.json"}}),
      Heartbeat(3, 1500, "a1", json::array()),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
  // Without the fault the same heartbeat is a violation.
  v = Check<StateSync>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Heartbeat(3, 1500, "a1", json::array()),
  });
  EXPECT_EQ(v.size(), 1u) << Messages(v);
}

TEST(StateSyncTest, ListingAnItemGrantedToAnotherAgentIsAViolation) {
  auto v = Check<StateSync>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Ev(2, 4500, "takeover",
         {{"item", "w1"}, {"agent", "a2"}, {"owner", "a1"}, {"token", 1}}),
      Claim(3, "w1", "a2", 2, 4500, 7500),
      Heartbeat(4, 9000, "a1", {"w1"}),  // a1 did not drop what it lost
      Heartbeat(5, 9500, "a1", {"w1"}),  // the same discrepancy: reported once
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 3, 4}));
  EXPECT_EQ(v[0].message,
            "a1's heartbeat at 9.000 s (seq 4) lists w1, but its latest grant is token 2 to a2 "
            "(seq 3); a1's own grant before it was token 1 (seq 1)");
}

TEST(StateSyncTest, ListingACompletedItemIsAViolation) {
  auto v = Check<StateSync>({
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Op(2, 1500, "complete_ok", "w1", "a1", 1),
      Heartbeat(3, 2000, "a1", {"w1"}),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2, 3}));
  EXPECT_EQ(v[0].message,
            "a1's heartbeat at 2.000 s (seq 3) lists w1, but its latest grant is token 1 to a1 "
            "(seq 1), ended by complete_ok at seq 2");
}

TEST(StateSyncTest, ListingAnItemNeverGrantedIsAViolation) {
  auto v = Check<StateSync>({Heartbeat(1, 2000, "a1", {"w9"})});
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1}));
  EXPECT_EQ(v[0].message, "a1's heartbeat at 2.000 s (seq 1) lists w9, which was never granted");
}

TEST(StateSyncTest, AValidGrantMissingFromTheHoldingsIsAViolation) {
  auto v = Check<StateSync>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 3, 1000, 4000),
      Claim(2, "w2", "a1", 1, 1100, 4100),
      Heartbeat(3, 2000, "a1", {"w2"}),
      Heartbeat(4, 2500, "a1", {"w2"}),  // still missing: the same grant, reported once
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 3}));
  EXPECT_EQ(v[0].message,
            "a1's heartbeat at 2.000 s (seq 3) does not list w1, granted to it with token 3 "
            "(seq 1) and valid for 2000 ms more at the heartbeat's at_us");
}

TEST(StateSyncTest, AnExpiredLeaseNeedNotBeListedUntilRenewed) {
  std::vector<json> history = {
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 2000),
      Heartbeat(2, 2000, "a1", json::array()),  // lease_until_us == at_us: expired
      Heartbeat(3, 2500, "a1", json::array()),
  };
  EXPECT_TRUE(Check<StateSync>(history).empty());
  // Renewed late (nobody took it), the grant is expected again.
  history.push_back(Op(4, 2600, "renew_ok", "w1", "a1", 1, {{"lease_until_us", 5600 * kMs}}));
  history.push_back(Heartbeat(5, 3000, "a1", json::array()));
  auto v = Check<StateSync>(history);
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 5}));
}

TEST(StateSyncTest, ARestartedAgentStartsWithoutItsPredecessorsGrants) {
  auto v = Check<StateSync>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 9000),
      Claim(2, "w2", "a1", 1, 1000, 9000),
      Kill(3, 1500, "a1"),
      Ev(4, 2000, "spawn", {{"agent", "a1"}, {"role", "agent"}, {"restart", true}}),
      Register(5, 2000, "a1", "f1"),
      Heartbeat(6, 2500, "a1", json::array()),  // need not list w1 or w2
      Heartbeat(7, 3000, "a1", {"w2"}),         // may list a grant that still stands
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(StateSyncTest, ReaperEndingsAndQuarantineEndTheGrant) {
  auto v = Check<StateSync>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 9000),
      Claim(2, "w2", "a1", 1, 1000, 9000),
      Claim(3, "w3", "a1", 1, 1000, 9000),
      Ev(4, 1200, "lease_expired", {{"item", "w1"}, {"by", "reaper"}, {"owner", "a1"},
                                    {"token", 1}}),
      Ev(5, 1300, "dead_letter", {{"item", "w2"}, {"by", "reaper"}, {"reason", "r"}}),
      QuarantineItem(6, 1400, "w3"),
      Heartbeat(7, 2000, "a1", json::array()),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

// ---------------------------------------------------------------------------
// success_rate

// `ok` claim_ok, `contended` claim_contended, `renewed` renew_ok, `completed`
// complete_ok and `timeouts` lock_timeout events, then run_end.
std::vector<json> Coordination(int ok, int contended, int renewed = 0, int completed = 0,
                               int timeouts = 0) {
  std::vector<json> h = {RunStart("lockstep")};
  uint64_t seq = 1;
  for (int i = 0; i < ok; ++i) h.push_back(Claim(seq++, "w1", "a1", i + 1, 1000, 4000));
  for (int i = 0; i < contended; ++i) {
    h.push_back(Ev(seq++, 1000, "claim_contended", {{"agent", "a2"}, {"tried", 2}}));
  }
  for (int i = 0; i < renewed; ++i) h.push_back(Op(seq++, 1100, "renew_ok", "w1", "a1", ok));
  for (int i = 0; i < completed; ++i) h.push_back(Op(seq++, 1200, "complete_ok", "w1", "a1", ok));
  for (int i = 0; i < timeouts; ++i) {
    h.push_back(Ev(seq++, 1300, "lock_timeout", {{"agent", "a1"}, {"item", "w1"},
                                                 {"op", "renew"}}));
  }
  h.push_back(RunEnd(seq, 2000, json::array()));
  return h;
}

TEST(SuccessRateTest, ExactlyEightyPercentIsFine) {
  auto v = Check<SuccessRate>(Coordination(80, 20));
  EXPECT_TRUE(v.empty()) << Messages(v);
  v = Check<SuccessRate>(Coordination(16, 4));  // 20 attempts, 80 %
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(SuccessRateTest, SeventyNinePercentIsSev3) {
  auto v = Check<SuccessRate>(Coordination(79, 21));
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{80, 101}));  // the first claim_contended, the run_end
  EXPECT_EQ(v[0].message,
            "SEV-3: claim success rate 79.0% is below 80% (79 of 100 claim attempts got an "
            "item; 21 lost every race)");
}

// The scenario's SLO moves the SEV-3 bounds; SEV-2 stays below 50 %.
TEST(SuccessRateTest, TheScenariosSloSetsTheSev3Bounds) {
  auto with_slo = [](std::vector<json> h, int min_success, int max_timeouts) {
    h[0]["slo"] = {{"min_claim_success_percent", min_success},
                   {"max_lock_timeout_percent", max_timeouts}};
    return h;
  };
  EXPECT_TRUE(Check<SuccessRate>(with_slo(Coordination(70, 30), 60, 20)).empty());
  auto v = Check<SuccessRate>(with_slo(Coordination(85, 15), 90, 20));
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "SEV-3: claim success rate 85.0% is below 90%"))
      << v[0].message;
  v = Check<SuccessRate>(with_slo(Coordination(40, 60), 0, 20));
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "SEV-2")) << v[0].message;
}

TEST(SuccessRateTest, FortyNinePercentIsSev2) {
  auto v = Check<SuccessRate>(Coordination(49, 51));
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].message,
            "SEV-2: claim success rate 49.0% is below 50% (49 of 100 claim attempts got an "
            "item; 51 lost every race)");
  v = Check<SuccessRate>(Coordination(50, 50));  // exactly 50 %: SEV-3, not SEV-2
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "SEV-3: claim success rate 50.0%")) << v[0].message;
}

TEST(SuccessRateTest, ARateJustBelowTheThresholdDoesNotReadAsIt) {
  // 3999 of 5000 is 79.98 %.
  auto v = Check<SuccessRate>(Coordination(3999, 1001));
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "SEV-3: claim success rate 79.9% is below 80%"))
      << v[0].message;
}

TEST(SuccessRateTest, FewerThanTwentyAttemptsGiveNoVerdict) {
  auto v = Check<SuccessRate>(Coordination(0, 19));
  EXPECT_TRUE(v.empty()) << Messages(v);
  v = Check<SuccessRate>(Coordination(0, 20));
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "SEV-2: claim success rate 0.0%")) << v[0].message;
}

TEST(SuccessRateTest, TimeoutRateAboveTwentyPercentIsSev3) {
  // 10 claims + 4 renewals + 2 completions + 4 timeouts = 20 operations, 20 %.
  auto v = Check<SuccessRate>(Coordination(10, 0, 4, 2, 4));
  EXPECT_TRUE(v.empty()) << Messages(v);

  v = Check<SuccessRate>(Coordination(10, 0, 3, 2, 5));  // 25 %
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{16, 21}));  // the first lock_timeout, the run_end
  EXPECT_EQ(v[0].message,
            "SEV-3: lock timeout rate 25.0% is above 20% (5 of 20 operations gave up waiting "
            "for a lock; 10 claims, 3 renewals and 2 completions succeeded)");

  v = Check<SuccessRate>(Coordination(10, 0, 2, 2, 5));  // 19 operations: no verdict
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(SuccessRateTest, AtMostOneViolationPerRate) {
  auto v = Check<SuccessRate>(Coordination(20, 80, 0, 0, 60));
  ASSERT_EQ(v.size(), 2u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "SEV-2: claim success rate 20.0%")) << v[0].message;
  EXPECT_TRUE(Contains(v[1].message, "SEV-3: lock timeout rate 75.0%")) << v[1].message;
}

// ---------------------------------------------------------------------------
// the registry, with the coordination checkers

TEST(RegistryTest, ListsTheCoordinationCheckersAfterProgress) {
  std::vector<std::string> names;
  for (const InvariantKind& k : CoreInvariants()) names.push_back(k.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "single_owner", "exactly_once_effect", "no_lost_work",
                       "eventual_lock_release", "bounded_locks", "progress", "no_torn_state",
                       "config_fail_fast", "no_false_death", "state_sync", "success_rate",
                       "no_silent_span_loss", "no_retry_storm", "sut_responsive",
                       "no_semantic_drift", "bounded_memory", "bounded_monitor_cost",
                       "skill_match", "honest_outcome"}));
}

// ---------------------------------------------------------------------------
// no_silent_span_loss

json SpanCreated(uint64_t seq, const char* agent, const char* span, const char* item = "") {
  json extra = {{"proc", agent}, {"agent", agent}, {"span", span}, {"name", "claim_work"}};
  if (*item) extra["item"] = item;
  return Ev(seq, static_cast<int64_t>(seq) * 10, "span_created", extra);
}
json SpanDropped(uint64_t seq, const char* agent, std::vector<std::string> spans,
                 const char* reason = "spool_full", int64_t count = -1) {
  return Ev(seq, static_cast<int64_t>(seq) * 10, "span_dropped",
            {{"proc", agent}, {"agent", agent}, {"by", agent},
             {"count", count < 0 ? static_cast<int64_t>(spans.size()) : count},
             {"reason", reason}, {"spans", spans}});
}
json SinkReceived(uint64_t seq, std::vector<std::string> spans) {
  return Ev(seq, 5000, "sink_received",
            {{"total", spans.size()}, {"part", 0}, {"parts", 1}, {"spans", spans}});
}
json SpoolLeft(uint64_t seq, const char* agent, std::vector<std::string> spans) {
  return Ev(seq, 5000, "spool_left", {{"agent", agent}, {"count", spans.size()}, {"spans", spans}});
}

TEST(NoSilentSpanLossTest, DeliveredDroppedAndSpooledSpansAreAllAccountedFor) {
  NoSilentSpanLoss checker;
  std::vector<json> history = {
      RunStart("lockstep"),
      SpanCreated(1, "a1", "0000000000000001", "w1"),
      SpanCreated(2, "a1", "0000000000000002"),
      SpanCreated(3, "a2", "0000000000000003"),
      SpanCreated(4, "a2", "0000000000000004"),
      SpanDropped(5, "a2", {"0000000000000003"}),
      SpoolLeft(6, "a2", {"0000000000000004"}),
      SinkReceived(7, {"0000000000000001", "0000000000000002"}),
      RunEnd(8, 5000, json::array()),
  };
  for (const json& line : history) checker.Observe(TraceEvent::FromJson(line));
  std::vector<Violation> v;
  checker.Finish(&v);
  EXPECT_TRUE(v.empty()) << Messages(v);
  EXPECT_EQ(checker.Summary(), json({{"created", 4}, {"delivered", 2}, {"dropped", 1},
                                     {"still_spooled", 1}, {"lost", 0}}));
  EXPECT_EQ(checker.SummaryText(),
            "4 spans created: 2 delivered to the collector, 1 dropped and counted, 1 still "
            "spooled, 0 lost");
}

TEST(NoSilentSpanLossTest, ASpanNobodyAccountsForIsASilentLossPerAgent) {
  auto v = Check<NoSilentSpanLoss>({
      RunStart("lockstep"),
      SpanCreated(1, "a1", "0000000000000001", "w7"),
      SpanCreated(2, "a1", "0000000000000002"),
      SpanCreated(3, "a2", "0000000000000003"),
      SinkReceived(4, {"0000000000000002"}),
      RunEnd(5, 5000, json::array()),
  });
  ASSERT_EQ(v.size(), 2u) << Messages(v);
  EXPECT_EQ(v[0].invariant, "no_silent_span_loss");
  EXPECT_EQ(v[0].evidence, (Evidence{1}));
  EXPECT_EQ(v[0].message,
            "a1 lost 1 span silently: created, never received by the collector, never counted "
            "in a span_dropped, and in no spool at the end (0000000000000001 claim_work w7 at "
            "0.010 s)");
  EXPECT_EQ(v[1].evidence, (Evidence{3}));
  EXPECT_TRUE(Contains(v[1].message, "a2 lost 1 span silently")) << v[1].message;
}

TEST(NoSilentSpanLossTest, SpansWithoutTheCollectorsRecordAreAViolation) {
  auto v = Check<NoSilentSpanLoss>({
      RunStart("lockstep"),
      SpanCreated(1, "a1", "0000000000000001"),
      RunEnd(2, 5000, json::array()),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "no sink_received event")) << v[0].message;
  EXPECT_EQ(v[0].evidence, (Evidence{1}));
}

TEST(NoSilentSpanLossTest, UnreadableSpoolLinesExcuseAsManySpansOfTheirAgent) {
  auto v = Check<NoSilentSpanLoss>({
      RunStart("lockstep"),
      SpanCreated(1, "a1", "0000000000000001"),
      SpanCreated(2, "a1", "0000000000000002"),
      SpanDropped(3, "a1", {}, "unreadable", 1),
      SinkReceived(4, {}),
      RunEnd(5, 5000, json::array()),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "a1 lost 1 span silently")) << v[0].message;
}

TEST(NoSilentSpanLossTest, ARunWithoutTelemetryHoldsWithoutASummary) {
  NoSilentSpanLoss checker;
  checker.Observe(TraceEvent::FromJson(RunStart("lockstep")));
  checker.Observe(TraceEvent::FromJson(RunEnd(1, 1000, json::array())));
  std::vector<Violation> v;
  checker.Finish(&v);
  EXPECT_TRUE(v.empty());
  EXPECT_TRUE(checker.Summary().is_null());
  EXPECT_EQ(checker.SummaryText(), "");
}

// ---------------------------------------------------------------------------
// no_retry_storm

json ModelCall(uint64_t seq, int64_t t_ms, const char* agent, bool ok,
               const char* error = "HTTP 503") {
  json extra = {{"proc", agent}, {"agent", agent}, {"item", "w1"}, {"ok", ok}};
  if (!ok) extra["error"] = error;
  return Ev(seq, t_ms, "model_call", extra);
}

TEST(NoRetryStormTest, FailuresWithABackoffHold) {
  // The reference's pace: 50 ms, then doubling (at most ~5 failures a second).
  std::vector<json> lines = {RunStart("lockstep")};
  int64_t t = 100, wait = 50;
  for (uint64_t seq = 1; seq <= 12; ++seq, t += wait, wait = std::min<int64_t>(wait * 2, 1000)) {
    lines.push_back(ModelCall(seq, t, "a1", false));
  }
  lines.push_back(ModelCall(13, t, "a1", true));
  EXPECT_TRUE(Check<NoRetryStorm>(lines).empty());
}

TEST(NoRetryStormTest, ElevenFailuresWithinASecondAreAStorm) {
  std::vector<json> lines = {RunStart("lockstep")};
  for (uint64_t seq = 1; seq <= 11; ++seq) {
    lines.push_back(ModelCall(seq, 1000 + static_cast<int64_t>(seq) * 90, "a2", false));
  }
  auto v = Check<NoRetryStorm>(lines);
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "a2 made 11 failed model calls within 0.900 s"))
      << v[0].message;
  EXPECT_EQ(v[0].evidence, (Evidence{1, 11}));
}

TEST(NoRetryStormTest, TenFailuresASecondAndSuccessesAndAbandonedCallsDoNotCount) {
  std::vector<json> lines = {RunStart("lockstep")};
  uint64_t seq = 1;
  // Ten failures spread over exactly one second: the eleventh is past the window.
  for (int i = 0; i < 11; ++i) lines.push_back(ModelCall(seq++, 1000 + i * 100, "a1", false));
  // Successes and abandoned waits in between are not retries.
  for (int i = 0; i < 30; ++i) lines.push_back(ModelCall(seq++, 2100 + i, "a1", true));
  for (int i = 0; i < 30; ++i) {
    lines.push_back(ModelCall(seq++, 2200 + i, "a3", false, "abandoned"));
  }
  EXPECT_TRUE(Check<NoRetryStorm>(lines).empty()) << Messages(Check<NoRetryStorm>(lines));
}

TEST(NoRetryStormTest, EachStormingAgentIsReportedOnce) {
  std::vector<json> lines = {RunStart("lockstep")};
  uint64_t seq = 1;
  for (int i = 0; i < 40; ++i) {
    lines.push_back(ModelCall(seq++, 500 + i * 5, i % 2 ? "a1" : "a2", false));
  }
  auto v = Check<NoRetryStorm>(lines);
  ASSERT_EQ(v.size(), 2u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "a1 made 20 failed model calls")) << v[0].message;
  EXPECT_TRUE(Contains(v[1].message, "a2 made 20 failed model calls")) << v[1].message;
}

}  // namespace
}  // namespace faultline
