#include "sim/explore_guide.h"

#include <fmt/format.h>

#include "sim/explore_space.h"
#include "sim/rng.h"

namespace faultline {

bool CoverageGuide::Mutated(int64_t index, ExploreCase* out) const {
  if (corpus_.empty()) return false;
  Rng rng = Rng(master_).Split(fmt::format("explore/guide/{}", index));
  // Half the runs stay fresh draws: the search keeps its reach and its
  // small-first ramp, and the corpus gets the other half.
  if (rng.Between(0, 1) == 0) return false;
  ExploreCase c = corpus_[rng.Index(corpus_.size())];
  // Around a member: the same knobs with another schedule (a new seed), or
  // one knob drawn again over its whole range with the member's schedule,
  // or both.
  const int64_t how = knobs_.empty() ? 0 : rng.Between(0, 2);
  if (how != 1) c.seed = explore_space::SmallSeed(rng.Split("seed"));
  if (how != 0) {
    const size_t k = rng.Index(knobs_.size());
    c.values[k] = rng.Between(knobs_[k].lo, knobs_[k].hi);
  }
  *out = std::move(c);
  return true;
}

int CoverageGuide::Observe(const ExploreCase& c, const std::map<std::string, int64_t>& hits) {
  ++observed_;
  int fresh = 0;
  for (const auto& [name, n] : hits) {
    if (n <= 0) continue;
    int bucket = 0;
    while (bucket < 4 && (int64_t{2} << bucket) <= n) ++bucket;
    probes_.insert(name);
    fresh += features_.insert(name).second;
    fresh += features_.insert(fmt::format("{}#{}", name, bucket)).second;
  }
  if (fresh > 0) {
    corpus_.push_back(c);
    series_.push_back({{"run", observed_},
                       {"probes", probes_.size()},
                       {"features", features_.size()},
                       {"corpus", corpus_.size()}});
  }
  return fresh;
}

nlohmann::json CoverageGuide::Series(int64_t runs) const {
  nlohmann::json s = series_;
  if (s.empty() || s.back()["run"] != runs) {
    s.push_back({{"run", runs},
                 {"probes", probes_.size()},
                 {"features", features_.size()},
                 {"corpus", corpus_.size()}});
  }
  return s;
}

}  // namespace faultline
