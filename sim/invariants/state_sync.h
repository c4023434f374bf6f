// state_sync (DESIGN §6): each agent's recorded holdings equal the claims
// that name it.
//
// Grants are tracked per item as in single_owner: claim_ok starts one,
// renew_ok with its token moves lease_until_us, complete_ok / release with
// its token end it, and lease_expired, takeover, dead_letter,
// complete_recovered or an item's quarantine end whatever grant the item
// has. At every `heartbeat` of agent A that carries "holding" (item ids):
//   - each listed item must be currently granted to A: its latest grant is
//     A's and has not ended. Otherwise the violation names the item, the
//     grant that stands (or that it was never granted) and A's earlier grant
//     if the one just before it was A's; evidence: those claim_oks, the
//     ending event, and the heartbeat.
//   - each grant currently held by A whose lease is valid at the heartbeat's
//     at_us (lease_until_us > at_us, both A's clock) must be listed.
//     Evidence: the claim_ok and the heartbeat.
// An agent verifies its grants before writing a heartbeat and drops the lost
// ones (holding_lost), so the heartbeat is judged at its place in the trace.
// When A's process exits, the grants it held are no longer expected in its
// heartbeats (a restarted agent under the same id starts empty) but may
// still be listed while they stand; a renew_ok by A expects the grant again.
// A grant whose lease had run out at a heartbeat is not expected at later
// ones either, until renewed.
//
// Each discrepancy is reported once: a grant missing from a run of
// heartbeats is one violation, as is an item listed by a run of heartbeats
// while the same grant stands. A heartbeat without "holding" is not judged.
// Thread-compatible; memory is one entry per item and per agent, plus one per
// discrepancy reported.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class StateSync final : public Invariant {
 public:
  static constexpr const char* kName = "state_sync";
  static constexpr const char* kSummary =
      "each agent's heartbeat lists exactly the items granted to it whose lease is still valid";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  struct Grant {
    std::string agent;
    int64_t token = 0;
    int64_t lease_until_us = 0;
    uint64_t claim_seq = 0;
    bool ended = false;
    std::string end_type;  // the event that ended it
    uint64_t end_seq = 0;
    uint64_t listed_by = 0;  // the seq + 1 of the last heartbeat of its agent that listed it
  };
  struct ItemRecord {
    bool granted = false;  // `latest` is set
    Grant latest;
    bool has_previous = false;
    Grant previous;  // the grant before `latest`
  };

  void OnClaim(const TraceEvent& event);
  void End(const std::string& item, const TraceEvent& event);
  void OnHeartbeat(const TraceEvent& event, const nlohmann::json& holding);
  // A listed item that is not A's; `rec` is null when never granted.
  void ReportListed(const TraceEvent& event, const std::string& item, const ItemRecord* rec);

  std::unordered_map<std::string, ItemRecord> items_;
  // agent -> the items whose latest grant is that agent's, not ended, and
  // expected in its heartbeats
  std::unordered_map<std::string, std::unordered_set<std::string>> held_;
  std::unordered_set<uint64_t> missing_reported_;    // claim seqs of grants reported missing
  std::unordered_set<std::string> listed_reported_;  // agent, item, standing grant's seq
  checker::ViolationList violations_{kName};
};

}  // namespace faultline
