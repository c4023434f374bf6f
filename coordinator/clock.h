// The clock seam: every read of time and every sleep in the coordinator goes
// through a Clock, so that the simulator can replace real time (STYLE.md 1).
//
// Times are microseconds since the Unix epoch. Lease deadlines and heartbeat
// times are stored in the state files in this unit and compared across
// processes, so the real clock is CLOCK_REALTIME, not a per-process clock.
#pragma once

#include <cstdint>

namespace swarm {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMicros() = 0;
  // Sleeps for `micros` (<= 0: returns at once). May return early when a
  // signal arrives; callers re-check their own stop condition.
  virtual void SleepMicros(int64_t micros) = 0;
  // True when time moves only through SleepMicros (the simulator's lockstep,
  // FakeClock): a wait on real I/O does not advance it, so a caller that
  // waits for a socket must settle the outcome within one step and then
  // spend the time on this clock (coordinator/model_client.h).
  virtual bool Simulated() const { return false; }
};

// CLOCK_REALTIME and nanosleep. Thread-safe.
class RealClock final : public Clock {
 public:
  int64_t NowMicros() override;
  void SleepMicros(int64_t micros) override;
};

// A manual clock for tests: time moves only by Advance() or SleepMicros().
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_micros = 1'000'000'000'000'000) : now_(start_micros) {}
  int64_t NowMicros() override { return now_; }
  void SleepMicros(int64_t micros) override {
    if (micros > 0) now_ += micros;
  }
  bool Simulated() const override { return true; }
  void Advance(int64_t micros) { now_ += micros; }
  void Set(int64_t micros) { now_ = micros; }

 private:
  int64_t now_;
};

}  // namespace swarm
