// One CPU for a lockstep run (docs/determinism.md, "Performance").
//
// In lockstep exactly one process runs at a time: the engine lets a parked
// process go and blocks until it parks again. When the two sit on different
// CPUs, every hand-off wakes a CPU that went idle meanwhile, an
// inter-processor interrupt that costs far more than the hand-off itself
// (on a virtual machine, an exit to the hypervisor). On one CPU the hand-off
// is a plain switch from the process that blocks to the one it woke. Nothing
// is lost: the processes never ran in parallel.
//
// The pin changes only how fast a run goes, never what it does: the engine
// decides every step, so traces are the same pinned or not.
//
// Thread-compatible; acts on the calling thread, whose later children
// (clone, fork) inherit its CPU set.
#pragma once

#include <sched.h>

namespace faultline {

// The environment variable that turns the pin off: FAULTLINE_LOCKSTEP_PIN=0.
inline constexpr const char* kLockstepPinEnv = "FAULTLINE_LOCKSTEP_PIN";

class LockstepCpuPin {
 public:
  // Restricts the calling thread to the CPU it is running on now, unless
  // kLockstepPinEnv is "0" or the thread's CPU set cannot be read or set (then
  // nothing changes: the run is slower, not wrong).
  LockstepCpuPin();
  // Gives the thread back the CPU set it had.
  ~LockstepCpuPin();
  LockstepCpuPin(const LockstepCpuPin&) = delete;
  LockstepCpuPin& operator=(const LockstepCpuPin&) = delete;

  // The CPU the thread was pinned to, or -1 when it was not.
  int cpu() const { return cpu_; }

 private:
  cpu_set_t saved_;
  int cpu_ = -1;
};

}  // namespace faultline
