#include "sim/invariants/bounded_monitor_cost.h"

#include <fmt/format.h>

#include <algorithm>

#include "sim/invariants/checker_support.h"

namespace faultline {

void BoundedMonitorCost::Observe(const TraceEvent& event) {
  if (event.type == "run_start") {
    reap_interval_us_ = std::max<int64_t>(1, checker::IntField(event.fields, "reap_interval_ms")) *
                        1000;
    cpu_growth_percent_ =
        checker::SloBound(event, &ScenarioSettings::slo_max_monitor_cpu_growth_percent);
    cpu_us_per_scan_ = checker::SloBound(event, &ScenarioSettings::slo_max_monitor_cpu_us_per_scan);
    rss_growth_kb_ = checker::SloBound(event, &ScenarioSettings::slo_max_monitor_rss_growth_kb);
  } else if (event.type == "run_end") {
    run_end_seq_ = event.seq;
  }
  last_seq_ = event.seq;
}

void BoundedMonitorCost::ObserveResources(const ResourceSample& sample) {
  if (sample.role == "reaper") series_.Add(sample);
}

std::vector<int64_t> BoundedMonitorCost::CostsPerPass(const checker::Incarnation& inc) const {
  std::vector<int64_t> costs;
  const ResourceSample* previous = nullptr;
  for (const ResourceSample& s : inc.samples) {
    if (s.cpu_us < 0) continue;
    if (previous != nullptr) {
      const int64_t cpu = s.cpu_us - previous->cpu_us;
      if (s.sleeps >= 0 && previous->sleeps >= 0) {
        // Lockstep: one sample per sleep, one sleep per pass.
        const int64_t passes = s.sleeps - previous->sleeps;
        if (passes > 0) costs.push_back(cpu / passes);
      } else if (s.t > previous->t) {
        // Freerun: the passes due in the elapsed time.
        costs.push_back(cpu * reap_interval_us_ / (s.t - previous->t));
      }
    }
    previous = &s;
  }
  return costs;
}

void BoundedMonitorCost::Judge(const checker::Incarnation& inc,
                               const std::vector<uint64_t>& evidence,
                               std::vector<Violation>* out) {
  std::vector<int64_t> costs = CostsPerPass(inc);
  // The first measured pass carries start-up work (first reads of every
  // file); it is left out of the early window.
  if (!costs.empty()) costs.erase(costs.begin());
  if (costs.size() < kMinPasses) {
    ++unjudged_;
    return;
  }
  const size_t quarter = costs.size() / 4;
  Judged j;
  j.name = inc.Name();
  j.passes = costs.size();
  j.early_us = checker::Median({costs.begin(), costs.begin() + static_cast<long>(quarter)});
  j.late_us = checker::Median({costs.end() - static_cast<long>(quarter), costs.end()});
  j.rss = checker::MeasureRssGrowth(inc.samples, kMinPasses);
  if (inc.exit) j.cpu_total_us = inc.exit->cpu_us;
  judged_.push_back(j);

  const int64_t allowed = j.early_us * cpu_growth_percent_ / 100 + kSlackUs;
  if (j.late_us > allowed) {
    out->push_back(
        {kName,
         fmt::format("the monitor {} costs more at every pass: {} µs of CPU per pass late in the "
                     "run (median of its last {} passes) against {} µs early on (first {}), "
                     "{:.1f}×; at most {}% + {} µs = {} µs is allowed "
                     "(slo.max_monitor_cpu_growth_percent)",
                     j.name, j.late_us, quarter, j.early_us, quarter,
                     static_cast<double>(j.late_us) / static_cast<double>(std::max<int64_t>(1, j.early_us)),
                     cpu_growth_percent_, kSlackUs, allowed),
         evidence});
  }
  if (j.late_us > cpu_us_per_scan_) {
    out->push_back({kName,
                    fmt::format("the monitor {} spends {} µs of CPU per pass late in the run "
                                "(median of its last {} passes), above the limit of {} µs "
                                "(slo.max_monitor_cpu_us_per_scan)",
                                j.name, j.late_us, quarter, cpu_us_per_scan_),
                    evidence});
  }
  if (j.rss && j.rss->growth_kb > rss_growth_kb_) {
    out->push_back(
        {kName,
         fmt::format("the monitor {} kept growing: its resident set went from {} KB at warm-up "
                     "to {} KB at the end ({} → {}), {} KB more, above the limit of {} KB "
                     "(slo.max_monitor_rss_growth_kb)",
                     j.name, j.rss->baseline_kb, j.rss->final_kb, checker::Seconds(j.rss->from_t),
                     checker::Seconds(j.rss->to_t), j.rss->growth_kb, rss_growth_kb_),
         evidence});
  }
}

void BoundedMonitorCost::Finish(std::vector<Violation>* out) {
  const std::optional<uint64_t> end = run_end_seq_ ? run_end_seq_ : last_seq_;
  std::vector<uint64_t> evidence;
  if (end) evidence.push_back(*end);
  for (const checker::Incarnation& inc : series_.incarnations()) Judge(inc, evidence, out);
}

nlohmann::json BoundedMonitorCost::Summary() const {
  if (judged_.empty() && unjudged_ == 0) return nullptr;
  nlohmann::json monitors = nlohmann::json::array();
  for (const Judged& j : judged_) {
    nlohmann::json entry = {{"process", j.name},
                            {"passes", j.passes},
                            {"early_cpu_us_per_pass", j.early_us},
                            {"late_cpu_us_per_pass", j.late_us},
                            {"cpu_total_us", j.cpu_total_us}};
    if (j.rss) {
      entry["warm_up_kb"] = j.rss->baseline_kb;
      entry["final_kb"] = j.rss->final_kb;
      entry["rss_growth_kb"] = j.rss->growth_kb;
    }
    monitors.push_back(std::move(entry));
  }
  return {{"max_cpu_growth_percent", cpu_growth_percent_},
          {"max_cpu_us_per_scan", cpu_us_per_scan_},
          {"max_rss_growth_kb", rss_growth_kb_},
          {"monitors", monitors},
          {"not_judged", unjudged_}};
}

std::string BoundedMonitorCost::SummaryText() const {
  if (judged_.empty()) {
    return unjudged_ == 0 ? ""
                          : fmt::format("{} reaper runs measured, none with {} passes to judge",
                                        unjudged_, kMinPasses);
  }
  std::string text;
  for (const Judged& j : judged_) {
    text += fmt::format("{}{}: {} passes, CPU per pass {} µs early, {} µs late (limit {}% + {} "
                        "µs, at most {} µs)",
                        text.empty() ? "" : "; ", j.name, j.passes, j.early_us, j.late_us,
                        cpu_growth_percent_, kSlackUs, cpu_us_per_scan_);
    if (j.rss) {
      text += fmt::format(", resident set {} → {} KB (limit +{} KB)", j.rss->baseline_kb,
                          j.rss->final_kb, rss_growth_kb_);
    }
  }
  if (unjudged_ > 0) text += fmt::format("; {} shorter runs not judged", unjudged_);
  return text;
}

}  // namespace faultline
