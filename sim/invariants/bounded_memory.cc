#include "sim/invariants/bounded_memory.h"

#include <fmt/format.h>

#include <algorithm>

#include "sim/invariants/checker_support.h"

namespace faultline {

void BoundedMemory::Observe(const TraceEvent& event) {
  if (event.type == "run_start") {
    max_growth_kb_ = checker::SloBound(event, &ScenarioSettings::slo_max_rss_growth_kb);
  } else if (event.type == "span_created") {
    ++spans_[event.agent];
  } else if (event.type == "run_end") {
    run_end_seq_ = event.seq;
  }
  if (!event.proc.empty()) event_times_[event.proc].push_back(event.t);
  last_seq_ = event.seq;
}

void BoundedMemory::ObserveResources(const ResourceSample& sample) { series_.Add(sample); }

void BoundedMemory::Finish(std::vector<Violation>* out) {
  const std::optional<uint64_t> end = run_end_seq_ ? run_end_seq_ : last_seq_;
  std::vector<uint64_t> evidence;
  if (end) evidence.push_back(*end);
  for (auto& [proc, times] : event_times_) std::sort(times.begin(), times.end());
  for (const checker::Incarnation& inc : series_.incarnations()) {
    // The incarnation is ready at its first event after its first sample; one
    // that never said anything is judged on all its samples.
    int64_t ready_t = 0;
    const auto times = event_times_.find(inc.proc);
    if (times != event_times_.end() && !inc.samples.empty()) {
      const auto first =
          std::lower_bound(times->second.begin(), times->second.end(), inc.samples.front().t);
      if (first != times->second.end()) ready_t = *first;
    }
    const auto growth = checker::MeasureRssGrowth(inc.samples, kMinSamples, ready_t);
    if (!growth) {
      ++unjudged_;
      continue;
    }
    auto spans = spans_.find(inc.proc);
    judged_.push_back({inc.Name(), *growth, spans == spans_.end() ? 0 : spans->second});
    const Judged& j = judged_.back();
    if (growth->growth_kb <= max_growth_kb_) continue;
    std::string per_span;
    if (j.spans > 0) {
      per_span = fmt::format("; {:.0f} bytes per span of the {} it created",
                             static_cast<double>(growth->growth_kb) * 1024 / j.spans, j.spans);
    }
    out->push_back(
        {kName,
         fmt::format("{} ({}) kept growing: its resident set went from {} KB at warm-up to {} "
                     "KB at the end ({} → {}, {} samples), {} KB more, above the limit of {} "
                     "KB (slo.max_rss_growth_kb){}",
                     j.name, inc.role, growth->baseline_kb, growth->final_kb,
                     checker::Seconds(growth->from_t), checker::Seconds(growth->to_t),
                     growth->samples, growth->growth_kb, max_growth_kb_, per_span),
         evidence});
  }
}

nlohmann::json BoundedMemory::Summary() const {
  if (judged_.empty() && unjudged_ == 0) return nullptr;
  nlohmann::json processes = nlohmann::json::array();
  for (const Judged& j : judged_) {
    processes.push_back({{"process", j.name},
                         {"samples", j.growth.samples},
                         {"warm_up_kb", j.growth.baseline_kb},
                         {"final_kb", j.growth.final_kb},
                         {"growth_kb", j.growth.growth_kb},
                         {"spans", j.spans}});
  }
  return {{"limit_kb", max_growth_kb_}, {"processes", processes}, {"not_judged", unjudged_}};
}

std::string BoundedMemory::SummaryText() const {
  if (judged_.empty()) {
    return unjudged_ == 0
               ? ""
               : fmt::format("{} processes measured, none long enough to judge", unjudged_);
  }
  const auto worst = std::max_element(
      judged_.begin(), judged_.end(),
      [](const Judged& a, const Judged& b) { return a.growth.growth_kb < b.growth.growth_kb; });
  return fmt::format(
      "{} processes judged{}; largest resident-set growth after warm-up {} KB ({}: {} → {} "
      "KB), limit {} KB",
      judged_.size(), unjudged_ ? fmt::format(" ({} too short)", unjudged_) : "",
      worst->growth.growth_kb, worst->name, worst->growth.baseline_kb, worst->growth.final_kb,
      max_growth_kb_);
}

}  // namespace faultline
