// The work and lock checkers over hand-built histories (no_lost_work,
// eventual_lock_release, bounded_locks, progress).
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sim/invariants/bounded_locks.h"
#include "sim/invariants/eventual_lock_release.h"
#include "sim/invariants/no_lost_work.h"
#include "sim/invariants/progress.h"
#include "tests/sim/checker_history.h"

namespace faultline::checker_test {
namespace {

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

TEST(EventualLockReleaseTest, AHolderKilledAfterReportingItsEffectOnADoneItemFreedIt) {
  // The PostgreSQL backend: the item is done in the effect's transaction,
  // reported after its COMMIT; the holder dies before complete_ok.
  auto effect = Ev(2, 1500, "effect", {{"item", "w1"}, {"agent", "a1"}, {"token", 1}});
  auto v = Check<EventualLockRelease>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      effect,
      Kill(3, 2000, "a1"),
      RunEnd(4, 20000, json::array({Item("w1", "done", "", /*effect=*/true)})),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
  // Not without the effect event under this grant, nor when the item is not done.
  for (const json& end : {RunEnd(4, 20000, json::array({Item("w1", "done", "", true)})),
                          RunEnd(4, 20000, json::array({Item("w1", "claimed", "", true)}))}) {
    const bool with_effect = end["items"][0]["status"] == "claimed";
    std::vector<json> history = {RunStart("lockstep"), Claim(1, "w1", "a1", 1, 1000, 4000)};
    if (with_effect) history.push_back(effect);
    history.push_back(Kill(3, 2000, "a1"));
    history.push_back(end);
    EXPECT_EQ(Check<EventualLockRelease>(history).size(), 1u) << end.dump();
  }
  // Nor an effect of an earlier grant of the same agent.
  v = Check<EventualLockRelease>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      effect,
      Claim(5, "w1", "a1", 2, 1600, 4600),
      Kill(6, 2000, "a1"),
      RunEnd(7, 20000, json::array({Item("w1", "done", "", true)})),
  });
  EXPECT_EQ(v.size(), 1u) << Messages(v);
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

// The database is down from 4.5 s to 7 s, while a1's deadline (6 s) runs:
// nothing can be freed then. The 2.5 s of outage after the death move the
// deadline to 8.5 s; a reaper pass that fell into the outage comes one
// interval after it (7 s + 1 s), so 8.5 s it is.
TEST(EventualLockReleaseTest, DatabaseOutageMovesTheDeadline) {
  json crash = Ev(3, 7000, "fault",
                  {{"kind", "db_crash"}, {"index", 0}, {"crashed_at_us", 4500 * kMs},
                   {"up_at_us", 7000 * kMs}});
  std::vector<json> history = {
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 1000, 4000),
      Kill(2, 2000, "a1"),
      crash,
      Expired(4, 8500, "w1", "a1", 1),
      RunEnd(5, 20000, json::array()),
  };
  auto v = Check<EventualLockRelease>(history);
  EXPECT_TRUE(v.empty()) << Messages(v);

  history[4] = Expired(4, 8600, "w1", "a1", 1);
  v = Check<EventualLockRelease>(history);
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2, 4}));
  EXPECT_EQ(v[0].message,
            "w1: a1 was killed (signal 9) at 2.000 s holding token 1; the item was freed only at "
            "8.600 s by lease_expired, after the deadline 8.500 s (lease 3000 ms + reap interval "
            "1000 ms + slack 0 ms; moved past the database outage 4.500 s - 7.000 s)");

  // A restart that began after the deadline had passed moves nothing.
  history[3] = Ev(3, 7000, "fault",
                  {{"kind", "db_restart"}, {"index", 0}, {"stopped_at_us", 6100 * kMs},
                   {"up_at_us", 7000 * kMs}});
  history[4] = Expired(4, 7100, "w1", "a1", 1);
  v = Check<EventualLockRelease>(history);
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "after the deadline 6.000 s (lease 3000 ms + reap interval "
                                     "1000 ms + slack 0 ms)"))
      << v[0].message;

  // An outage that began just before the deadline: one reap interval after it.
  history[3] = Ev(3, 7000, "fault",
                  {{"kind", "db_restart"}, {"index", 0}, {"stopped_at_us", 5900 * kMs},
                   {"up_at_us", 7000 * kMs}});
  history[4] = Expired(4, 8000, "w1", "a1", 1);
  EXPECT_TRUE(Check<EventualLockRelease>(history).empty());
  history[4] = Expired(4, 8001, "w1", "a1", 1);
  EXPECT_EQ(Check<EventualLockRelease>(history).size(), 1u);
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

TEST(ProgressTest, LockstepLivelockIsAViolationEvenWithAllWorkDone) {
  const char* livelock =
      "no simulated time passed in 100000 steps at 0.400 s: a1 took 99990 steps, at lock.busy "
      "(claim) x99990";
  nlohmann::json end = RunEnd(1, 400, {Item("w1", "done")});
  end["end"] = "livelock";
  end["livelock"] = livelock;
  auto v = Check<Progress>({RunStart("lockstep"), end});
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1}));
  EXPECT_EQ(v[0].message, std::string("lockstep livelock: ") + livelock);
}

TEST(ProgressTest, HistoryWithoutRunEndIsAViolation) {
  auto v = Check<Progress>({RunStart("lockstep"), Claim(5, "w1", "a1", 1, 1000, 4000)});
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{5}));
  EXPECT_TRUE(Contains(v[0].message, "without run_end")) << v[0].message;
}

}  // namespace
}  // namespace faultline::checker_test
