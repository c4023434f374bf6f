// base::ResetSignalsForExec: a program started by a parent that blocked and
// ignored signals sees the defaults, read from its own /proc/self/status.
#include "base/child_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

namespace base {
namespace {

struct SignalState {
  bool read = false;
  uint64_t blocked = 0;  // SigBlk
  uint64_t ignored = 0;  // SigIgn
};

uint64_t Bit(int sig) { return uint64_t{1} << (sig - 1); }

// Forks with SIGUSR1 blocked and SIGUSR2 ignored in the parent; the child
// resets (if `reset`) and execs cat on its own /proc/self/status.
SignalState ChildSignalState(bool reset) {
  SignalState state;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return state;

  sigset_t usr1, old_mask;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, &old_mask);
  struct sigaction ignore {
  }, old_usr2{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGUSR2, &ignore, &old_usr2);

  const pid_t pid = fork();
  if (pid == 0) {
    if (reset) ResetSignalsForExec();
    dup2(out[1], STDOUT_FILENO);
    execl("/bin/cat", "cat", "/proc/self/status", static_cast<char*>(nullptr));
    _exit(127);
  }
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGUSR2, &old_usr2, nullptr);
  close(out[1]);
  if (pid < 0) {
    close(out[0]);
    return state;
  }

  std::string text;
  char chunk[4096];
  for (;;) {
    ssize_t n = read(out[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(chunk, static_cast<size_t>(n));
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return state;

  std::istringstream lines(text);
  bool blk = false, ign = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("SigBlk:", 0) == 0) {
      state.blocked = std::strtoull(line.c_str() + 7, nullptr, 16);
      blk = true;
    } else if (line.rfind("SigIgn:", 0) == 0) {
      state.ignored = std::strtoull(line.c_str() + 7, nullptr, 16);
      ign = true;
    }
  }
  state.read = blk && ign;
  return state;
}

TEST(ChildProcessTest, WithoutTheResetTheChildInheritsMaskAndIgnores) {
  // The control: shows that the parent's state does reach an exec'd child,
  // so the next test's zeros come from the reset.
  SignalState s = ChildSignalState(/*reset=*/false);
  ASSERT_TRUE(s.read);
  EXPECT_NE(s.blocked & Bit(SIGUSR1), 0u);
  EXPECT_NE(s.ignored & Bit(SIGUSR2), 0u);
}

TEST(ChildProcessTest, AfterTheResetTheChildStartsWithDefaults) {
  SignalState s = ChildSignalState(/*reset=*/true);
  ASSERT_TRUE(s.read);
  EXPECT_EQ(s.blocked, 0u) << std::hex << s.blocked;
  EXPECT_EQ(s.ignored, 0u) << std::hex << s.ignored;
}

}  // namespace
}  // namespace base
