#include "sim/scheduler.h"

#include <algorithm>
#include <map>
#include <set>

namespace faultline {
namespace {

class RandomScheduler final : public Scheduler {
 public:
  explicit RandomScheduler(Rng rng) : rng_(rng) {}
  size_t Pick(const std::vector<size_t>& runnable) override {
    return runnable[rng_.Index(runnable.size())];
  }

 private:
  Rng rng_;
};

class PctScheduler final : public Scheduler {
 public:
  PctScheduler(Rng rng, int depth, int64_t expected_steps) : rng_(rng) {
    for (int i = 1; i < depth; ++i) change_points_.insert(rng_.Between(1, std::max<int64_t>(expected_steps, 1)));
    next_low_ = static_cast<int64_t>(change_points_.size());
  }

  size_t Pick(const std::vector<size_t>& runnable) override {
    ++step_;
    for (size_t p : runnable) {
      // New processes get a random high priority, above every change-point
      // value; ties broken by the draw order.
      if (!priority_.count(p)) priority_[p] = kHigh + static_cast<int64_t>(rng_.Next() >> 16);
    }
    size_t best = runnable.front();
    for (size_t p : runnable) {
      if (priority_[p] > priority_[best]) best = p;
    }
    if (change_points_.count(step_)) {
      // The process about to run loses its priority: a new, lowest one.
      priority_[best] = next_low_--;
      best = runnable.front();
      for (size_t p : runnable) {
        if (priority_[p] > priority_[best]) best = p;
      }
    }
    return best;
  }

 private:
  static constexpr int64_t kHigh = int64_t{1} << 40;
  Rng rng_;
  std::set<int64_t> change_points_;
  std::map<size_t, int64_t> priority_;
  int64_t step_ = 0;
  int64_t next_low_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> MakeRandomScheduler(Rng rng) {
  return std::make_unique<RandomScheduler>(rng);
}

std::unique_ptr<Scheduler> MakePctScheduler(Rng rng, int depth, int64_t expected_steps) {
  return std::make_unique<PctScheduler>(rng, depth, expected_steps);
}

}  // namespace faultline
