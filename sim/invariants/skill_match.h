// skill_match: work goes only to agents that can do it. An item that needs a
// skill (scenario "work"/"skills", sim/skills.h) may be granted (claim_ok)
// and completed (complete_ok) only by an agent that has that skill (as the
// harness gave them, in the "submit" event; not what the coordinator says).
// Each such grant or completion by an agent without the skill is a violation
// naming the item, the skill, the agent and its skills; evidence: the event.
//
// Items left open at run_end whose skill no agent of the fleet has (the
// specialists were killed and not restarted: checker::SkillCoverage) are
// unservable: no coordinator could have done them. They are not a violation
// here, and no_lost_work and progress do not count them as lost or left;
// this checker reports them in its summary (the verdict and the run's
// summary line), so that starving work is named, never silent.
//
// Thread-compatible; memory is one entry per item that needs a skill and
// per agent.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class SkillMatch final : public Invariant {
 public:
  static constexpr const char* kName = "skill_match";
  static constexpr const char* kSummary =
      "no item is granted or completed by an agent that lacks the skill it needs; items whose "
      "skill no live agent has are reported as unservable";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;
  nlohmann::json Summary() const override;
  std::string SummaryText() const override;

 private:
  void Check(const TraceEvent& event, const char* what);
  void OnRunEnd(const TraceEvent& event);

  checker::SkillCoverage coverage_;
  int64_t skilled_grants_ = 0;               // claim_ok of items that need a skill
  std::map<std::string, std::vector<std::string>> unservable_;  // skill -> items, at run_end
  checker::ViolationList violations_{kName, "mismatched grants or completions"};
};

}  // namespace faultline
