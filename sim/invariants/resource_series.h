// What the resource checkers (bounded_memory, bounded_monitor_cost) share:
// the run's resource samples grouped per process incarnation, and the one way
// a resident set's growth after warm-up is measured.
//
// Deterministic given the samples; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/resource_sample.h"

namespace faultline::checker {

// One incarnation of one process: its samples in the order taken, and its
// exit figures once it was reaped.
struct Incarnation {
  std::string proc;
  std::string role;
  int start = 1;
  std::vector<ResourceSample> samples;  // kind kSample only
  std::optional<ResourceSample> exit;

  std::string Name() const;  // "a2", or "reaper (start 2)" after a restart
};

class ResourceSeries {
 public:
  void Add(const ResourceSample& sample);
  // In the order each incarnation was first seen.
  const std::vector<Incarnation>& incarnations() const { return incarnations_; }

 private:
  std::vector<Incarnation> incarnations_;
};

// The growth of a resident set after warm-up: from the largest reading in the
// first quarter of the samples (a process reaches its working size early) to
// the last reading. A process that keeps what it allocates grows steadily and
// ends far above its early peak; one that reuses its memory does not.
struct RssGrowth {
  int64_t baseline_kb = 0;  // the early peak
  int64_t final_kb = 0;     // the last reading
  int64_t growth_kb = 0;    // final - baseline (negative: it shrank)
  int64_t from_t = 0, to_t = 0;
  size_t samples = 0;
};

// nullopt with fewer than `min_samples` readable samples (too short to judge).
// Samples taken before `ready_t` (run time) are left out: the process was still
// starting (loading its libraries, or stopped before it had done anything), so
// it had not reached its working size.
std::optional<RssGrowth> MeasureRssGrowth(const std::vector<ResourceSample>& samples,
                                          size_t min_samples, int64_t ready_t = 0);

// The median of `values` (the lower one of the middle two); 0 when empty.
int64_t Median(std::vector<int64_t> values);

}  // namespace faultline::checker
