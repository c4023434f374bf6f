// The set of child processes one run supervises: agents, the reaper, the sink.
//
// Every child of a set
//   - runs argv[0] (an absolute path) with the parent's environment plus
//     SpawnSpec::env, stdin on /dev/null, stdout and stderr appended to
//     SpawnSpec::log_path;
//   - inherits exactly fds 0, 1, 2 and, with a control channel, fd 3: one end
//     of a SOCK_STREAM socketpair, named by FAULTLINE_CTL_FD=3
//     (sim/protocol/control_protocol.h). Every other fd of the parent is
//     closed at exec, whether or not it was opened with O_CLOEXEC;
//   - starts with default signal dispositions and an empty signal mask;
//   - sits in one process group shared by the set's children (the first
//     leads it; once all have been reaped, the next child starts a new one),
//     so KillAll also reaches what the children forked;
//   - has PR_SET_PDEATHSIG(SIGKILL): when the harness dies, even by SIGKILL,
//     the kernel kills the child.
//
// The constructor makes this process a child subreaper
// (PR_SET_CHILD_SUBREAPER, process-wide and permanent), so that what a child
// forks is re-parented to the harness, not to init, when the child dies;
// KillAll and the destructor kill and reap those in the set's process group
// too. Only a SIGKILLed harness can leave such grandchildren running: the
// parent-death signal reaches the children alone.
//
// Ownership: the set owns its children and the parent ends of their control
// channels. Child::ctl_fd stays open and valid until CloseControl(pid) or the
// set's destruction, even after the child has been reaped; never close it
// yourself. Destruction SIGKILLs and reaps every child still unreaped and
// closes every control fd.
//
// Threads: not thread-safe, and stricter than thread-compatible. Call every
// method from one thread, and let that thread outlive the children: the
// kernel delivers the parent-death signal when the *thread* that spawned a
// child exits. Spawn reads `environ`, so no other thread may setenv() during
// it. Reap the set's children only through Wait/Poll/KillAll: a waitpid(-1)
// elsewhere in the process, or SIGCHLD set to SIG_IGN, loses their exit
// statuses (they then read as ExitStatus{}, "unknown").
//
// Errors: Spawn returns a Status that names the child, the program and the
// step that failed (opening the log, exec, setting the fd limit, ...); a
// failed Spawn leaves no process and no fd behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace faultline {

struct SpawnSpec {
  std::string id;                 // "a3", "reaper": names the child in errors
  std::vector<std::string> argv;  // argv[0] is an absolute path; no PATH search
  // Added to, or overriding, the parent's environment; for a key given twice
  // the last value wins.
  std::vector<std::pair<std::string, std::string>> env;
  // stdout and stderr are appended here (created 0644 if missing); empty:
  // /dev/null.
  std::string log_path;
  // Give the child one end of a socketpair as fd 3 and FAULTLINE_CTL_FD=3.
  // Without it, an inherited FAULTLINE_CTL_FD is removed from the child's
  // environment (it would name an fd the child does not have) unless `env`
  // sets one.
  bool control_channel = true;
  // > 0: the child's soft RLIMIT_NOFILE is set to this (the hard limit stays,
  // so that it can be raised again later).
  int nofile_limit = 0;
  // Non-empty: the child's working directory (a failure to enter it is a
  // Spawn error).
  std::string cwd;
};

// How a child ended. Tells exit(9) from death by SIGKILL.
struct ExitStatus {
  bool exited = false;  // the child called exit(): `code` is valid
  int code = -1;
  int signal = 0;  // != 0: killed by this signal
  // The kernel's final figures (wait4 rusage): peak resident set and CPU
  // time; -1 when the status is unknown.
  int64_t max_rss_kb = -1;
  int64_t user_us = -1, sys_us = -1;
  // "exit 9", "killed by SIGKILL", or "unknown" (status not available).
  std::string ToString() const;
};

struct Child {
  std::string id;
  pid_t pid = -1;
  // Parent end of the control channel (blocking, close-on-exec), owned by the
  // set; -1 without a control channel.
  int ctl_fd = -1;
};

class ProcessSet {
 public:
  ProcessSet();
  // SIGKILLs and reaps every child not yet reaped, closes every control fd.
  ~ProcessSet();
  ProcessSet(const ProcessSet&) = delete;
  ProcessSet& operator=(const ProcessSet&) = delete;

  // Starts a child and returns once it has exec'd (or failed to): an exec
  // failure is an error here, not an exit status later.
  base::Result<Child> Spawn(const SpawnSpec& spec);

  // Sends `sig` to a child that has not been reaped yet. False if `pid` is not
  // such a child (so a stale pid can never hit a stranger) or kill() fails.
  bool Signal(pid_t pid, int sig);

  // Blocks until the child ends, reaps it and returns how it ended. For a
  // child already reaped, returns the recorded status; for a pid that never
  // was a child of this set, ExitStatus{} ("unknown").
  ExitStatus Wait(pid_t pid);

  // Like Wait, but std::nullopt while the child runs (or is stopped).
  std::optional<ExitStatus> Poll(pid_t pid);

  // SIGKILLs every unreaped child and the rest of the set's process group,
  // then reaps them all (including descendants re-parented to this process).
  // Control fds stay open.
  void KillAll();

  // Unreaped children, in spawn order.
  std::vector<pid_t> Live() const;

  // Closes the parent end of `pid`'s control channel early (e.g. once a
  // killed child's last events are read). No-op if already closed or unknown.
  void CloseControl(pid_t pid);

 private:
  struct Record {
    std::string id;
    uint64_t seq = 0;  // spawn order
    int ctl_fd = -1;
    bool reaped = false;
    ExitStatus status;
  };

  void Reaped(Record& record, const ExitStatus& status);

  // Every child spawned, reaped or not, by pid. A pid the kernel reuses for a
  // later child replaces the old record; the old ctl fd moves to retired_fds_.
  std::map<pid_t, Record> children_;
  std::vector<int> retired_fds_;
  pid_t pgid_ = 0;  // process group new children join; 0: the next one leads
  uint64_t next_seq_ = 0;
};

}  // namespace faultline
