#include "sim/invariants/resource_series.h"

#include <fmt/format.h>

#include <algorithm>

namespace faultline::checker {

std::string Incarnation::Name() const {
  return start > 1 ? fmt::format("{} (start {})", proc, start) : proc;
}

void ResourceSeries::Add(const ResourceSample& sample) {
  auto it = std::find_if(incarnations_.begin(), incarnations_.end(), [&](const Incarnation& i) {
    return i.proc == sample.proc && i.start == sample.start;
  });
  if (it == incarnations_.end()) {
    incarnations_.push_back({sample.proc, sample.role, sample.start, {}, std::nullopt});
    it = incarnations_.end() - 1;
  }
  if (sample.kind == ResourceSample::Kind::kExit) {
    it->exit = sample;
  } else {
    it->samples.push_back(sample);
  }
}

std::optional<RssGrowth> MeasureRssGrowth(const std::vector<ResourceSample>& samples,
                                          size_t min_samples, int64_t ready_t) {
  std::vector<const ResourceSample*> readable;
  for (const ResourceSample& s : samples) {
    if (s.rss_kb >= 0 && s.t >= ready_t) readable.push_back(&s);
  }
  if (readable.size() < std::max<size_t>(min_samples, 2)) return std::nullopt;
  const size_t warm_up = (readable.size() + 3) / 4;
  RssGrowth g;
  for (size_t i = 0; i < warm_up; ++i) g.baseline_kb = std::max(g.baseline_kb, readable[i]->rss_kb);
  g.final_kb = readable.back()->rss_kb;
  g.growth_kb = g.final_kb - g.baseline_kb;
  g.from_t = readable[warm_up - 1]->t;
  g.to_t = readable.back()->t;
  g.samples = readable.size();
  return g;
}

int64_t Median(std::vector<int64_t> values) {
  if (values.empty()) return 0;
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>((values.size() - 1) / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

}  // namespace faultline::checker
