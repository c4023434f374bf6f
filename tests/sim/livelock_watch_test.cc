// LivelockWatch (sim/livelock_watch.h): steps at one simulated instant are
// counted until the bound; time moving on starts the count again; the report
// names the busiest processes (ties in process order) and their points.
#include "sim/livelock_watch.h"

#include <gtest/gtest.h>

namespace faultline {
namespace {

TEST(LivelockWatchTest, TripsAtTheBoundOfStepsAtOneInstant) {
  LivelockWatch watch(5);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(watch.OnStep(100, 0, "a0", "lock.busy", "claim"));
  EXPECT_TRUE(watch.OnStep(100, 1, "a1", "claim.locked", "w1"));
}

TEST(LivelockWatchTest, TimeMovingOnStartsTheCountAgain) {
  LivelockWatch watch(3);
  int64_t t = 0;
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(watch.OnStep(t, 0, "a0", "lock.busy", "claim"));
    EXPECT_FALSE(watch.OnStep(t, 1, "a1", "", ""));
    t += 1000;
  }
}

TEST(LivelockWatchTest, ReportNamesTheBusiestProcessesAndPoints) {
  LivelockWatch watch(10);
  watch.OnStep(0, 0, "a0", "claim.locked", "w1");  // an earlier instant: forgotten
  watch.OnStep(1'200'000, 2, "a2", "register.written", "");
  for (int i = 0; i < 7; ++i) watch.OnStep(1'200'000, 0, "a0", "lock.busy", "claim");
  watch.OnStep(1'200'000, 1, "a1", "", "");
  EXPECT_TRUE(watch.OnStep(1'200'000, 0, "a0", "claim.locked", "w1"));
  EXPECT_EQ(watch.Report(),
            "no simulated time passed in 10 steps at 1.200 s: a0 took 8 steps, at lock.busy "
            "(claim) x7, claim.locked (w1) x1; a1 took 1 steps; a2 took 1 steps, at "
            "register.written x1");
}

}  // namespace
}  // namespace faultline
