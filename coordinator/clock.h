// The clock seam: every read of time and every sleep in the coordinator goes
// through a Clock, so that the simulator can replace real time (STYLE.md 1).
//
// Times are microseconds, about since the Unix epoch. Lease deadlines and
// heartbeat times are stored in the state files in this unit and compared
// across processes, so every process on a host must read the same clock, and
// it must not step: a wall-clock step (NTP, `date -s`) would expire healthy
// leases, declare live agents dead, or stretch a dead holder's lease. The
// real clock is therefore CLOCK_BOOTTIME (shared by all processes of a host,
// never set, counting suspend) plus an anchor that all processes using one
// coordination directory share per boot (FsStore::ClockAnchor), so readings
// stay near the wall time and continue across a reboot.
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
  // The clock a simulation's database server keeps: in lockstep the
  // simulator's "server" when this process's clock is skewed off it
  // (docs/protocol.md), otherwise NowMicros(). A store that judges leases on
  // its server's clock reads this under a simulated clock.
  virtual int64_t ServerMicros() { return NowMicros(); }
  // Whether this process's clock was skewed on purpose (the simulator's
  // clock_skew fault): its own readings then differ from its server's, and a
  // store's history events say which clock they carry.
  virtual bool Skewed() const { return false; }
  // Real clocks: from now on read CLOCK_BOOTTIME + `anchor_us`, the anchor
  // every process of this boot shares (FsStore::Open sets it). Simulated
  // and fake clocks ignore it.
  virtual void SetBootAnchor(int64_t anchor_us) { (void)anchor_us; }
};

// CLOCK_BOOTTIME + an anchor, and nanosleep. Until SetBootAnchor the anchor
// is this process's own (CLOCK_REALTIME - CLOCK_BOOTTIME when constructed),
// so a clock used without a coordination directory reads about the wall
// time. Thread-compatible (SetBootAnchor before sharing it across threads).
class RealClock final : public Clock {
 public:
  RealClock();
  int64_t NowMicros() override;
  void SleepMicros(int64_t micros) override;
  void SetBootAnchor(int64_t anchor_us) override { anchor_us_ = anchor_us; }

  // The raw clocks, in microseconds.
  static int64_t BootMicros();  // CLOCK_BOOTTIME
  static int64_t WallMicros();  // CLOCK_REALTIME

 private:
  int64_t anchor_us_;
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
