// Running one command of an external system under test to completion, with a
// deadline, never hanging the caller.
//
// The command runs in a process group of its own, led by a small guard
// process (a fork of the caller) that starts the command and waits for it:
//   caller ── guard (group leader, parent-death signal) ── the command ── ...
// - Its stdout and stderr are read to end of file (kept up to a cap, the rest
//   read and dropped), so a chatty command never blocks on a full pipe.
// - On the deadline the whole group is SIGKILLed: the command and everything
//   it started. When the command has exited, whatever it left running in its
//   group is SIGKILLed too, so no process outlives the call.
// - If the caller dies (even by SIGKILL), the guard's parent-death signal
//   makes it SIGKILL the group: nothing outlives the caller either.
// stdin is /dev/null; the environment is the caller's plus `env`.
//
// Errors are values: the result says how the command ended. Thread-compatible;
// call from a single-threaded process or one whose other threads do not fork
// (the caller forks).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace faultline::sut {

struct Command {
  // argv[0] is a path (absolute, or relative to `cwd`) or a name found in PATH.
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // added; a later key wins
  std::string cwd;            // "" : the caller's
  int64_t timeout_ms = 5000;  // > 0
  size_t max_output = 1 << 20;  // bytes kept per stream
  // Called with the command's pid once it has been forked (before its output
  // is read), e.g. to hand it to a scheduler that controls it.
  std::function<void(pid_t)> on_start;
};

struct CommandResult {
  enum class End {
    kExited,    // the command exited: `code`
    kSignaled,  // the command was killed by `signal` (not by us)
    kTimedOut,  // still running at the deadline: its group was SIGKILLed
    kNotRun,    // could not be started: `error` says why
  };
  End end = End::kNotRun;
  int code = -1;
  int signal = 0;
  std::string out, err;  // what it wrote, up to max_output each
  std::string error;     // kNotRun: why; else notes (output truncated, leftovers killed)
  int64_t wall_us = 0;

  bool Ok(int expected_code = 0) const { return end == End::kExited && code == expected_code; }
  // "exit 3", "killed by SIGSEGV", "timed out after 500 ms", "not run: ..."
  std::string Describe(int64_t timeout_ms) const;
  // The first non-empty line of stderr, else of stdout ("" if none), cut at 200 bytes.
  std::string FirstLine() const;
};

CommandResult RunCommand(const Command& command);

}  // namespace faultline::sut
