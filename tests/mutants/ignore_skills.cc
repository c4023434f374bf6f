// ignore_skills: the claim never asks whether the agent has the skill the
// item needs. Every claim path (the walk over open items, the takeover of
// expired claims, the claim itself) grants any item to any agent, so
// specialist work goes to agents that cannot do it: the agent-specialization
// mismatch of the FMEA catalogue.
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

class IgnoreSkillsStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

 protected:
  bool CanDo(const ItemState&, const std::string&) const override { return true; }
};

}  // namespace

Mutant IgnoreSkills() {
  return {"ignore_skills", "grants items to agents that lack the skill they need",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<IgnoreSkillsStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
