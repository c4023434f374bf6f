// The FMEA coverage matrix and measured detection (docs/fmea-report.md).
//
// Coverage matrix, per failure mode: one cell per (fault, invariant) of the
// mode with the product runs in which the fault landed and the invariant was
// checked, and in how many of them it reported a violation; one row
// "planted defect" per invariant with the same counts over the runs of
// mutants (tests/mutants/) that plant the mode; and one row per probe the
// mode's runs expect or its faults make ("fault.KIND.landed"), with the runs
// that reached it and, of those, the runs in which a mode invariant fired.
//
// Measured detection, per failure mode: the runs of a planted defect (a
// verdict with "mutant", written by `faultline run` with swarm-mutant) whose
// scenario names the mode first (RunEvidence::Plants). Each is a run in which the failure is known to be
// present; it is detected when one of the mode's invariants reports a
// violation. The report gives the share detected, its exact Clopper-Pearson
// one-sided 95 % lower bound, the probability that an explore budget of
// `budget` runs detects it at that bound, and D' from the bound on the AIAG
// detection scale (MeasuredDetectionScore). A mode without such runs has no
// measurement: its D' stays judged.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/fmea_catalog.h"

namespace faultline::reports {

// What the matrix and detection read of one run; pointers into the caller's
// run records, which outlive the call.
struct RunEvidence {
  std::string scenario;
  const std::vector<std::string>* fmea = nullptr;  // failure-mode ids of its scenario
  const nlohmann::json* verdict = nullptr;
  const nlohmann::json* resolved = nullptr;  // scenario.resolved.json
  bool usable = true;                        // neither a harness error nor interrupted
  bool Mutant() const { return verdict->contains("mutant"); }
  bool Concerns(const FailureMode& m) const;
  // A planted defect's run is evidence for the first mode its scenario
  // names: the mode the defect plants (the others name its triggers, e.g.
  // the crash that exposes a torn write).
  bool Plants(const FailureMode& m) const {
    return Mutant() && !fmea->empty() && fmea->front() == m.id;
  }
};

// The explore budget the detection probability is given for: explore's
// default number of runs.
inline constexpr int kDetectionBudgetRuns = 100;

nlohmann::json CoverageMatrix(const FailureMode& m, const std::vector<RunEvidence>& runs);

// null when no run of a planted defect names the mode.
nlohmann::json MeasuredDetection(const FailureMode& m, const std::vector<RunEvidence>& runs,
                                 int budget = kDetectionBudgetRuns);

}  // namespace faultline::reports
