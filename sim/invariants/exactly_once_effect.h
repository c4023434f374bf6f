// exactly_once_effect (DESIGN §6): the ledger holds exactly one accepted
// effect per completed item, and stale tokens are rejected.
//
// Violations:
//   - a second `effect` event for an item (evidence: both effect seqs);
//     effect_present and complete_recovered (an earlier effect found in the
//     ledger) never count as a second effect;
//   - an effect whose token is not the item's latest granted token (the last
//     claim_ok before it): a stale token accepted (evidence: that claim_ok and
//     the effect);
//   - at run_end, "ledger" differs from the number of items with an effect,
//     naming the items whose run_end "effect" flag disagrees;
//   - at run_end, an item with status "done" that never had an effect,
//     effect_present or complete_recovered event.
// complete_rejected and the other *_rejected events are fine.
//
// Without a run_end event only the first two are checked.
// Thread-compatible; memory is one entry per item.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class ExactlyOnceEffect final : public Invariant {
 public:
  static constexpr const char* kName = "exactly_once_effect";
  static constexpr const char* kSummary =
      "the ledger holds exactly one accepted effect per completed item; stale tokens rejected";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  struct ItemRecord {
    int64_t granted_token = 0;  // latest claim_ok's token; 0 if never granted
    std::string granted_agent;
    uint64_t claim_seq = 0;
    bool has_effect = false;
    std::string effect_agent;
    int64_t effect_token = 0;
    uint64_t effect_seq = 0;
    bool effect_present = false;  // an effect_present event was seen
  };

  void OnEffect(const TraceEvent& event);
  void OnRunEnd(const TraceEvent& event);
  // Credits the entries that a holder killed after its claim may have made
  // without reporting them (see OnRunEnd).
  void CreditKilledWriters(const nlohmann::json& items);

  std::unordered_map<std::string, ItemRecord> items_;  // by item
  // Items with an effect event or an effect_present. The latter still proves
  // a ledger entry without the former: in freerun the writer can be killed
  // between creating the entry and emitting the event.
  size_t with_effect_ = 0;
  // Per agent, the seqs of its exits by a signal (killed), in trace order.
  std::unordered_map<std::string, std::vector<uint64_t>> killed_at_;
  checker::ViolationList violations_{kName};
};

}  // namespace faultline
