// Differential testing (`faultline diff`, DESIGN §9): the histories of one
// lockstep scenario run against two systems under test, compared on a
// normalized projection rather than line by line.
//
// Two implementations of one protocol never produce the same trace: their
// agents pick items in different orders, yield at different points, renew
// at different times. What must agree is what happened to each item: the
// sequence of its outcomes (granted, effect written, completed, rejected,
// released, expired, dead-lettered) and its final state. The projection
// keeps exactly that, per item, and leaves out agents, tokens, times and
// renewals (agents and positions are kept only to show where it happened).
//
// The first divergence is the item operation where the two sequences first
// differ, earliest by its position in either history.
//
// The outcome projection (ProjectOutcomes) keeps less: per item only what it
// came to — final status, ledger, effects written, completions accepted — so
// that two honest implementations agree even when a fault lands on different
// items in each (the no_semantic_drift invariant compares either). Pure
// functions; HistoryProjector is thread-compatible.
#pragma once

#include <cstdint>
#include <istream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace faultline {

struct ProjectedOp {
  std::string item;
  std::string op;       // claim, effect, complete, release, expire, dead_letter, end
  std::string outcome;  // ok, written, present, rejected, recovered, or the final status
  std::string agent;    // shown, not compared
  uint64_t seq = 0;     // the trace line
  int64_t t = 0;        // run time of the line
};

// The operations of a trace.jsonl, in trace order; the final state of every
// item (from run_end) last, in item order.
std::vector<ProjectedOp> ProjectHistory(std::istream& trace);

// The same, one trace line at a time (for checkers, which see events as the
// run writes them).
class HistoryProjector {
 public:
  void Add(const nlohmann::json& line);
  // The projection of every line added; the run_end line (null if none).
  std::vector<ProjectedOp> Ops() const;
  const nlohmann::json& run_end() const { return run_end_; }

 private:
  std::vector<ProjectedOp> ops_, end_;
  nlohmann::json run_end_;
};

// What each item came to, from a projection (ProjectHistory) and the run_end
// line: per item, in item order, the operations "end" (final status),
// "ledger" ("yes"/"no", when run_end says whether the item's effect is in the
// ledger), "effects" (how many effects were written) and "completions" (how
// many completions were accepted), each with the item's last operation's
// agent and position.
std::vector<ProjectedOp> ProjectOutcomes(const std::vector<ProjectedOp>& history,
                                         const nlohmann::json& run_end);

struct Divergence {
  bool found = false;
  size_t agreed = 0;   // operations compared equal (all of them when !found)
  std::string item;    // where it diverges
  size_t index = 0;    // which operation of the item (0-based)
  std::optional<ProjectedOp> a, b;  // the differing operations (nullopt: none there)
  std::vector<std::string> items;    // every item that diverges, in item order
};

Divergence FirstDivergence(const std::vector<ProjectedOp>& a, const std::vector<ProjectedOp>& b);

// Human text: the divergence with both sides labelled, or "no divergence in
// N operations".
std::string DescribeDivergence(const Divergence& d, const std::string& label_a,
                               const std::string& label_b);

}  // namespace faultline
