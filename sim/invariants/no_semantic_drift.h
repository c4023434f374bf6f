// no_semantic_drift (docs/invariants.md): in a differential run (a scenario's
// "differential" block, docs/external-sut.md section 8) the system under test
// does what the counterpart — the reference coordinator, or a second SUT —
// does under the same scenario and seed. It stands for the shell export that
// behaves unlike the implementation it was exported from (FMEA
// shell-export-semantic-drift) or lacks one of its capabilities
// (shell-export-loses-functionality).
//
// Compared, never raw traces (two implementations never agree on agents,
// tokens, times or interleavings):
//   - how each run ended (run_end.end: completed, deadlock, sim_limit, ...);
//   - lock and temp files left at the end, when both runs count them;
//   - per item (sim/sut/history_diff.h), with "compare": "outcomes" (the
//     default) what it came to: final status, ledger, effects written,
//     completions accepted; with "histories" its whole sequence of operations.
// One violation per aspect that diverges; the items' names the first
// diverging item, what each system did to it, how many items diverge, and the
// command that reproduces both runs.
//
// The counterpart's history arrives through ObserveCounterpart, opened by a
// "differential_start" event with the labels, the comparison, the
// counterpart's run directory and the reproduce command.
//
// Thread-compatible; memory is the projections of both histories (a few
// entries per item operation).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/invariant.h"
#include "sim/history_diff.h"

namespace faultline {

class NoSemanticDrift final : public Invariant {
 public:
  static constexpr const char* kName = "no_semantic_drift";
  static constexpr const char* kSummary =
      "a differential run: every item ends as it does in the counterpart (the reference) under "
      "the same scenario and seed — status, effects, completions, ledger — and the run ends "
      "alike, with the same lock files left";

  void Observe(const TraceEvent& event) override;
  void ObserveCounterpart(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;
  nlohmann::json Summary() const override;
  std::string SummaryText() const override;

 private:
  void CompareEnds(std::vector<Violation>* out) const;
  void CompareItems(std::vector<Violation>* out);
  std::string Label() const;    // this run's system
  std::string Against() const;  // the counterpart
  std::string Reproduce() const;

  HistoryProjector mine_, theirs_;
  nlohmann::json start_;  // the differential_start event; null until given
  size_t items_ = 0, diverging_ = 0;
  bool finished_ = false;
};

}  // namespace faultline
