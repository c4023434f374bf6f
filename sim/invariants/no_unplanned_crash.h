// no_unplanned_crash: no process of the system under test died of a signal
// the harness did not send. A fault that kills (kill_agent, crash_at,
// reaper_crash) records its exit with "by"; the engine's own SIGKILL at the
// end of a run is a "stop". An exit with a "signal" and no "by" is the
// process's own crash (SIGSEGV, SIGABRT, SIGBUS, ...) or someone else's
// kill: a finding, never a pass.
//
//   exit  agent, role, signal (when it died by one), by (the fault, if any)
//
// Every run offers the exit events, so it applies to every system; the run
// checks it even when a scenario's "invariants" list leaves it out.
//
// Thread-compatible; memory bounded by the list's cap.
#pragma once

#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class NoUnplannedCrash final : public Invariant {
 public:
  static constexpr const char* kName = "no_unplanned_crash";
  static constexpr const char* kSummary =
      "no process died of a signal the harness did not send (a crash no fault caused)";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  checker::ViolationList violations_{kName, "unplanned crashes"};
};

}  // namespace faultline
