// What a child process does between fork/clone and exec so that the program
// it runs starts with the signal state a fresh process has.
#pragma once

#include <sys/types.h>

namespace base {

// Sets every signal's disposition to SIG_DFL and empties the signal mask.
// exec resets caught signals by itself, but an ignored signal (SIG_IGN) and
// the mask survive it, and a parent that blocks signals around the spawn
// (so that no handler runs in the child before exec) hands its mask down.
// Call in the child just before exec, never in a process that keeps running
// its own code: installed handlers are gone afterwards. Async-signal-safe.
void ResetSignalsForExec();

// The pid a child created by this process now reads from getppid(): this
// process's pid, or 0 when new children are born in a PID namespace below
// this process's own (sim/run_containment.h: a parent outside a child's
// namespace reads as 0). A spawner compares the child's getppid() with it to
// notice that the parent died before the child set its parent-death signal;
// inside a run's namespace that check cannot fire, and need not: the
// namespace dies with the harness. Not async-signal-safe; call before forking.
pid_t ParentPidSeenByChild();

}  // namespace base
