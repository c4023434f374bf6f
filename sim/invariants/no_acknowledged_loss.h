// no_acknowledged_loss: every completion the system acknowledged before a
// power loss is still done, with its effect in the ledger, after recovery.
//
// A power loss is a `fault` event of kind "power_loss". Every item with a
// complete_ok before it is acknowledged; after it, each such item must
//   - never be granted again (a claim_ok or takeover for it: the system forgot
//     it was done and hands the work out a second time), and
//   - end, at run_end, with status "done" and "effect" true (its ledger
//     entry survived).
// One violation per lost item, naming its acknowledgement (agent, token),
// the power loss and how it was lost; evidence: the complete_ok, the fault
// and the event that shows the loss (the new grant, or run_end). An item
// recovered from its ledger (complete_recovered) is not lost. Without a
// power loss there is nothing to judge.
//
// Thread-compatible; memory is one entry per completed item.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class NoAcknowledgedLoss final : public Invariant {
 public:
  static constexpr const char* kName = "no_acknowledged_loss";
  static constexpr const char* kSummary =
      "every completion acknowledged (complete_ok) before a power loss is still done, with its "
      "effect in the ledger, after recovery";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  struct Ack {
    uint64_t seq = 0;  // the complete_ok
    int64_t t = 0;
    std::string agent;
    int64_t token = 0;
    uint64_t loss_seq = 0;  // the first power loss after it; 0: none yet
    int64_t loss_t = 0;
    bool reported = false;
  };

  void Lost(Ack& ack, const std::string& item, const std::string& how, uint64_t seq);

  std::unordered_map<std::string, Ack> acks_;  // by item
  std::vector<std::string> order_;             // items in the order acknowledged
  uint64_t losses_ = 0;
  checker::ViolationList violations_{kName, "lost completions"};
};

}  // namespace faultline
