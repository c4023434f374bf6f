// Starting real processes from tests: fork and exec with stdout and stderr sent
// to a log file (no pipes, so a chatty child can never block on a full one),
// waiting with a deadline, and decoding how the child ended.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace faultline::testing {

struct Exit {
  bool exited = false;  // exit() was called: `code` is valid
  int code = -1;
  int signal = 0;       // killed by this signal
  bool timed_out = false;
};

// The child gets SIGTERM when the test process dies (PR_SET_PDEATHSIG), so a
// test binary killed from outside (a ctest timeout, `timeout`, a crash) does
// not leave a faultline or a server running: SIGTERM lets faultline clean up
// as on any interrupt. Spawn from a thread that outlives the child, since the
// signal follows the thread that forked. Returns -1 if the program could not
// be started (the exec error travels back through a close-on-exec pipe).
inline pid_t Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) != 0) return -1;
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    int err = 0;
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(127);
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log < 0 || null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) {
      err = errno;
    } else {
      execve(args[0], args.data(), environ);
      err = errno;
    }
    ssize_t ignored = write(status_pipe[1], &err, sizeof err);
    (void)ignored;
    _exit(127);
  }
  close(status_pipe[1]);
  if (pid < 0) {
    close(status_pipe[0]);
    return -1;
  }
  int err = 0;
  ssize_t n;
  do {
    n = read(status_pipe[0], &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  close(status_pipe[0]);
  if (n > 0) {  // the exec failed: reap the child and report it
    waitpid(pid, nullptr, 0);
    return -1;
  }
  return pid;
}

inline Exit Decode(int status) {
  Exit e;
  if (WIFEXITED(status)) {
    e.exited = true;
    e.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    e.signal = WTERMSIG(status);
  }
  return e;
}

// Waits up to `timeout`; on timeout the child is SIGKILLed and reaped.
inline Exit WaitFor(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return Decode(status);
    if (r < 0) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  Exit e = Decode(status);
  e.timed_out = true;
  return e;
}

// True if the child has ended (and reaps it).
inline bool Ended(pid_t pid, Exit* out) {
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) != pid) return false;
  *out = Decode(status);
  return true;
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a command to completion and returns its exit and combined output.
struct Ran {
  Exit exit;
  std::string output;
};
inline Ran Run(const std::vector<std::string>& argv, const std::string& log_path,
               std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  unlink(log_path.c_str());
  pid_t pid = Spawn(argv, log_path);
  if (pid < 0) return {};
  Ran r{WaitFor(pid, timeout), ""};
  r.output = ReadAll(log_path);
  return r;
}

}  // namespace faultline::testing
