// The determinism check (`faultline run --check-determinism`, DESIGN §3): a
// lockstep run repeated with the same resolved scenario and seed must write
// the same trace. A differential run is two runs (the SUT's and its
// counterpart's); both must repeat.
#pragma once

#include <functional>
#include <string>

#include "sim/run.h"
#include "sim/scenario.h"

namespace faultline {

struct DeterminismCheck {
  enum class Result {
    kSame,     // the second run wrote the same trace(s)
    kDiffer,   // it did not: the run is not reproducible
    kSkipped,  // freerun: reproducible in distribution only, not run again
  };
  Result result = Result::kSkipped;
  // The trace identities compared: trace_sha256, plus "+<counterpart's>"
  // for a differential run. Empty when skipped.
  std::string first, second;
  // One line for the user, starting "  --check-determinism: " and ending in
  // a newline; when the traces differ it names both trace files.
  std::string message;
  // The run's exit code after the check: the first run's, or kExitHarness
  // when the traces differ (a harness that does not reproduce is at fault,
  // not the SUT).
  int exit_code = kExitPass;
};

// The trace identity of a run from its verdict: its trace_sha256, plus
// "+<the counterpart's trace_sha256>" when `with_differential`. Empty when
// the verdict has no trace_sha256.
std::string TraceIdentity(const nlohmann::json& verdict, bool with_differential);

// Checks `first`, a finished run of `scenario`. For a lockstep scenario,
// calls `run_again` once (which must run the same resolved scenario into
// another run directory) and compares the traces; for a freerun one, calls
// nothing and says why. REQUIRES: `first` did not end in a harness error or
// an interruption (there is no trace to compare).
DeterminismCheck CheckDeterminism(const ResolvedScenario& scenario, const RunReport& first,
                                  const std::function<RunReport()>& run_again);

}  // namespace faultline
