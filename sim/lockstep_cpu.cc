#include "sim/lockstep_cpu.h"

#include <cstdlib>
#include <string_view>

#include "base/monotonic_clock.h"

namespace faultline {

LockstepCpu::LockstepCpu(const ForEachProcess& for_each) {
  CPU_ZERO(&saved_);
  CPU_ZERO(&one_);
  const char* env = std::getenv(kLockstepPinEnv);
  const std::string_view mode = env == nullptr ? "" : env;
  if (mode != "1" && mode != "auto") return;
  if (sched_getaffinity(0, sizeof saved_, &saved_) != 0 || CPU_COUNT(&saved_) < 2) return;
  if (mode == "1") {
    PickCpu();
    if (cpu_ >= 0) Place(true, for_each);
    return;
  }
  adaptive_ = true;
  window_start_us_ = base::MonotonicMicros();
}

void LockstepCpu::PickCpu() {
  // Where the thread runs now: the CPU the scheduler found best for it a
  // moment ago, so runs side by side spread over the CPUs.
  const int cpu = sched_getcpu();
  CPU_ZERO(&one_);
  if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &saved_)) {
    cpu_ = -1;
    return;
  }
  CPU_SET(cpu, &one_);
  cpu_ = cpu;
}

LockstepCpu::~LockstepCpu() {
  if (switches_ > 0) sched_setaffinity(0, sizeof saved_, &saved_);
}

void LockstepCpu::Place(bool pinned, const ForEachProcess& for_each) {
  if (pinned && !pinned_) PickCpu();
  if (pinned && cpu_ < 0) return;  // no CPU to be had: stay spread
  const cpu_set_t& set = pinned ? one_ : saved_;
  sched_setaffinity(0, sizeof set, &set);
  // A process that exited meanwhile fails with ESRCH: nothing to move.
  for_each([&](pid_t pid) { sched_setaffinity(pid, sizeof set, &set); });
  pinned_ = pinned;
  ++switches_;
}

void LockstepCpu::AfterStep(const ForEachProcess& for_each) {
  if (!adaptive_ || ++steps_ < kWindowSteps) return;
  const int64_t now = base::MonotonicMicros();
  const double rate = steps_ * 1e6 / static_cast<double>(now - window_start_us_ + 1);
  steps_ = 0;
  if (trying_) {
    // The window that just ended ran the other placement: keep it only if it
    // was faster than the one before it.
    trying_ = false;
    keep_ = kKeepWindows;
    if (rate <= kept_rate_) {
      Place(!pinned_, for_each);
    } else {
      kept_rate_ = rate;
    }
  } else {
    kept_rate_ = rate;
    if (--keep_ <= 0) {
      trying_ = true;
      Place(!pinned_, for_each);
    }
  }
  // Moving the processes is not part of the next window's measurement.
  window_start_us_ = base::MonotonicMicros();
}

}  // namespace faultline
