#include "coordinator/clock.h"

#include <ctime>

namespace swarm {

namespace {

int64_t Read(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

}  // namespace

int64_t RealClock::BootMicros() { return Read(CLOCK_BOOTTIME); }
int64_t RealClock::WallMicros() { return Read(CLOCK_REALTIME); }

RealClock::RealClock() : anchor_us_(WallMicros() - BootMicros()) {}

int64_t RealClock::NowMicros() { return BootMicros() + anchor_us_; }

void RealClock::SleepMicros(int64_t micros) {
  if (micros <= 0) return;
  timespec ts{};
  ts.tv_sec = micros / 1'000'000;
  ts.tv_nsec = (micros % 1'000'000) * 1000;
  // One nanosleep: an interrupting signal ends the sleep so the caller can
  // look at its stop flag.
  nanosleep(&ts, nullptr);
}

}  // namespace swarm
