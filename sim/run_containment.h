// Containment of one run: every process the run starts — agents, the reaper,
// the sink, a SUT's commands and whatever they start, however deep, also
// after setsid() or a double fork — ends with the run, and so does the run's
// scratch directory, even when the harness is SIGKILLed (docs/containment.md).
//
// While a RunContainment is in force, every child this process creates (by
// fork, clone or posix_spawn) is born in a PID namespace of the run's own.
// Its init is a small supervisor forked here first: it reaps orphans, and it
// has a parent-death signal. When the harness dies, even by SIGKILL, the
// supervisor SIGKILLs everything in the namespace, detaches a mount on the
// scratch directory and removes the directory, then exits; when the init of
// a PID namespace exits, the kernel kills whatever is left in it. End() (or
// the destructor) SIGKILLs the supervisor, which does the same minus the
// clean-up the harness does itself.
//
// The harness keeps seeing its children under their pids in its own
// namespace (fork's return value, kill, waitpid and /proc all agree). The
// processes inside see namespace pids: a child whose parent is the harness
// reads getppid() == 0, and a pid an agent reports about itself is one of
// the namespace's (base::ParentPidSeenByChild() tells a spawner which parent
// pid its child should see).
//
// Where the host does not allow it (creating a PID namespace needs
// CAP_SYS_ADMIN: root, or a container that grants it) or it is turned off
// (FAULTLINE_PID_NAMESPACE=off), the run goes on with what ProcessSet does
// alone — one process group, a child subreaper, a parent-death signal per
// child — and warning() says what is then not guaranteed; the run summary
// prints it.
//
// REQUIRES: one RunContainment at a time, created and ended on the thread
// that spawns the run's processes (the parent-death signal follows that
// thread); every child this process started inside is reaped before End()
// (the namespace's init waits for them to be reaped before it can go).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace faultline {

class RunContainment {
 public:
  // Starts containing. `scratch` (may be empty): a directory the supervisor
  // removes if the harness dies before End(). Never fails: without a PID
  // namespace, contained() is false and warning() says why.
  explicit RunContainment(std::string scratch);
  // End().
  ~RunContainment();
  RunContainment(const RunContainment&) = delete;
  RunContainment& operator=(const RunContainment&) = delete;

  // Kills every process left in the namespace and returns this process's
  // later children to its own namespace. Idempotent.
  void End();

  bool contained() const { return supervisor_ > 0; }
  // Non-empty when the run is not contained: what is missing and the
  // consequence, one sentence.
  const std::string& warning() const { return warning_; }
  // The supervisor's pid in this process's namespace; -1 when not contained.
  pid_t supervisor() const { return supervisor_; }

 private:
  std::string scratch_;
  std::string warning_;
  pid_t supervisor_ = -1;
  int alive_fd_ = -1;  // write end of a pipe whose end of file tells the supervisor
};

}  // namespace faultline
