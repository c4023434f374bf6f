// single_owner (DESIGN §6): per item, the tokens of claim_ok strictly
// increase, and no two agents hold overlapping valid grants.
//
// A grant (claim_ok) is valid until its lease_until_us; a renew_ok with the
// same item and token moves lease_until_us; complete_ok or release with that
// token, or lease_expired / dead_letter / complete_recovered of the item, end
// it early, and so does the holder's exit (an "exit" from the engine: a dead
// process holds nothing; the reference coordinator waits for the lease all
// the same, a PID-lock coordinator may take over at once). A claim_ok by
// agent B while agent A's grant is valid and not ended is a violation whose
// evidence is the two claim_ok seqs.
//
// A claim_ok by B is judged on B's now_us against A's lease_until_us: both
// clock readings, and without clock skew both read the same clock (the
// simulated one in lockstep, the real clock in freerun). Under the clock_skew
// fault each reading is first taken back to the unskewed clock
// (checker::ProcessClocks), so an agent whose clock runs ahead and takes over
// a lease its holder still trusts is caught, not excused by its own clock.
//
// Times in messages are those readings minus the offset between the clock
// and run time at the first claim_ok, so they read like run times.
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
    std::string proc;  // the process that was granted it
    int64_t token = 0;
    int64_t lease_until_us = 0;  // on the unskewed clock
    uint64_t claim_seq = 0;
    bool renewed = false;
    uint64_t renew_seq = 0;  // the last renew_ok that moved lease_until_us
    bool ended = false;
  };

  void OnClaim(const TraceEvent& event);
  std::string Clock(int64_t us) const;  // a clock reading as seconds of run time

  int64_t lease_us_ = -1;                // from run_start; -1 while unknown
  std::optional<int64_t> clock_offset_;  // clock minus run time at the first claim_ok
  checker::ProcessClocks clocks_;
  // Items each agent was granted since its last exit (may include ended ones).
  std::unordered_map<std::string, std::vector<std::string>> held_;
  std::unordered_map<std::string, Grant> latest_;  // item -> its latest grant
  checker::ViolationList violations_{kName};
};

}  // namespace faultline
