// reconnects_after_partition over hand-built histories (network_partition's
// and connection_limit's events), and the network_partition "cut" event as a
// stall in eventual_lock_release.
#include <gtest/gtest.h>

#include "sim/invariants/eventual_lock_release.h"
#include "sim/invariants/reconnects_after_partition.h"
#include "tests/sim/checker_history.h"

namespace faultline::checker_test {
namespace {

json Partition(uint64_t seq, int64_t t_ms, json fields) {
  fields["kind"] = "network_partition";
  fields["index"] = 0;
  return Ev(seq, t_ms, "fault", fields);
}

// a0 and a1 cut off at 1 s, healed at 5 s; the run ends at `end_ms`, with
// a0's and a1's round trips after the heal as given.
std::vector<json> History(int64_t end_ms, int a0_trips, int a1_trips, bool a1_exits) {
  std::vector<json> h = {RunStart("lockstep", /*lease_ms=*/3000),
                         Partition(1, 1000, {{"phase", "cut"}, {"agent", "a0"},
                                             {"mode", "blackhole"}, {"until_us", 5'000'000}}),
                         Partition(2, 1000, {{"phase", "cut"}, {"agent", "a1"},
                                             {"mode", "blackhole"}, {"until_us", 5'000'000}}),
                         Partition(3, 5000, {{"phase", "healed"}, {"during", json::array()}})};
  if (a1_exits) h.push_back(Ev(4, 6000, "exit", {{"agent", "a1"}, {"code", 0}}));
  h.push_back(Ev(5, end_ms, "stop", {{"agent", "a0"}, {"role", "agent"}}));
  if (!a1_exits) h.push_back(Ev(6, end_ms, "stop", {{"agent", "a1"}, {"role", "agent"}}));
  h.push_back(Partition(7, end_ms, {{"phase", "end"},
                                    {"healed_at_us", 5'000'000},
                                    {"after_heal",
                                     {{{"agent", "a0"}, {"round_trips", a0_trips}},
                                      {{"agent", "a1"}, {"round_trips", a1_trips}}}}}));
  return h;
}

TEST(ReconnectsAfterPartitionTest, AnAgentRunningLongAfterTheHealWithoutTalkingIsStuck) {
  const auto out = Check<ReconnectsAfterPartition>(History(20'000, 0, 4, false));
  ASSERT_EQ(out.size(), 1u) << Messages(out);
  EXPECT_TRUE(Contains(out[0].message, "a0 was cut off from the database until 5.000 s"))
      << out[0].message;
  EXPECT_EQ(out[0].evidence, (Evidence{1, 3, 5, 7}));
}

TEST(ReconnectsAfterPartitionTest, ReconnectedExitedOrTooSoonIsFine) {
  EXPECT_TRUE(Check<ReconnectsAfterPartition>(History(20'000, 2, 4, false)).empty());
  // a1 left after the heal; a0 talked.
  EXPECT_TRUE(Check<ReconnectsAfterPartition>(History(20'000, 1, 0, true)).empty());
  // The run ended before lease + 2 heartbeats had passed since the heal.
  EXPECT_TRUE(Check<ReconnectsAfterPartition>(History(7000, 0, 0, false)).empty());
}

json Limit(uint64_t seq, int64_t t_ms, json fields) {
  fields["kind"] = "connection_limit";
  fields["index"] = 0;
  return Ev(seq, t_ms, "fault", fields);
}

// A connection limit refused a0 and the reaper until its lift at 5 s: a0 is
// judged from the lift like a partitioned agent; the reaper is not judged.
TEST(ReconnectsAfterPartitionTest, AnAgentTheConnectionLimitRefusedMustComeBack) {
  auto history = [](int a0_trips) {
    return std::vector<json>{
        RunStart("lockstep", /*lease_ms=*/3000),
        Limit(1, 5000, {{"phase", "lifted"}, {"max", 1}, {"evicted", 2}, {"refused", 9},
                        {"refused_by", {{"a0", 7}, {"reaper", 2}}}, {"from_us", 1'000'000},
                        {"until_us", 5'000'000}}),
        Ev(2, 20'000, "stop", {{"agent", "a0"}, {"role", "agent"}}),
        Limit(3, 20'000, {{"phase", "end"}, {"lifted_at_us", 5'000'000},
                          {"after_lift", {{{"agent", "a0"}, {"round_trips", a0_trips}}}}})};
  };
  const auto out = Check<ReconnectsAfterPartition>(history(0));
  ASSERT_EQ(out.size(), 1u) << Messages(out);
  EXPECT_TRUE(Contains(out[0].message,
                       "a0 was refused connections by the connection limit until 5.000 s"))
      << out[0].message;
  EXPECT_EQ(out[0].evidence, (Evidence{1, 1, 2, 3}));
  EXPECT_TRUE(Check<ReconnectsAfterPartition>(history(3)).empty());
}

TEST(ReconnectsAfterPartitionTest, APartitionedHoldersGrantMustBeFreedWithinTheLease) {
  // a0 holds w1 when it is cut off for 20 s; nobody frees w1 though the run
  // goes on well past lease + reap interval.
  const std::vector<json> h = {
      RunStart("lockstep", /*lease_ms=*/3000, /*reap_ms=*/1000),
      Claim(1, "w1", "a0", 1, 500, 3500),
      Partition(2, 1000, {{"phase", "cut"}, {"agent", "a0"}, {"mode", "blackhole"},
                          {"until_us", 21'000'000}}),
      Ev(3, 30'000, "stop", {{"agent", "a0"}, {"role", "agent"}}),
      RunEnd(4, 30'000, json::array({Item("w1", "claimed")}), 0, false)};
  const auto out = Check<EventualLockRelease>(h);
  ASSERT_FALSE(out.empty());
  EXPECT_TRUE(Contains(Messages(out), "w1")) << Messages(out);
}

}  // namespace
}  // namespace faultline::checker_test
