// Lockstep control of unmodified programs: the scheduler's side of
// libfaultline_interpose.so (interpose/, sim/protocol/interpose_protocol.h,
// docs/interposition.md).
//
// Use: start each root process with Environment() added to its environment,
// Adopt() it, then repeatedly pick one of Runnable() and Step() it. When
// nothing is runnable, AdvanceClock() moves the simulated clock to the next
// timer; when that fails too, either Done() (every process exited) or the
// processes are deadlocked. Kill() is a crash at the point where a process
// is parked.
//
//   auto procs = InterposedProcesses::Listen(options);   // Result<unique_ptr>
//   pid = spawn(argv, env + (*procs)->Environment());
//   (*procs)->Adopt(pid);
//   while (!(*procs)->Done()) {
//     auto r = (*procs)->Runnable();
//     if (r.empty()) { if (!(*procs)->AdvanceClock()) break; continue; }
//     status = (*procs)->Step(r[rng() % r.size()]);
//   }
//
// Contract:
// - One controlled process runs at a time. Step returns once the stepped
//   process has parked again (at a yield point, blocked, sleeping) or
//   exited, and every process it created (fork, posix_spawn, an exec's new
//   image) has connected and parked at its start. An exit counts once the
//   kernel has made the process a zombie, so its parent's wait sees it at
//   once. Hence the table, Runnable() and every process's point depend only
//   on the programs and the sequence of calls made here, never on timing.
// - Pids: the processes may live in a PID namespace below the caller's
//   (sim/run_containment.h), where they see other pids than the caller.
//   Adopt, the names of pids in paths and what the processes say (fork,
//   kill) use theirs (InterposedProcess::pid); the kernel calls made here
//   (kill, waitpid, /proc) use the caller's (host_pid), learnt from each
//   connection's peer credentials, which the kernel gives in the receiver's
//   namespace, or before a process connects from NSpid in /proc.
// - Names do not depend on pids: roots are "1", "2", ... in Adopt order; the
//   n-th child a process announces is "<parent>.<n>"; exec keeps the name.
//   Pids of known processes inside points' paths are replaced by
//   "{pid:<name>}" (a temp file named after $$ stays the same across runs).
// - Blocked processes become runnable only after something that could
//   unblock them happened, or at their deadline: a wait for a child once one
//   of its children exited; anything else (an empty pipe, a lock held by
//   another) once another process ran a step that did more than block
//   again, or a process exited or was killed. A process sent a signal by
//   another (kill, killpg) runs to take it even while sleeping or blocked;
//   one sent SIGKILL is seen dead before the sender's step ends.
// - Errors are harness errors and end the run (the caller destroys the
//   object): a step that does not park within options.step_timeout_ms (the
//   message says what the process does, from /proc), an escape (a thread, a
//   static binary, a child that never connects), a protocol violation.
// - The destructor SIGKILLs every process it knows that is still alive,
//   waits for each to exit and reaps its own children: nothing it controlled
//   survives it (descendants that never connected are the caller's: make the
//   caller a subreaper to catch them).
// Not thread-safe. Wall-clock time is used for the watchdog only.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace faultline {

// A process under control, as the table shows it.
struct InterposedProcess {
  enum class State {
    kStarting,  // announced or adopted; has not said hello yet
    kParked,    // waiting at a yield point (or its start: proc.*)
    kBlocked,   // its call would block; waiting for something to happen
    kSleeping,  // until wake_us
    kRunning,   // being stepped
    kExited,
  };
  std::string name;    // "1", "1.2", ...
  std::string parent;  // "" for a root
  pid_t pid = 0;       // as the controlled processes see it (their PID namespace)
  pid_t host_pid = 0;  // the same process in the caller's namespace; 0 until known
  std::string argv0;  // of the current image
  State state = State::kStarting;
  // kParked: the yield point (sys.open, ...; proc.start, proc.fork or
  // proc.exec at a process's start) and the path(s) it concerns, relative
  // to the coordination directory. kBlocked: point is what it waits for
  // (FL_IP_BLOCK_*), item a detail ("fd 0").
  std::string point, item, to;
  int64_t wake_us = -1;  // kSleeping: when; kBlocked: deadline, -1 none
  int wait_status = -1;  // kExited: wait status, when this object reaped it
  uint64_t steps = 0;    // steps taken
};

const char* ToString(InterposedProcess::State state);

class InterposedProcesses {
 public:
  struct Options {
    std::string library;                       // path of libfaultline_interpose.so (required)
    std::string coordination_dir;              // calls on paths below it yield (required)
    std::string socket_path;                   // "" = a fresh one in a private temp directory
    int64_t epoch_us = 1'700'000'000'000'000;  // CLOCK_REALTIME at simulated time 0
    int64_t start_us = 0;                      // the simulated clock at the start
    int64_t step_us = 1;                       // the clock advances this much per step
    int step_timeout_ms = 10'000;              // watchdog of one step (wall time)
  };

  // Listens on the socket. Errors: the socket cannot be made.
  static base::Result<std::unique_ptr<InterposedProcesses>> Listen(Options options);
  ~InterposedProcesses();
  InterposedProcesses(const InterposedProcesses&) = delete;
  InterposedProcesses& operator=(const InterposedProcesses&) = delete;

  // Variables to add to a root process's environment (LD_PRELOAD first).
  std::vector<std::pair<std::string, std::string>> Environment() const;

  // Takes `pid` (as the controlled processes see it: for a caller in their
  // namespace, its own), a process started with Environment(), under
  // control: waits until it has connected and parked at proc.start.
  // Returns its name.
  base::Result<std::string> Adopt(pid_t pid);

  // Names of the processes that may be stepped now, in creation order.
  std::vector<std::string> Runnable() const;
  // Lets `name` (one of Runnable()) go and waits until things settle (see
  // the contract). The clock advances by step_us first.
  base::Status Step(const std::string& name);
  // When nothing is runnable: moves the clock to the earliest wake-up of a
  // sleeping process or blocked deadline. False if there is none.
  bool AdvanceClock();
  // The earliest wake-up of a sleeping process or blocked deadline; -1 if
  // there is none.
  int64_t NextWakeUs() const;
  // For a caller whose clock is the one clock (the engine): sets the
  // simulated time; it never goes back.
  void SetClock(int64_t now_us) { now_us_ = std::max(now_us_, now_us); }
  // SIGKILLs a parked, blocked or sleeping process and waits until it has
  // exited: whatever it had not done yet stays undone.
  base::Status Kill(const std::string& name);

  bool Done() const;  // every process known has exited
  int64_t now_us() const { return now_us_; }
  // nullptr if unknown.
  const InterposedProcess* Find(const std::string& name) const;
  std::vector<const InterposedProcess*> Processes() const;
  // "1.2 sys.rename .tmp -> board", for logs and traces.
  std::string Describe(const std::string& name) const;

 private:
  struct Conn {
    int fd = -1;
    std::string buffer;
    pid_t peer = 0;  // SO_PEERCRED: the connecting process, in our namespace
  };
  struct Proc {
    InterposedProcess pub;
    Conn conn;
    int children = 0;
    bool root = false;
    bool exec_pending = false;  // said "exec": the next end of file is not an exit
    bool exec_closed = false;   // ... and it came: the new image's hello is due
    uint64_t blocked_at = 0;    // events_ when it blocked
    uint64_t child_exits = 0;   // of its children, ever
    uint64_t child_exits_at_block = 0;
    bool signalled = false;     // a signal came while sleeping or blocked
  };

  // A connection that said hello for a pid not announced yet.
  struct Hello {
    Conn conn;
    pid_t ppid = 0;
    std::string argv0;
  };

  explicit InterposedProcesses(Options options);
  base::Status Settle(Proc* stepping);
  bool Settled(Proc* stepping, std::string* waiting_for);
  base::Status Pump(int timeout_ms);
  base::Status Accept();
  base::Status ReadConn(Conn* conn, bool* eof);
  base::Status HandleNew(size_t index);
  base::Status HandleMessage(Proc* p, const std::string& line);
  base::Status Attach(Proc* p, Conn conn, const std::string& argv0);
  base::Status ConnClosed(Proc* p);
  base::Status Signalled(Proc* sender, pid_t target, int sig);
  base::Status AwaitExit(Proc* p);
  void MarkExited(Proc* p);
  base::Status CheckChildren(Proc* p, std::string* waiting_for);
  Proc* AddChild(Proc* parent, pid_t pid);
  Proc* Live(pid_t pid);
  // p's pid in our namespace; for a process that has not connected yet,
  // found among the descendants of its parent (of this process, for a
  // root) by NSpid. 0 if it is not there (it is gone).
  pid_t Host(Proc* p);
  bool InControlledNamespace(pid_t host) const;
  Proc* Named(const std::string& name);
  std::string WithoutPids(const std::string& text) const;
  bool Go(Proc* p);

  Options options_;
  std::string private_dir_;  // holds the socket when options named none
  int listen_fd_ = -1;
  std::vector<std::unique_ptr<Proc>> procs_;  // creation order
  std::map<std::string, Proc*> by_name_;
  std::map<pid_t, Proc*> live_;             // by pid, not exited
  std::map<pid_t, std::string> pid_names_;  // every pid seen, for WithoutPids
  std::vector<Conn> unidentified_;          // accepted, no hello read yet
  std::map<pid_t, Hello> early_hellos_;     // said hello before being announced
  std::string namespace_;  // /proc/self/ns/pid_for_children at Listen: where our children live
  int roots_ = 0;
  int64_t now_us_ = 0;
  uint64_t events_ = 0;  // things that could unblock a blocked process
};

}  // namespace faultline
