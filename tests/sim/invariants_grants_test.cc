// The grant checkers over hand-built histories (single_owner,
// exactly_once_effect): histories that hold and histories that violate them,
// with the evidence they must name.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sim/invariants/exactly_once_effect.h"
#include "sim/invariants/single_owner.h"
#include "tests/sim/checker_history.h"

namespace faultline::checker_test {
namespace {

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

// A store that keeps leases on its database server's clock says so
// ("clock": "server"): a2's clock runs 2 s ahead, but its claim's times are
// the server's, so they are taken as they are, not moved back by the skew.
TEST(SingleOwnerTest, TimesOnTheServersClockKeepNoSkew) {
  json skew = Ev(0, 0, "fault", {{"kind", "clock_skew"}, {"index", 0}, {"agent", "a2"},
                                 {"offset_us", 2000 * kMs}, {"drift_ppm", 0}});
  json on_time = Claim(2, "w1", "a2", 2, 4000, 7000);
  on_time["clock"] = "server";
  EXPECT_TRUE(Check<SingleOwner>({skew, Claim(1, "w1", "a1", 1, 1000, 4000), on_time}).empty());
  // Unmarked, the same times would be a2's own clock: 2 s early, a violation.
  on_time.erase("clock");
  EXPECT_EQ(Check<SingleOwner>({skew, Claim(1, "w1", "a1", 1, 1000, 4000), on_time}).size(), 1u);
  // A takeover before the lease ran out on the server's clock is caught.
  json early = Claim(2, "w1", "a2", 2, 3000, 6000);
  early["clock"] = "server";
  EXPECT_EQ(Check<SingleOwner>({skew, Claim(1, "w1", "a1", 1, 1000, 4000), early}).size(), 1u);
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

TEST(ExactlyOnceEffectTest, AnEntryOfAHolderKilledBeforeItsReportCounts) {
  // a1 made the entry and marked w1 done in one transaction, and was killed
  // before its effect event left: only run_end's flag reports the entry.
  auto v = Check<ExactlyOnceEffect>({
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Ev(2, 1200, "exit", {{"agent", "a1"}, {"signal", 9}}),
      RunEnd(3, 5000, {Item("w1", "done", "", true)}, 1),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);

  // The same entry with its holder alive (or killed before its claim) is an
  // effect nobody reported.
  for (const uint64_t exit_seq : {0u, 1u}) {
    std::vector<nlohmann::json> events;
    if (exit_seq == 1) events.push_back(Ev(1, 500, "exit", {{"agent", "a1"}, {"signal", 9}}));
    events.push_back(Claim(2, "w1", "a1", 1, 1000, 4000));
    events.push_back(Ev(3, 1200, "exit", {{"agent", "a1"}, {"code", 0}}));
    events.push_back(RunEnd(4, 5000, {Item("w1", "done", "", true)}, 1));
    auto alive = Check<ExactlyOnceEffect>(events);
    ASSERT_EQ(alive.size(), 2u) << Messages(alive);
    EXPECT_TRUE(Contains(alive[0].message, "w1 (in the ledger, no effect event)"))
        << alive[0].message;
  }
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

}  // namespace
}  // namespace faultline::checker_test
