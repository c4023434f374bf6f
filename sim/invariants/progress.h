// progress (DESIGN §6): all work is done by the end of the run; a lockstep
// deadlock (nothing runnable, no timer, work left) is reported with who waits
// on what.
//
// run_end.completed must be true. Otherwise one violation, with the run_end
// seq as evidence, says how many items were left (not done, dead or
// quarantined) and, when run_end.deadlock is non-empty, quotes it verbatim as
// "lockstep deadlock: ...". A history without run_end is a violation too: the
// run never finished. The engine decides "completed" against its own bound
// (sim_ms / wall_ms after the last fault heals); this checker reads it.
//
// A lockstep livelock (run_end.livelock non-empty: processes kept taking
// steps while simulated time stood still, limits.livelock_steps of them) is
// one violation, whatever was completed, quoting who stepped at which points
// as "lockstep livelock: no simulated time passed in N steps at T: ...".
//
// Items left open whose skill no agent of the fleet has (unservable,
// checker::SkillCoverage) do not count as left: nobody could have done
// them; skill_match names them. A run whose only open items are unservable
// made all the progress it could.
//
// Thread-compatible; memory is one entry per item that needs a skill.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class Progress final : public Invariant {
 public:
  static constexpr const char* kName = "progress";
  static constexpr const char* kSummary =
      "all work is done by the end of the run; a lockstep deadlock is reported with who waits "
      "on what, a lockstep livelock with who spins at which points";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  bool ended_ = false;
  bool seen_any_ = false;
  uint64_t last_seq_ = 0;
  checker::SkillCoverage skills_;
  std::vector<Violation> violations_;
};

}  // namespace faultline
