// Stopping a lockstep run between two scheduling decisions, to look inside
// its processes (docs/debugging.md; `faultline replay --stop-at`).
//
// The engine calls a StopController, when one is given (EngineOptions::stop),
// at every stop point of a lockstep run: after the scheduler has picked the
// next process and before that process runs (or a fault takes it), and once
// more when the scheduling loop has ended, before the engine stops what
// still runs. A pick is an agent's decision or, with "interleave":
// "syscalls", one step of a process inside an agent's command. At a stop
// point every live controlled process is parked (at its hello, a yield
// point, a sleep, or the end of its command; an interposed process at a
// sys.* or proc.* point, blocked or asleep), blocked on its control channel
// or its interposition socket: it can be inspected and a debugger can
// attach.
//
// A controller only observes. It must not touch the processes' control
// channels, signal them, or change the coordination directory; the engine
// draws nothing from it, so a run with a controller writes the same trace as
// one without. Blocking in Between is allowed (the run waits); the engine
// does not count the time spent there against the run's wall-time limit.
//
// Thread-compatible: called from the engine's thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/control_connection.h"

namespace faultline {

// One controlled process as the engine knows it at a stop point: one of the
// run's own processes, or a process of an agent's command under
// interposition ("interleave": "syscalls"; `command` is set).
struct StopProcess {
  std::string id;    // "a0", "reaper"; interposed: "a0/1.2" (its agent, its name in the command)
  std::string role;  // "agent" | "reaper" (or what the system under test names it); "command"
  pid_t pid = -1;    // of its latest start
  bool alive = false;
  // Where it waits (alive only). Interposed and parked at a point: kYield with
  // the point and its item (a rename's "from -> to"); otherwise kNone and
  // `state` says what it waits for.
  Parked parked;
  // Interposed only: its name in its command's tree ("1", "1.2"), the agent
  // whose command it is, its program (file name), its state ("parked",
  // "blocked", "sleeping", "starting") and where it is, as a sys_step says.
  std::string command;
  std::string owner;
  std::string program;
  std::string state;
  std::string at;
  int64_t wakes_at_us = -1;       // parked in a sleep: run time it becomes runnable
  int64_t stalled_until_us = -1;  // held by a fault until this run time
  int starts = 0;                 // how many times it was started
};

struct StopView {
  uint64_t lines = 0;                  // trace lines written so far: the next line is seq `lines`
  uint64_t steps = 0;                  // processes resumed so far
  int64_t t_us = 0;                    // run time
  std::string coord;                   // the coordination directory
  std::vector<StopProcess> processes;  // in set-up order
  int next = -1;                       // index of the process picked to run next; -1 when none
  bool ending = false;                 // the scheduling loop has ended; what lives is stopped next
};

class StopController {
 public:
  virtual ~StopController() = default;
  // Every trace line, as it is written (before the next stop point).
  virtual void Observe(const nlohmann::json& line) = 0;
  // A stop point of a lockstep run (see above). Returns when the run may go on.
  virtual void Between(const StopView& view) = 0;
};

}  // namespace faultline
