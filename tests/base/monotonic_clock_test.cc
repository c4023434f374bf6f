// base::MonotonicMicros / MonotonicMillis read CLOCK_MONOTONIC in the units
// they name and never go backwards.
#include "base/monotonic_clock.h"

#include <gtest/gtest.h>
#include <time.h>

#include <cstdint>

namespace base {
namespace {

int64_t RawMicros() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

TEST(MonotonicClockTest, NeverGoesBackwards) {
  int64_t last = MonotonicMicros();
  for (int i = 0; i < 200'000; ++i) {
    const int64_t now = MonotonicMicros();
    ASSERT_GE(now, last) << "read " << i;
    last = now;
  }
}

TEST(MonotonicClockTest, AdvancesWithRealTime) {
  // Spin (not sleep) until the raw clock has moved 2 ms; ours must have too.
  const int64_t start = MonotonicMicros();
  const int64_t raw_start = RawMicros();
  while (RawMicros() - raw_start < 2000) {
  }
  EXPECT_GE(MonotonicMicros() - start, 2000);
}

TEST(MonotonicClockTest, ReadsCLOCK_MONOTONICInMicroseconds) {
  // A raw read taken between two of ours lies between them.
  const int64_t before = MonotonicMicros();
  const int64_t raw = RawMicros();
  const int64_t after = MonotonicMicros();
  EXPECT_LE(before, raw);
  EXPECT_LE(raw, after);
}

TEST(MonotonicClockTest, MillisAreMicrosOverAThousand) {
  const int64_t before = MonotonicMicros() / 1000;
  const int64_t ms = MonotonicMillis();
  const int64_t after = MonotonicMicros() / 1000;
  EXPECT_LE(before, ms);
  EXPECT_LE(ms, after);
}

}  // namespace
}  // namespace base
