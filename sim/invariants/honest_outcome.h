// honest_outcome (issue: dead letters and recorded effects): every item's
// final status agrees with its history.
//
// - A dead-lettered item really failed max_attempts times. A failure is a
//   grant that ended without its holder: its lease ran out and the grant was
//   expired (lease_expired, dead_letter) or taken over (takeover). Each such
//   event names the failed grant's token; the distinct tokens are the
//   failures. A release (the holder gave the item back: stopping, drift, a
//   failed model call) is not a failure, nor is a grant whose claim_ok never
//   reached the trace (its holder died after the state write): that grant
//   still ends in one of the events above. At each dead_letter the item must
//   have at least max_attempts failures, the bound being the smallest
//   max_attempts the run had (run_start, and any config_drift fault that set
//   it mid-run, since the coordinator follows the changed setting).
// - Nothing with a recorded effect ends pending or dead: every item listed in
//   run_end.items with "effect": true must be "done". Its effect is in the
//   ledger, so its work was finished; any other end makes it wait forever or
//   be reported failed.
//
// Needs the coordinator's events (expiries) and the final item states.
// Thread-compatible; memory is one set of failed tokens per expired item.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class HonestOutcome final : public Invariant {
 public:
  static constexpr const char* kName = "honest_outcome";
  static constexpr const char* kSummary =
      "a dead-lettered item failed max_attempts grants (releases do not count); nothing with a "
      "recorded effect ends pending or dead";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  void OnRunEnd(const TraceEvent& event);

  int64_t max_attempts_ = 0;  // 0 until run_start names it: nothing is judged
  std::unordered_map<std::string, std::set<int64_t>> failed_;  // item -> failed tokens
  checker::ViolationList violations_{kName};
};

}  // namespace faultline
