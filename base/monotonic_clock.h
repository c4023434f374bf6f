// CLOCK_MONOTONIC as an integer count, for deadlines and durations measured
// in real time inside one process (poll timeouts, wall limits, run timing).
//
// Not a seam: code whose time the simulator must control reads a swarm::Clock
// (coordinator/clock.h) or the engine's simulated time instead. These values
// are per-boot and mean nothing across machines; never store them as dates.
// Async-signal-safe (clock_gettime is).
#pragma once

#include <time.h>

#include <cstdint>

namespace base {

// Microseconds since an arbitrary fixed point (boot); never goes backwards.
inline int64_t MonotonicMicros() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

// The same clock in milliseconds (MonotonicMicros() / 1000, rounded down).
inline int64_t MonotonicMillis() { return MonotonicMicros() / 1000; }

}  // namespace base
