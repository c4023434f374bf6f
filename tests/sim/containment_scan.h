// What the containment tests share: finding a run's processes by a mark in
// their environment (every descendant inherits it), its mounts and its
// scratch entries, and a fixture that waits until none is left.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/poll.h"

namespace faultline::containment {

using namespace std::chrono_literals;

inline constexpr const char* kMarkKey = "FAULTLINE_CONTAIN_MARK";

// What a /proc file holds; "" once the process is gone (a read of a file of
// a process that exits meanwhile fails with ESRCH, which std::filebuf would
// throw for).
inline std::string ReadFile(const std::string& path) {
  std::string out;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// Live (not zombie) processes whose environment holds kMarkKey=mark, as
// "pid: cmdline".
inline std::vector<std::string> Marked(const std::string& mark) {
  const std::string needle = std::string(kMarkKey) + "=" + mark;
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string pid = it->path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = ReadFile("/proc/" + pid + "/stat");
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z') continue;
    const std::string env = ReadFile("/proc/" + pid + "/environ");
    bool hit = false;
    for (size_t at = 0; at < env.size();) {
      const size_t end = env.find('\0', at);
      if (env.compare(at, (end == std::string::npos ? env.size() : end) - at, needle) == 0)
        hit = true;
      if (end == std::string::npos) break;
      at = end + 1;
    }
    if (!hit) continue;
    std::string cmd = ReadFile("/proc/" + pid + "/cmdline");
    for (char& c : cmd) c = c == '\0' ? ' ' : c;
    found.push_back(pid + ": " + cmd);
  }
  return found;
}

// Mount points (this test's mount namespace, the host's view) under `root`.
inline std::vector<std::string> MountsUnder(const std::string& root) {
  std::vector<std::string> found;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.find(" " + root) != std::string::npos) found.push_back(line);
  }
  return found;
}

inline std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    found.push_back(it->path().string());
  }
  return found;
}

// Orphans are re-parented to this test (a subreaper): reap them so that the
// namespace's init can finish and the dead do not linger as zombies.
inline void ReapOrphans() {
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

inline std::string Join(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& l : lines) text += "\n  " + l;
  return text;
}

// Whether this host lets us make a PID namespace (the test's own probe,
// independent of the code under test).
inline bool PidNamespacesAllowed() {
  const pid_t probe = fork();
  if (probe == 0) _exit(unshare(CLONE_NEWPID) == 0 ? 0 : 1);
  int status = 0;
  waitpid(probe, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A shell line that leaves the caller's session and process group and
// double-forks two sleepers that outlive it.
inline constexpr const char* kEscape =
    "setsid sh -c 'sleep 600 & sleep 600 & exit 0' </dev/null >/dev/null 2>&1 &";

class ScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    mark_ = std::to_string(getpid()) + "-" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  void TearDown() override {
    // Whatever a failed test left: kill it here, not on the machine later.
    for (const std::string& line : Marked(mark_)) kill(std::atoi(line.c_str()), SIGKILL);
    ReapOrphans();
  }
  // Waits until nothing marked runs, nothing is mounted under `root` and
  // `scratch` is empty; a failure lists what is left.
  ::testing::AssertionResult NothingLeft(const std::string& root, const std::string& scratch,
                                         std::chrono::milliseconds deadline = 30s) {
    auto clean = [&] {
      ReapOrphans();
      return Marked(mark_).empty() && MountsUnder(root).empty() && Entries(scratch).empty();
    };
    if (testing::Eventually("nothing left", clean, deadline, 20ms))
      return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "left behind after " << deadline.count() << " ms:\nprocesses:" << Join(Marked(mark_))
           << "\nmounts:" << Join(MountsUnder(root)) << "\nscratch:" << Join(Entries(scratch));
  }
  std::string mark_;
};

}  // namespace faultline::containment
