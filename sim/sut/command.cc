#include "sim/sut/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/child_process.h"
#include "base/fd_io.h"
#include "base/monotonic_clock.h"

extern char** environ;

namespace faultline::sut {
namespace {

// The guard's parent-death signal. Its handler SIGKILLs the guard's group.
constexpr int kParentGone = SIGUSR2;
// After the group is killed, how long its output may take to reach end of file
// (something that left the group may hold a copy of the pipes).
constexpr int64_t kDrainAfterKillUs = 2'000'000;
constexpr size_t kFirstLineMax = 200;

// The command's environment: the caller's minus the control channel (the
// command must not speak on the caller's channel), with `extra` applied.
std::vector<std::string> Environment(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  auto overridden = [&](std::string_view key) {
    if (key == "FAULTLINE_CTL_FD") return true;
    return std::any_of(extra.begin(), extra.end(), [&](const auto& kv) { return kv.first == key; });
  };
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (!overridden(entry.substr(0, entry.find('=')))) env.emplace_back(entry);
  }
  for (size_t i = 0; i < extra.size(); ++i) {
    bool later = std::any_of(extra.begin() + static_cast<std::ptrdiff_t>(i) + 1, extra.end(),
                             [&](const auto& kv) { return kv.first == extra[i].first; });
    if (!later) env.push_back(extra[i].first + "=" + extra[i].second);
  }
  return env;
}

void OnParentGone(int) {
  kill(0, SIGKILL);  // the guard's own group: the command and all it started
  _exit(137);
}

// Messages from the children to their stderr; a failed write is not reported.
using base::WriteAll;

// The command itself, in the guard's group. Only async-signal-safe calls.
[[noreturn]] void RunCommandChild(char* const* argv, char* const* envp, const char* cwd,
                                  int out_fd, int err_fd) {
  base::ResetSignalsForExec();
  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd >= 0 && null_fd != STDIN_FILENO) {
    dup2(null_fd, STDIN_FILENO);
    close(null_fd);
  }
  dup2(out_fd, STDOUT_FILENO);
  dup2(err_fd, STDERR_FILENO);
  if (cwd[0] != '\0' && chdir(cwd) != 0) {
    WriteAll(STDERR_FILENO, "faultline: cannot change to the working directory ");
    WriteAll(STDERR_FILENO, cwd);
    WriteAll(STDERR_FILENO, ": ");
    WriteAll(STDERR_FILENO, strerror(errno));
    WriteAll(STDERR_FILENO, "\n");
    _exit(127);
  }
  execvpe(argv[0], argv, envp);
  const int err = errno;
  WriteAll(STDERR_FILENO, "faultline: cannot run ");
  WriteAll(STDERR_FILENO, argv[0]);
  WriteAll(STDERR_FILENO, ": ");
  WriteAll(STDERR_FILENO, strerror(err));
  WriteAll(STDERR_FILENO, "\n");
  _exit(err == ENOENT ? 127 : 126);
}

// The guard: leads the group, dies with the caller taking the group along,
// starts the command and ends the way it ended. Signals arrive blocked.
[[noreturn]] void RunGuard(pid_t caller, char* const* argv, char* const* envp, const char* cwd,
                           int out_fd, int err_fd, int pid_fd) {
  setpgid(0, 0);
  struct sigaction gone {};
  gone.sa_handler = OnParentGone;
  sigaction(kParentGone, &gone, nullptr);
  prctl(PR_SET_PDEATHSIG, kParentGone, 0, 0, 0);
  // The caller may have died before the prctl: no signal will come then.
  if (getppid() != caller) OnParentGone(0);
  sigset_t only_gone;
  sigfillset(&only_gone);
  sigdelset(&only_gone, kParentGone);
  sigprocmask(SIG_SETMASK, &only_gone, nullptr);

  const pid_t command = fork();
  if (command == 0) RunCommandChild(argv, envp, cwd, out_fd, err_fd);
  if (command < 0) {
    WriteAll(err_fd, "faultline: cannot fork the command\n");
    _exit(126);
  }
  close(out_fd);
  close(err_fd);
  if (pid_fd >= 0) {
    WriteAll(pid_fd, std::string_view(reinterpret_cast<const char*>(&command), sizeof command));
    close(pid_fd);
  }
  int status = 0;
  while (waitpid(command, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  // End the same way, so the caller sees the command's signal.
  const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
  signal(sig, SIG_DFL);
  sigset_t just;
  sigemptyset(&just);
  sigaddset(&just, sig);
  sigprocmask(SIG_UNBLOCK, &just, nullptr);
  kill(getpid(), sig);
  _exit(128 + sig);
}

// Reads what is there from `fd` into `into` (up to `cap`); false at end of file.
bool ReadSome(int fd, std::string* into, size_t cap, bool* truncated) {
  char buf[8192];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  const size_t room = cap > into->size() ? cap - into->size() : 0;
  into->append(buf, std::min(room, static_cast<size_t>(n)));
  if (static_cast<size_t>(n) > room) *truncated = true;
  return true;
}

bool GuardExited(pid_t guard) {
  siginfo_t info{};
  return waitid(P_PID, static_cast<id_t>(guard), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == guard;
}

}  // namespace

std::string CommandResult::Describe(int64_t timeout_ms) const {
  switch (end) {
    case End::kExited:
      return fmt::format("exit {}", code);
    case End::kSignaled: {
      const char* name = sigabbrev_np(signal);
      return name ? fmt::format("killed by SIG{}", name) : fmt::format("killed by signal {}", signal);
    }
    case End::kTimedOut:
      return fmt::format("timed out after {} ms", timeout_ms);
    case End::kNotRun:
      return "not run: " + error;
  }
  return "?";
}

std::string CommandResult::FirstLine() const {
  for (const std::string* text : {&err, &out}) {
    size_t start = 0;
    while (start < text->size()) {
      size_t nl = text->find('\n', start);
      if (nl == std::string::npos) nl = text->size();
      std::string line = text->substr(start, nl - start);
      if (line.find_first_not_of(" \t\r") != std::string::npos) {
        return line.size() > kFirstLineMax ? line.substr(0, kFirstLineMax) + "..." : line;
      }
      start = nl + 1;
    }
  }
  return "";
}

CommandResult RunCommand(const Command& command) {
  CommandResult r;
  if (command.argv.empty() || command.argv[0].empty()) {
    r.error = "empty command";
    return r;
  }
  const int64_t start = base::MonotonicMicros();
  std::vector<std::string> env = Environment(command.env);
  std::vector<char*> argv, envp;
  for (const std::string& a : command.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out[2] = {-1, -1}, err[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    r.error = fmt::format("pipe: {}", strerror(errno));
    for (int fd : {out[0], out[1], err[0], err[1]}) {
      if (fd >= 0) close(fd);
    }
    return r;
  }
  // Signals stay blocked across the fork until the guard has its handler.
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  const pid_t caller = getpid();
  // The command's pid, for on_start: the guard forks it and writes it here.
  int pid_pipe[2] = {-1, -1};
  if (command.on_start && pipe2(pid_pipe, O_CLOEXEC) != 0) pid_pipe[0] = pid_pipe[1] = -1;
  const pid_t guard = fork();
  if (guard == 0) {
    if (pid_pipe[0] >= 0) close(pid_pipe[0]);
    RunGuard(caller, argv.data(), envp.data(), command.cwd.c_str(), out[1], err[1], pid_pipe[1]);
  }
  const int fork_errno = errno;
  sigprocmask(SIG_SETMASK, &old, nullptr);
  close(out[1]);
  close(err[1]);
  if (pid_pipe[1] >= 0) close(pid_pipe[1]);
  if (pid_pipe[0] >= 0) {
    pid_t pid = -1;
    if (guard > 0) {
      // The guard writes it right after its fork, or dies without (EOF).
      ssize_t n;
      while ((n = read(pid_pipe[0], &pid, sizeof pid)) < 0 && errno == EINTR) {
      }
      if (n != static_cast<ssize_t>(sizeof pid)) pid = -1;
    }
    close(pid_pipe[0]);
    if (pid > 0) command.on_start(pid);
  }
  if (guard < 0) {
    close(out[0]);
    close(err[0]);
    r.error = fmt::format("fork: {}", strerror(fork_errno));
    return r;
  }
  // Whichever of the two sets it first, the guard is in its own group.
  setpgid(guard, guard);

  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, guard, 0));
  const int64_t deadline = start + command.timeout_ms * 1000;
  int64_t give_up = 0;  // after the kill: stop waiting for end of file
  bool out_open = true, err_open = true, exited = false, killed = false, timed_out = false;
  bool truncated = false;
  while (out_open || err_open || !exited) {
    const int64_t now = base::MonotonicMicros();
    if (!killed && now >= deadline) {
      kill(-guard, SIGKILL);
      killed = true;
      timed_out = !exited;
      give_up = now + kDrainAfterKillUs;
    }
    if (killed && now >= give_up && exited) break;
    pollfd fds[3];
    nfds_t n = 0;
    int out_at = -1, err_at = -1;
    if (out_open) out_at = static_cast<int>(n), fds[n++] = {out[0], POLLIN, 0};
    if (err_open) err_at = static_cast<int>(n), fds[n++] = {err[0], POLLIN, 0};
    if (!exited && pidfd >= 0) fds[n++] = {pidfd, POLLIN, 0};
    int64_t wait_us = (killed ? give_up : deadline) - now;
    if (!exited && (pidfd < 0 || killed)) wait_us = std::min<int64_t>(wait_us, 5'000);
    const int rc = poll(fds, n, static_cast<int>(std::max<int64_t>(wait_us, 0) / 1000 + 1));
    if (rc < 0 && errno != EINTR) break;
    if (out_at >= 0 && fds[out_at].revents != 0) out_open = ReadSome(out[0], &r.out, command.max_output, &truncated);
    if (err_at >= 0 && fds[err_at].revents != 0) err_open = ReadSome(err[0], &r.err, command.max_output, &truncated);
    if (!exited) exited = GuardExited(guard);
  }
  // The guard is a zombie (or about to be one) and still holds its group's
  // number, so this reaches only what the command left behind.
  kill(-guard, SIGKILL);
  int status = 0;
  while (waitpid(guard, &status, 0) < 0 && errno == EINTR) {
  }
  if (pidfd >= 0) close(pidfd);
  close(out[0]);
  close(err[0]);
  r.wall_us = base::MonotonicMicros() - start;
  if (truncated) r.error = fmt::format("output beyond {} bytes was dropped", command.max_output);
  if (timed_out) {
    r.end = CommandResult::End::kTimedOut;
  } else if (WIFEXITED(status)) {
    r.end = CommandResult::End::kExited;
    r.code = WEXITSTATUS(status);
  } else {
    r.end = CommandResult::End::kSignaled;
    r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  if (killed && !timed_out) {
    r.error += std::string(r.error.empty() ? "" : "; ") +
               "it exited but left processes holding its output open; they were killed";
  }
  return r;
}

}  // namespace faultline::sut
