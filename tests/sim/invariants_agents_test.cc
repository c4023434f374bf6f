// The checkers of what the reaper and the agents believe about each other,
// over hand-built histories (no_false_death, state_sync).
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sim/invariants/no_false_death.h"
#include "sim/invariants/state_sync.h"
#include "tests/sim/checker_history.h"

namespace faultline::checker_test {
namespace {

// ---------------------------------------------------------------------------
// no_false_death
//
// agent_timeout_ms 3000 (RunStart); clocks read run time.

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

}  // namespace
}  // namespace faultline::checker_test
