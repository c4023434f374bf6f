#include "sim/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace faultline {
namespace {

std::vector<size_t> Picks(Scheduler& s, const std::vector<size_t>& runnable, int n) {
  std::vector<size_t> out;
  for (int i = 0; i < n; ++i) out.push_back(s.Pick(runnable));
  return out;
}

TEST(SchedulerTest, RandomIsSeededAndCoversEveryProcess) {
  auto a = MakeRandomScheduler(Rng(1));
  auto b = MakeRandomScheduler(Rng(1));
  auto c = MakeRandomScheduler(Rng(2));
  std::vector<size_t> runnable = {0, 3, 5, 9};
  auto pa = Picks(*a, runnable, 200);
  EXPECT_EQ(pa, Picks(*b, runnable, 200));
  EXPECT_NE(pa, Picks(*c, runnable, 200));
  std::set<size_t> seen(pa.begin(), pa.end());
  EXPECT_EQ(seen, std::set<size_t>(runnable.begin(), runnable.end()));
}

TEST(SchedulerTest, PctRunsTheHighestPriorityUntilAChangePoint) {
  // Depth 1: no change points, so one process keeps running while runnable.
  auto s = MakePctScheduler(Rng(5), 1, 100);
  std::vector<size_t> runnable = {0, 1, 2, 3};
  auto picks = Picks(*s, runnable, 50);
  EXPECT_EQ(std::set<size_t>(picks.begin(), picks.end()).size(), 1u);
  // When it is not runnable, another runs.
  std::vector<size_t> others;
  for (size_t p : runnable) {
    if (p != picks[0]) others.push_back(p);
  }
  EXPECT_NE(s->Pick(others), picks[0]);
}

TEST(SchedulerTest, PctChangePointsDemoteTheRunningProcess) {
  // With depth 3 over 20 steps, the running process changes at most twice
  // while all stay runnable, and at least once for some seed.
  int changed_somewhere = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto s = MakePctScheduler(Rng(seed), 3, 20);
    auto picks = Picks(*s, {0, 1, 2}, 20);
    int switches = 0;
    for (size_t i = 1; i < picks.size(); ++i) switches += picks[i] != picks[i - 1];
    EXPECT_LE(switches, 2) << seed;
    changed_somewhere += switches > 0;
  }
  EXPECT_GT(changed_somewhere, 0);
}

TEST(SchedulerTest, RngStreamsAreIndependent) {
  Rng root(42);
  EXPECT_EQ(root.Split("a").Next(), Rng(42).Split("a").Next());
  EXPECT_NE(root.Split("a").Next(), root.Split("b").Next());
  Rng r(7);
  for (int i = 0; i < 1000; ++i) {
    int64_t v = r.Between(3, 9);
    ASSERT_GE(v, 3);
    ASSERT_LE(v, 9);
  }
  EXPECT_EQ(r.Between(5, 5), 5);
}

}  // namespace
}  // namespace faultline
