// Lockstep schedulers: which parked process runs next (DESIGN §3). Both are
// seeded and depend only on their inputs, so a run is reproducible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "sim/rng.h"

namespace faultline {

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // `runnable` holds stable process indices in ascending order, never empty.
  // Returns one of them.
  virtual size_t Pick(const std::vector<size_t>& runnable) = 0;
};

// Uniformly random among the runnable processes.
std::unique_ptr<Scheduler> MakeRandomScheduler(Rng rng);

// PCT (Burckhardt et al., "A Randomized Scheduler with Probabilistic
// Guarantees of Finding Bugs", ASPLOS 2010): every process gets a random
// distinct priority; the highest-priority runnable process runs; at `depth`-1
// random steps in [1, expected_steps] the running process drops below all
// others. A bug of depth d is found with probability >= 1/(n k^(d-1)).
std::unique_ptr<Scheduler> MakePctScheduler(Rng rng, int depth, int64_t expected_steps);

}  // namespace faultline
