// Livelock detection in lockstep. The simulated clock moves only when no
// process can run, so a process that keeps reaching yield points without ever
// sleeping (a spin on a busy lock, a poll without a pause) freezes the clock:
// the sleepers it waits for never wake, and only the wall limit would end the
// run. The watch counts the steps taken at one simulated instant; once they
// reach the bound (limits.livelock_steps) the run is a livelock, ended at
// once, and Report() says who took those steps and at which points.
//
// Legitimate work at one instant is bounded by what the processes do between
// two sleeps (a few operations of each agent); the default bound, 100,000
// steps, is orders of magnitude above that in every bundled scenario and is
// reached within seconds of wall time.
//
// Thread-compatible. Memory: one entry per process, a few points each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace faultline {

class LivelockWatch {
 public:
  // `bound`: steps at one simulated instant that make a livelock (>= 1).
  explicit LivelockWatch(int64_t bound) : bound_(bound) {}

  // One step of process `proc` (an index) named `id` at simulated time
  // `now_us`, after which it parked at yield point `point` on `item` (point
  // empty: it parked otherwise, e.g. to sleep). True once the bound is
  // reached.
  bool OnStep(int64_t now_us, size_t proc, const std::string& id, const std::string& point,
              const std::string& item);

  // Who took the steps since the clock last moved: "no simulated time passed
  // in 100000 steps at 1.200 s: a1 took 99990 steps, at lock.busy (w3) x99990;
  // a2 took 10 steps, ..." — the busiest processes first, at most the four
  // busiest points of each.
  std::string Report() const;

 private:
  struct Point {
    std::string point, item;
    int64_t times = 0;
  };
  struct Proc {
    std::string id;
    int64_t steps = 0;
    std::vector<Point> points;  // distinct (point, item), at most kMaxPoints
  };
  static constexpr size_t kMaxPoints = 8;

  int64_t bound_;
  int64_t now_us_ = -1;
  int64_t steps_ = 0;        // at now_us_
  std::vector<Proc> procs_;  // by process index; steps == 0: none at this instant
};

}  // namespace faultline
