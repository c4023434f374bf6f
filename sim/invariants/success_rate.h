// success_rate (DESIGN §6): claim success rate and lock timeout rate stay
// within the scenario's SLO — by default the runbook's coordination
// thresholds: a success rate below 80 % or a timeout rate above 20 % is
// SEV-3 — and a success rate below 50 % is SEV-2 whatever the SLO. The SLO
// comes from run_start's "slo" {min_claim_success_percent,
// max_lock_timeout_percent} (the scenario's "slo" block).
//
//   success rate = claim_ok / (claim_ok + claim_contended)
//   timeout rate = lock_timeout / (claim_ok + renew_ok + complete_ok + lock_timeout)
//
// A claim_contended is a claim call that tried at least one claimable-looking
// item and lost every race; a lock_timeout is a renew, complete, heartbeat or
// release that gave up waiting for a lock. Both rates are judged once, at
// Finish, over the whole run, and only with enough data: at least
// min_samples (an option, default 20) claim attempts for the success rate,
// min_samples operations for the timeout rate; below that there is no
// verdict (not a pass, not a violation). At most one violation per rate; it quotes the rate as a
// percentage, the counts and the severity ("SEV-3" or "SEV-2"). Evidence: the
// first claim_contended (or lock_timeout) and the run_end (or the last event).
//
// Thread-compatible; constant memory.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"
#include "sim/options.h"

namespace faultline {

class SuccessRate final : public Invariant {
 public:
  static constexpr const char* kName = "success_rate";
  static constexpr const char* kSummary =
      "claim success rate >= 80 % and lock timeout rate <= 20 % (runbook: below 80 % success "
      "or above 20 % timeouts is SEV-3, below 50 % success SEV-2)";
  static constexpr int64_t kSev2SuccessPercent = 50;  // success below this is SEV-2

  // min_samples: the attempts (operations) below which a rate is not judged.
  static std::vector<OptionSpec> Options();
  SuccessRate();  // every option at its default
  // REQUIRES: `options` has every option of Options(), valid.
  explicit SuccessRate(const nlohmann::json& options);

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  int64_t min_samples_;
  int64_t min_success_percent_ =
      checker::SloDefault(&ScenarioSettings::slo_min_claim_success_percent);
  int64_t max_timeout_percent_ = checker::SloDefault(&ScenarioSettings::slo_max_lock_timeout_percent);
  int64_t claim_ok_ = 0, contended_ = 0, renew_ok_ = 0, complete_ok_ = 0, lock_timeout_ = 0;
  std::optional<uint64_t> first_contended_, first_timeout_;
  std::optional<uint64_t> run_end_seq_, last_seq_;
};

}  // namespace faultline
