// sut_responsive (docs/external-sut.md): every command faultline ran for an
// external system under test ended by itself within its timeout. A command
// that hung (killed at its timeout), died by a signal, or could not be
// started at all is a finding about the SUT, recorded as a
// sut_command_failed event by the command adapter or the engine:
//
//   sut_command_failed  agent, op, item, failure ("timeout" | "signal" |
//                       "not_run"), how ("timed out after 500 ms"), first_line
//
// One violation per failed command, listed up to a cap. Applies only to runs
// against an external SUT (it needs observes::kSutCommands).
//
// Thread-compatible; memory bounded by the cap.
#pragma once

#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class SutResponsive final : public Invariant {
 public:
  static constexpr const char* kName = "sut_responsive";
  static constexpr const char* kSummary =
      "every command run for an external SUT ended by itself within its timeout (no hang, no "
      "crash, no failure to start)";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  checker::ViolationList violations_{kName, "failed SUT commands"};
};

}  // namespace faultline
