// bounded_monitor_cost: the health monitor (the reaper, which declares dead
// agents and frees their claims) keeps its own cost bounded as the run goes
// on (health check resource exhaustion, RPN 80). For every incarnation of
// the reaper:
//   - its CPU per pass late in the run (the median over the last quarter of
//     its passes) is at most slo.max_monitor_cpu_growth_percent (default
//     300) of its CPU per pass early on (the median over the first quarter,
//     its first pass left out as start-up), plus kSlackUs for the timer's
//     and the machine's noise: a monitor that rescans what it has seen before
//     or keeps a growing history costs more at every pass;
//   - that late median is at most slo.max_monitor_cpu_us_per_scan (default
//     20000) in absolute terms;
//   - its resident set grows after warm-up by at most
//     slo.max_monitor_rss_growth_kb (default 2048; measured as in
//     bounded_memory).
//
// Passes: in lockstep the reaper is sampled each time it parks in its sleep
// between passes, so the CPU between two samples is one pass's (the
// sample's "sleeps" counts them). In freerun it is sampled on a wall-time
// cadence while it runs, and the CPU between two samples is divided by the
// passes due in between (elapsed time / reap_interval_ms).
//
// Judges measurements (resources.jsonl), not the trace; an incarnation with
// fewer than kMinPasses measured passes is not judged. One violation per
// bound and incarnation, quoting the figures and the limit; evidence: the
// run_end.
//
// Thread-compatible; memory linear in the samples.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"
#include "sim/invariants/resource_series.h"

namespace faultline {

class BoundedMonitorCost final : public Invariant {
 public:
  static constexpr const char* kName = "bounded_monitor_cost";
  static constexpr const char* kSummary =
      "the reaper's CPU per pass does not grow as the run goes on and its memory stays bounded "
      "(slo.max_monitor_cpu_growth_percent, max_monitor_cpu_us_per_scan, "
      "max_monitor_rss_growth_kb; measured, resources.jsonl)";
  static constexpr int64_t kSlackUs = 300;
  static constexpr size_t kMinPasses = 16;

  void Observe(const TraceEvent& event) override;
  void ObserveResources(const ResourceSample& sample) override;
  void Finish(std::vector<Violation>* out) override;
  nlohmann::json Summary() const override;
  std::string SummaryText() const override;

 private:
  struct Judged {
    std::string name;
    size_t passes = 0;
    int64_t early_us = 0, late_us = 0;  // median CPU per pass
    std::optional<checker::RssGrowth> rss;
    int64_t cpu_total_us = -1;  // from the exit figures
  };
  // CPU per pass between consecutive samples, in order.
  std::vector<int64_t> CostsPerPass(const checker::Incarnation& inc) const;
  void Judge(const checker::Incarnation& inc, const std::vector<uint64_t>& evidence,
             std::vector<Violation>* out);

  int64_t cpu_growth_percent_ =
      checker::SloDefault(&ScenarioSettings::slo_max_monitor_cpu_growth_percent);
  int64_t cpu_us_per_scan_ = checker::SloDefault(&ScenarioSettings::slo_max_monitor_cpu_us_per_scan);
  int64_t rss_growth_kb_ = checker::SloDefault(&ScenarioSettings::slo_max_monitor_rss_growth_kb);
  int64_t reap_interval_us_ = 1'000'000;
  checker::ResourceSeries series_;
  std::vector<Judged> judged_;
  size_t unjudged_ = 0;
  std::optional<uint64_t> run_end_seq_, last_seq_;
};

}  // namespace faultline
