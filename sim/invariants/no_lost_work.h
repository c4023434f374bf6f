// no_lost_work (DESIGN §6): every submitted item ends done, or dead-lettered
// or quarantined with a reason.
//
// Read from run_end.items: an item whose status is anything other than
// "done", or "dead" / "quarantined" with a non-empty reason (pending, claimed,
// no status) is a violation; one violation lists up to 10 of them and the
// total. Every item granted during the run (claim_ok) must also appear in
// run_end.items, and run_end.items must have at least as many entries as
// run_start said were submitted ("items", when it is a count).
//
// An item left open whose skill no agent of the fleet has (unservable,
// checker::SkillCoverage) is not lost work: nobody could have done it, and
// skill_match reports it by name.
//
// Without a run_end event nothing can be checked here (progress reports it).
// Thread-compatible; memory is one entry per granted item.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class NoLostWork final : public Invariant {
 public:
  static constexpr const char* kName = "no_lost_work";
  static constexpr const char* kSummary =
      "every submitted item ends done, or dead-lettered/quarantined with a reason";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  void OnRunEnd(const TraceEvent& event);

  struct Granted {
    uint64_t first_seq = 0;  // its first claim_ok
    bool at_end = false;     // listed in run_end.items
  };

  std::optional<int64_t> submitted_;                  // run_start.items, when a count
  std::unordered_map<std::string, Granted> granted_;  // by item
  checker::SkillCoverage skills_;
  std::vector<Violation> violations_;
};

}  // namespace faultline
