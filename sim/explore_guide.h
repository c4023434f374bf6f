// Coverage guidance for explore (docs/explore.md): a corpus of the cases
// whose runs reached something no earlier run of the search reached, and
// mutations of them. A run's coverage is the set of its features: every
// probe it reached (sim/protocol/control_protocol.h), and every probe with
// the power-of-two bucket of how often it held (1, 2-3, 4-7, 8-15, 16+), so
// that "the same path, taken more often" counts as new too (AFL's hit-count
// buckets). Deterministic: the choices come from streams split from the
// master seed by run index.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "sim/explore.h"

namespace faultline {

class CoverageGuide {
 public:
  // REQUIRES: `knobs` outlives the guide.
  CoverageGuide(const std::vector<ExploreKnob>& knobs, uint64_t master_seed)
      : knobs_(knobs), master_(master_seed) {}

  // The case of run `index` when it mutates a corpus member (half the runs
  // once the corpus holds one): true with it in `out`; false when the run
  // should draw a fresh case as the unguided search does.
  bool Mutated(int64_t index, ExploreCase* out) const;

  // Records the run of `c`; keeps `c` in the corpus when its run reached a
  // feature no earlier run did. Returns how many features were new.
  int Observe(const ExploreCase& c, const std::map<std::string, int64_t>& probe_hits);

  size_t corpus() const { return corpus_.size(); }
  size_t features() const { return features_.size(); }
  const std::set<std::string>& probes() const { return probes_; }
  // Coverage over time: one point per run that found something new
  // ({"run", "probes", "features", "corpus"}), plus the last run.
  nlohmann::json Series(int64_t runs) const;

 private:
  const std::vector<ExploreKnob>& knobs_;
  uint64_t master_;
  std::vector<ExploreCase> corpus_;
  std::set<std::string> features_, probes_;
  nlohmann::json series_ = nlohmann::json::array();
  int64_t observed_ = 0;
};

}  // namespace faultline
