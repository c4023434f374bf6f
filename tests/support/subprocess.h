// Starting real processes from tests: posix_spawn with stdout and stderr sent
// to a log file (no pipes, so a chatty child can never block on a full one),
// waiting with a deadline, and decoding how the child ended.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
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

inline pid_t Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
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
