// Physical bounds the benchmarks divide by, measured in the benchmark's own
// process just before the run they bound: on a machine shared with other
// work, absolute rates move by 2-3x between runs, a rate next to its bound
// much less.
//
//   SocketRoundTripsPerSecond  one line to another process over a
//                              SOCK_STREAM socketpair and one line back,
//                              blocking reads on both sides, to `peers`
//                              processes in turn, spread or on one CPU,
//                              whichever is faster: what one lockstep step
//                              among that many parked processes costs at the
//                              least
//   (claim_throughput_bench)   atomic durable writes per second, swarm's
//                              own fs::WriteAtomic
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string_view>
#include <vector>

namespace faultline::bench {

// Round trips per second between this process and `peers` forked echo
// processes, each over its own socketpair, taken in turn, for about `seconds`
// of wall time. The messages are the size of the control protocol's yield and
// go lines. 0 if a child cannot be had.
inline double SocketRoundTripsOnce(double seconds, int peers) {
  constexpr std::string_view kYield = R"({"item":"w000123","yield":"claim.locked"})"
                                      "\n";
  constexpr std::string_view kGo = R"({"go":true,"now":1700000000123456})"
                                   "\n";
  std::vector<int> fds;
  std::vector<pid_t> children;
  bool ok = true;
  for (int i = 0; i < peers && ok; ++i) {
    int sv[2];
    ok = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0;
    const pid_t child = ok ? fork() : -1;
    if (child == 0) {
      for (int fd : fds) close(fd);
      close(sv[0]);
      char buf[256];
      for (;;) {
        // One message is one read: the parent sends the next after the reply.
        if (read(sv[1], buf, sizeof buf) <= 0) _exit(0);
        if (write(sv[1], kGo.data(), kGo.size()) != static_cast<ssize_t>(kGo.size())) _exit(0);
      }
    }
    if (ok) close(sv[1]);
    if (child < 0) {
      if (ok) close(sv[0]);
      ok = false;
    } else if (ok) {
      fds.push_back(sv[0]);
      children.push_back(child);
    }
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  long trips = 0;
  char buf[256];
  for (auto now = start; now < until && ok; now = Clock::now()) {
    // The clock is read once per round over the peers: reading it would
    // otherwise be a fair share of what is measured.
    for (size_t i = 0; i < fds.size() && ok; ++i, ++trips) {
      ok = write(fds[i], kYield.data(), kYield.size()) == static_cast<ssize_t>(kYield.size()) &&
           read(fds[i], buf, sizeof buf) > 0;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  for (int fd : fds) close(fd);
  for (pid_t child : children) {
    int status = 0;
    waitpid(child, &status, 0);
  }
  return ok && elapsed > 0 ? static_cast<double>(trips) / elapsed : 0;
}

// The better of SocketRoundTripsOnce with this thread's CPU set and with every
// process on the CPU this thread runs on (half of `seconds` each): a lockstep
// run pins itself to one CPU (sim/lockstep_cpu.h), and on a virtual machine a
// hand-off within one CPU is the cheaper one, but not when that CPU is busy.
inline double SocketRoundTripsPerSecond(double seconds, int peers) {
  const double spread = SocketRoundTripsOnce(seconds / 2, peers);
  cpu_set_t saved, one;
  if (sched_getaffinity(0, sizeof saved, &saved) != 0) return spread;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0) return spread;
  const double pinned = SocketRoundTripsOnce(seconds / 2, peers);
  sched_setaffinity(0, sizeof saved, &saved);
  return pinned > spread ? pinned : spread;
}

}  // namespace faultline::bench
