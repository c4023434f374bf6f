// no_silent_span_loss (DESIGN §6): every span an agent created was received
// by the collector by the end of the run, or was counted as dropped — never
// lost without a word (RPN 192, "silent OTEL span loss").
//
// Reads span_created (span, agent, name, item), span_dropped (spans: the ids
// dropped; count), and the engine's end-of-run records: sink_received (the
// collector's record, sorted ids, in parts) and spool_left (ids still in an
// agent's spool). A span still in a spool at the end is accounted for, not
// lost: it is on disk, shown by `swarm status`, and sent by the agent's next
// start or the reaper. Every other created span must be delivered or
// dropped; the rest are violations, one per agent, naming the first spans
// (evidence: their span_created events). Drops whose ids are unknown
// (unreadable spool lines) excuse as many of that agent's spans.
//
// A run that created spans but never recorded what the collector received is
// a violation too (the evidence is missing). A run without telemetry creates
// no spans and holds trivially.
//
// Summary: created, delivered, dropped, still_spooled, lost.
//
// Linear in the history; memory one entry per span. Thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class NoSilentSpanLoss final : public Invariant {
 public:
  static constexpr const char* kName = "no_silent_span_loss";
  static constexpr const char* kSummary =
      "every span an agent created is received by the collector by the end, counted as "
      "dropped, or still in a spool — none vanishes silently";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;
  nlohmann::json Summary() const override;
  std::string SummaryText() const override;

 private:
  struct Created {
    uint64_t seq = 0;
    int64_t t = 0;
    std::string span, agent, name, item;
  };

  std::vector<Created> created_;                       // in order
  std::unordered_set<std::string> created_ids_;
  std::unordered_set<std::string> dropped_;
  std::unordered_map<std::string, int64_t> anonymous_drops_;  // agent -> count without ids
  std::unordered_set<std::string> received_;
  std::unordered_set<std::string> spooled_;
  bool received_seen_ = false;
  std::string received_error_;
  struct Counts {
    uint64_t created = 0, delivered = 0, dropped = 0, spooled = 0, lost = 0;
  } counts_;
  checker::ViolationList violations_{kName};
};

}  // namespace faultline
