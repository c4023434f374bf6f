// Containment of one run: every process the run starts — agents, the reaper,
// the sink, a SUT's commands and whatever they start, however deep, also
// after setsid() or a double fork — ends with the run, and so does the run's
// scratch directory, even when the harness is SIGKILLed (docs/containment.md).
//
// While a RunContainment is in force, every child this process creates (by
// fork, clone or posix_spawn) is born in a PID namespace of the run's own.
// Its init is a small supervisor forked here first: it creates the run's
// scratch directory, reaps orphans, and has a parent-death signal. When the
// harness dies, even by SIGKILL, the supervisor SIGKILLs everything in the
// namespace, detaches a mount on the scratch directory and removes the
// directory, then exits; when the init of a PID namespace exits, the kernel
// kills whatever is left in it. At a run's end the harness calls Quiesce()
// (everything but the supervisor is killed), removes the scratch directory
// itself, then End(): the supervisor stays until the directory is gone, so
// no moment of the run is without someone to clean up after a SIGKILL.
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
  // Starts containing. `scratch_template` (mkdtemp's, ending in XXXXXX; may
  // be empty: no scratch directory) names the directory to create; the
  // supervisor removes it if the harness dies before End(). Never fails:
  // without a PID namespace, contained() is false, warning() says why, and
  // this process creates the directory.
  explicit RunContainment(std::string scratch_template);
  // End().
  ~RunContainment();
  RunContainment(const RunContainment&) = delete;
  RunContainment& operator=(const RunContainment&) = delete;

  // The scratch directory created; empty if none was asked for or mkdtemp
  // failed.
  const std::string& scratch() const { return scratch_; }

  // Kills every process in the namespace but the supervisor and waits until
  // they are gone (those that are this process's children are left to it to
  // reap), so that nothing writes into the scratch directory any more. No-op
  // when not contained.
  void Quiesce();

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
  void StartSupervisor(std::string scratch_template, const std::string& consequence);
  // Reads one line the supervisor wrote; false at end of file.
  bool ReadLine(std::string* line);

  std::string scratch_;
  std::string warning_;
  pid_t supervisor_ = -1;
  int alive_fd_ = -1;  // write end of a pipe whose end of file tells the supervisor
  int reply_fd_ = -1;  // read end of the supervisor's replies
};

}  // namespace faultline
