// A PID namespace per run, not a cgroup: cgroup v2's cgroup.kill would need
// a delegated, writable cgroup tree (absent in most containers, and on hosts
// still on the v1 hierarchy), and it kills nothing by itself when the harness
// is SIGKILLed; something would have to survive the harness to write to it.
// A PID namespace needs only CAP_SYS_ADMIN, and its end is the kernel's:
// when its init dies, every process in it is SIGKILLed, wherever it moved
// (setsid, a double fork, a new process group). The init is ours, a forked
// copy of the harness that never execs into a program of the run, so nothing
// of the run can take its place.
//
// The supervisor runs between fork and exit only async-signal-safe calls
// (the harness may be multi-threaded elsewhere); what it needs (the rm
// command line) is prepared before the fork.
#include "sim/run_containment.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "base/child_process.h"
#include "base/monotonic_clock.h"

extern char** environ;

namespace faultline {
namespace {

// The supervisor's parent-death signal, and the harness's request to kill
// every other process of the namespace: blocked, taken with sigwaitinfo.
constexpr int kHarnessGone = SIGUSR1;
constexpr int kQuiesce = SIGUSR2;
// How often the supervisor tries to remove the scratch directory: a process
// killed a moment ago may still finish one last write into it.
constexpr int kRemoveAttempts = 20;
constexpr long kRemoveRetryNs = 50'000'000;
// How long End() waits for the supervisor to be reaped (it waits in turn for
// every zombie of the namespace to be reaped by its parent).
constexpr int64_t kEndWaitMs = 10'000;

// What the supervisor needs, ready before the fork.
struct SupervisorPlan {
  int alive_fd = -1;               // read end: end of file when the harness is gone
  int reply_fd = -1;               // write end: the scratch path, then one byte per quiesce
  char* scratch = nullptr;         // mkdtemp template, made a path by the supervisor; nullptr: none
  char* const* rm_argv = nullptr;  // rm_argv[3] is `scratch`
};

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

void ReapAll(int flags) {
  for (;;) {
    const pid_t r = waitpid(-1, nullptr, flags);
    if (r > 0 || (r < 0 && errno == EINTR)) continue;
    return;
  }
}

bool Exists(const char* path) {
  struct stat st {};
  return lstat(path, &st) == 0;
}

// The harness is gone: end the run's processes and remove its scratch.
[[noreturn]] void CleanUp(const SupervisorPlan& plan) {
  // As the namespace's init, -1 is every other process in the namespace.
  // Anywhere else it would be every process this user may signal: never.
  if (getpid() != 1) _exit(1);
  kill(-1, SIGKILL);
  ReapAll(0);
  if (plan.scratch != nullptr) {
    // A private tmpfs (disk-full faults) may sit on it in this mount
    // namespace; detach it, so that rm removes the directory itself.
    umount2(plan.scratch, MNT_DETACH);
    for (int i = 0; i < kRemoveAttempts && Exists(plan.scratch); ++i) {
      const pid_t rm = fork();
      if (rm == 0) {
        base::ResetSignalsForExec();
        execve(plan.rm_argv[0], plan.rm_argv, environ);
        _exit(127);
      }
      if (rm > 0) {
        while (waitpid(rm, nullptr, 0) < 0 && errno == EINTR) {
        }
      }
      if (!Exists(plan.scratch)) break;
      const timespec pause{0, kRemoveRetryNs};
      nanosleep(&pause, nullptr);
      kill(-1, SIGKILL);
      ReapAll(WNOHANG);
    }
  }
  _exit(0);
}

// Every other process of the namespace, killed and gone. Those whose parent
// is the harness stay zombies until it reaps them; they run nothing.
void KillOthers() {
  if (getpid() != 1) return;
  kill(-1, SIGKILL);
  ReapAll(0);
}

[[noreturn]] void Supervise(SupervisorPlan& plan) {
  // Every signal is blocked (the parent blocked them around the fork); the
  // ones we wait for are taken synchronously.
  prctl(PR_SET_NAME, "faultline-init", 0, 0, 0);
  prctl(PR_SET_PDEATHSIG, kHarnessGone, 0, 0, 0);
  // Nothing of the harness's: its files, sockets and terminal stay theirs
  // (a reader of the harness's stdout must see end of file when it exits).
  const unsigned low = static_cast<unsigned>(std::min(plan.alive_fd, plan.reply_fd));
  const unsigned high = static_cast<unsigned>(std::max(plan.alive_fd, plan.reply_fd));
  if (low > 0) close_range(0, low - 1, 0);
  if (high > low + 1) close_range(low + 1, high - 1, 0);
  close_range(high + 1, ~0U, 0);
  // The scratch directory is made here, so that from its first moment
  // someone outlives the harness to remove it.
  if (plan.scratch != nullptr && mkdtemp(plan.scratch) == nullptr) plan.scratch = nullptr;
  if (plan.scratch != nullptr) {
    WriteAll(plan.reply_fd, plan.scratch, strlen(plan.scratch));
  }
  WriteAll(plan.reply_fd, "\n", 1);
  // The harness may have died before the prctl: then no signal comes, but
  // the pipe's write end is closed.
  pollfd p{plan.alive_fd, POLLIN, 0};
  if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLIN)) != 0) CleanUp(plan);
  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGCHLD);
  sigaddset(&wanted, kHarnessGone);
  sigaddset(&wanted, kQuiesce);
  for (;;) {
    siginfo_t info{};
    const int sig = sigwaitinfo(&wanted, &info);
    if (sig == kHarnessGone) CleanUp(plan);
    if (sig == kQuiesce) {
      KillOthers();
      WriteAll(plan.reply_fd, "q", 1);
    }
    // Orphans of the run are re-parented to us: reap them.
    if (sig == SIGCHLD) ReapAll(WNOHANG);
  }
}

bool TurnedOff() {
  const char* v = std::getenv("FAULTLINE_PID_NAMESPACE");
  return v != nullptr && (std::string_view(v) == "off" || std::string_view(v) == "0");
}

// Points this process's future children back at its own PID namespace.
bool BackToOwnNamespace(std::string* error) {
  if (base::ParentPidSeenByChild() != 0) return true;  // they are born there already
  const int fd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = fmt::format("open /proc/self/ns/pid: {}", strerror(errno));
    return false;
  }
  const bool ok = setns(fd, CLONE_NEWPID) == 0;
  if (!ok) *error = fmt::format("setns(CLONE_NEWPID): {}", strerror(errno));
  close(fd);
  return ok;
}

}  // namespace

RunContainment::RunContainment(std::string scratch_template) {
  const std::string consequence =
      "a process of the run that leaves its process group (setsid, a double fork) can outlive a "
      "SIGKILLed faultline";
  std::string error;
  if (TurnedOff()) {
    warning_ = "no PID namespace for this run (FAULTLINE_PID_NAMESPACE=off): " + consequence;
  } else if (!BackToOwnNamespace(&error)) {
    // A previous run's namespace is dead: new children cannot be born there.
    warning_ = "no PID namespace for this run (" + error + "): " + consequence;
  } else if (unshare(CLONE_NEWPID) != 0) {
    warning_ = fmt::format(
        "no PID namespace for this run (unshare(CLONE_NEWPID): {}; it needs CAP_SYS_ADMIN: run as "
        "root, or give the container that capability): {}",
        strerror(errno), consequence);
  } else {
    StartSupervisor(scratch_template, consequence);
  }
  if (supervisor_ <= 0 && !scratch_template.empty()) {
    // Uncontained: the harness makes the directory; a stale one of a
    // SIGKILLed harness is swept at a later start (sim/run.cc).
    if (mkdtemp(scratch_template.data()) != nullptr) scratch_ = scratch_template;
  }
}

void RunContainment::StartSupervisor(std::string scratch_template, const std::string& consequence) {
  std::string error;
  int alive[2] = {-1, -1}, reply[2] = {-1, -1};
  if (pipe2(alive, O_CLOEXEC) != 0 || pipe2(reply, O_CLOEXEC) != 0) {
    warning_ =
        fmt::format("no PID namespace for this run (pipe: {}): {}", strerror(errno), consequence);
    for (int fd : {alive[0], alive[1], reply[0], reply[1]}) {
      if (fd >= 0) close(fd);
    }
    BackToOwnNamespace(&error);
    return;
  }
  std::vector<std::string> rm_args = {"/bin/rm", "-rf", "--", scratch_template};
  std::vector<char*> rm_argv;
  for (std::string& a : rm_args) rm_argv.push_back(a.data());
  rm_argv.push_back(nullptr);
  SupervisorPlan plan;
  plan.alive_fd = alive[0];
  plan.reply_fd = reply[1];
  // mkdtemp fills the template in the supervisor's copy of rm's argument.
  plan.scratch = scratch_template.empty() ? nullptr : rm_argv[3];
  plan.rm_argv = rm_argv.data();

  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = fork();
  if (pid == 0) Supervise(plan);
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(alive[0]);
  close(reply[1]);
  if (pid < 0) {
    close(alive[1]);
    close(reply[0]);
    warning_ = fmt::format("no PID namespace for this run (fork of its init: {}): {}",
                           strerror(fork_errno), consequence);
    BackToOwnNamespace(&error);
    return;
  }
  supervisor_ = pid;
  alive_fd_ = alive[1];
  reply_fd_ = reply[0];
  std::string line;
  if (ReadLine(&line)) scratch_ = line;
}

bool RunContainment::ReadLine(std::string* line) {
  line->clear();
  for (;;) {
    char c = 0;
    const ssize_t n = read(reply_fd_, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (c == '\n') return true;
    line->push_back(c);
  }
}

void RunContainment::Quiesce() {
  if (supervisor_ <= 0) return;
  if (kill(supervisor_, kQuiesce) != 0) return;
  for (;;) {
    char c = 0;
    const ssize_t n = read(reply_fd_, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    return;  // 'q', or end of file if the supervisor is gone
  }
}

RunContainment::~RunContainment() { End(); }

void RunContainment::End() {
  if (supervisor_ <= 0) return;
  // The kernel kills the rest of the namespace as its init goes.
  kill(supervisor_, SIGKILL);
  const int64_t give_up = base::MonotonicMillis() + kEndWaitMs;
  for (;;) {
    const pid_t r = waitpid(supervisor_, nullptr, WNOHANG);
    if (r == supervisor_ || (r < 0 && errno != EINTR)) break;
    if (base::MonotonicMillis() >= give_up) {
      // A child of ours in the namespace was never reaped; the init waits
      // for it. Not fatal: the namespace is dead, nothing in it runs.
      std::fprintf(stderr,
                   "faultline: the run's PID namespace (init %d) did not finish within %lld ms: a "
                   "child of the harness in it was never reaped\n",
                   supervisor_, static_cast<long long>(kEndWaitMs));
      break;
    }
    const timespec pause{0, 1'000'000};
    nanosleep(&pause, nullptr);
  }
  close(alive_fd_);
  close(reply_fd_);
  alive_fd_ = reply_fd_ = -1;
  supervisor_ = -1;
  std::string error;
  BackToOwnNamespace(&error);
}

}  // namespace faultline
