// Where a lockstep run's processes may run (docs/determinism.md,
// "Performance").
//
// In lockstep exactly one process runs at a time: the engine lets a parked
// process go and blocks until it parks again. When the two sit on different
// CPUs and the machine has an idle one, every hand-off wakes a CPU that went
// idle meanwhile: an inter-processor interrupt, on a virtual machine an exit
// to the hypervisor, which costs more than the hand-off itself. On one CPU
// the hand-off is a plain switch from the process that blocks to the one it
// woke. But when every CPU is busy with other work, one CPU is a smaller
// share of the machine than all of them. Measured here, one CPU was up to 2x
// faster with a CPU to spare and 30-40 % slower with every CPU busy, so the
// default stays as it was (wherever the scheduler puts the processes), and
// kLockstepPinEnv chooses: "1" pins the run to one CPU once its processes
// said hello; "auto" measures: one window of steps spread, one pinned, keeps
// the faster and tries the other again every few windows.
//
// Placement changes only how fast a run goes, never what it does: the engine
// decides every step, so traces are the same pinned, spread or switching.
//
// Thread-compatible; acts on the calling thread (whose later children inherit
// its CPU set) and on the processes the caller names when it moves them.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>

namespace faultline {

// FAULTLINE_LOCKSTEP_PIN: "1" one CPU, "auto" measure and choose; unset or
// anything else: never placed.
inline constexpr const char* kLockstepPinEnv = "FAULTLINE_LOCKSTEP_PIN";

class LockstepCpu {
 public:
  // Steps per measured window, and exploited windows between two tries of
  // the other placement.
  static constexpr int kWindowSteps = 256;
  static constexpr int kKeepWindows = 8;

  // Calls `each_process` with every live process of the run.
  using ForEachProcess = std::function<void(const std::function<void(pid_t)>&)>;

  // Starts placing the calling thread and the processes `for_each` names as
  // kLockstepPinEnv says. Nothing ever changes when it says nothing, when the
  // thread may use one CPU only, or when its CPU set cannot be read.
  explicit LockstepCpu(const ForEachProcess& for_each);
  // Gives the thread back the CPU set it had.
  ~LockstepCpu();
  LockstepCpu(const LockstepCpu&) = delete;
  LockstepCpu& operator=(const LockstepCpu&) = delete;

  // Counts one step; at the end of a window may move the thread and every
  // process `for_each` names to the other placement.
  void AfterStep(const ForEachProcess& for_each);

  bool pinned() const { return pinned_; }
  int switches() const { return switches_; }

 private:
  void Place(bool pinned, const ForEachProcess& for_each);
  void PickCpu();  // one_ and cpu_: the CPU the thread runs on, -1 if none

  cpu_set_t saved_;  // the thread's CPU set before the run
  cpu_set_t one_;    // the one CPU
  bool adaptive_ = false;
  bool pinned_ = false;
  bool trying_ = false;  // this window runs the placement being tried
  int keep_ = 1;         // windows before the next try
  int cpu_ = -1;         // the one CPU, -1 until picked
  int steps_ = 0;        // in this window
  int64_t window_start_us_ = 0;
  double kept_rate_ = 0;  // steps/s of the last window of the kept placement
  int switches_ = 0;
};

}  // namespace faultline
