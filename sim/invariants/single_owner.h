// single_owner (DESIGN §6): per item, the tokens of claim_ok strictly
// increase, and no two agents hold overlapping valid grants.
//
// A grant (claim_ok) is valid from its now_us until its lease_until_us; a
// renew_ok with the same item and token moves lease_until_us; complete_ok or
// release with that token, or lease_expired / dead_letter of the item, end it
// early. A claim_ok by agent B while agent A's grant is valid and not ended
// (B's now_us < A's lease_until_us) is a violation whose evidence is the two
// claim_ok seqs. now_us and lease_until_us are compared only with each other
// (both are the coordinator processes' clock); the run time "t" is not used.
//
// Times in messages are those clock readings minus the offset between the
// clock and run time at the first claim_ok (the lockstep epoch, or the wall
// clock at the start of a freerun run), so they read like run times; a skewed
// agent's readings stay skewed, which is the point.
//
// A claim_ok without now_us is dated lease_until_us - lease_ms (run_start),
// which is how the reference coordinator computes the deadline; without
// either, only the token order is checked for it.
//
// Thread-compatible; memory is one entry per item.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class SingleOwner final : public Invariant {
 public:
  static constexpr const char* kName = "single_owner";
  static constexpr const char* kSummary =
      "no two agents hold overlapping valid grants on one item; tokens per item strictly "
      "increase";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  struct Grant {
    std::string agent;
    int64_t token = 0;
    int64_t lease_until_us = 0;
    uint64_t claim_seq = 0;
    bool renewed = false;
    uint64_t renew_seq = 0;  // the last renew_ok that moved lease_until_us
    bool ended = false;
  };

  void OnClaim(const TraceEvent& event);
  std::string Clock(int64_t us) const;  // a clock reading as seconds of run time

  int64_t lease_us_ = -1;                          // from run_start; -1 while unknown
  std::optional<int64_t> clock_offset_;            // clock minus run time at the first claim_ok
  std::unordered_map<std::string, Grant> latest_;  // item -> its latest grant
  checker::ViolationList violations_{kName};
};

}  // namespace faultline
