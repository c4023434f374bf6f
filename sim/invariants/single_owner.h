// single_owner (DESIGN §6): per item, the tokens of claim_ok strictly
// increase, and no two agents hold overlapping valid grants.
//
// A grant (claim_ok) is valid until its lease_until_us; a renew_ok with the
// same item and token moves lease_until_us; complete_ok or release with that
// token, or lease_expired / dead_letter / complete_recovered of the item, end
// it early. A claim_ok by agent B at run time t while agent A's grant is
// valid and not ended is a violation whose evidence is the two claim_ok seqs.
//
// "Valid at t" is judged on the run-time axis, through the holder's own
// clock: A's lease_until_us is a reading of A's clock, put on run time with
// the offset of A's clock seen in A's latest event (checker::ProcessClocks).
// Without clock skew every clock has one offset and this is B's now_us <
// A's lease_until_us; with skew (the clock_skew fault) an agent whose clock
// runs ahead takes over a lease its holder still trusts, and this says so.
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
    std::string proc;  // the process whose clock lease_until_us is on
    int64_t token = 0;
    int64_t lease_until_us = 0;
    uint64_t claim_seq = 0;
    bool renewed = false;
    uint64_t renew_seq = 0;  // the last renew_ok that moved lease_until_us
    bool ended = false;
  };

  void OnClaim(const TraceEvent& event);
  int64_t lease_us_ = -1;                          // from run_start; -1 while unknown
  checker::ProcessClocks clocks_;
  int64_t tolerance_us_ = 0;  // freerun: how far apart a reading and its "t" may be
  std::unordered_map<std::string, Grant> latest_;  // item -> its latest grant
  checker::ViolationList violations_{kName};
};

}  // namespace faultline
