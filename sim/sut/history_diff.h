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
// differ, earliest by its position in either history. Pure functions.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

namespace faultline::sut {

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

struct Divergence {
  bool found = false;
  size_t agreed = 0;   // operations compared equal (all of them when !found)
  std::string item;    // where it diverges
  size_t index = 0;    // which operation of the item (0-based)
  std::optional<ProjectedOp> a, b;  // the differing operations (nullopt: none there)
};

Divergence FirstDivergence(const std::vector<ProjectedOp>& a, const std::vector<ProjectedOp>& b);

// Human text: the divergence with both sides labelled, or "no divergence in
// N operations".
std::string DescribeDivergence(const Divergence& d, const std::string& label_a,
                               const std::string& label_b);

}  // namespace faultline::sut
