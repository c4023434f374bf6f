// bounded_memory: no controlled process keeps growing its memory. For every
// incarnation of every agent and of the reaper, the resident set at its last
// sample may exceed its early peak (the largest reading in the first quarter
// of its samples, the warm-up) by at most the scenario's
// slo.max_rss_growth_kb (default in sim/settings.cc). A process that keeps
// what it handles — every span it exported, every record it read — grows with
// the work it does and ends far above its warm-up; one that reuses its memory
// stays flat (telemetry memory leak under sustained load, RPN 315).
//
// Judges measurements (resources.jsonl, sim/resource_sample.h), not the
// trace: the trace gives the limit (run_start's slo) and the spans each agent
// created, quoted per span in the message. An incarnation with fewer than
// kMinSamples samples is not judged (too short to tell growth from warm-up).
// An incarnation's warm-up starts at its first event in the trace: samples
// before it were taken while it was still starting (a process stopped right
// after exec measures a few KB until it is let go).
// One violation per incarnation, naming the process, its readings, the times
// and the limit; evidence: the run_end.
//
// Thread-compatible; memory linear in the samples.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"
#include "sim/invariants/resource_series.h"

namespace faultline {

class BoundedMemory final : public Invariant {
 public:
  static constexpr const char* kName = "bounded_memory";
  static constexpr const char* kSummary =
      "no agent or reaper keeps growing: its resident set at the end exceeds its warm-up peak "
      "by at most slo.max_rss_growth_kb (measured, resources.jsonl)";
  static constexpr size_t kMinSamples = 8;

  void Observe(const TraceEvent& event) override;
  void ObserveResources(const ResourceSample& sample) override;
  void Finish(std::vector<Violation>* out) override;
  nlohmann::json Summary() const override;
  std::string SummaryText() const override;

 private:
  struct Judged {
    std::string name;
    checker::RssGrowth growth;
    int64_t spans = 0;
  };

  int64_t max_growth_kb_ = checker::SloDefault(&ScenarioSettings::slo_max_rss_growth_kb);
  std::map<std::string, int64_t> spans_;  // span_created per agent
  std::map<std::string, std::vector<int64_t>> event_times_;  // per process, sorted in Finish
  checker::ResourceSeries series_;
  std::vector<Judged> judged_;  // after Finish
  size_t unjudged_ = 0;         // incarnations with too few samples
  std::optional<uint64_t> run_end_seq_, last_seq_;
};

}  // namespace faultline
