// no_fencing: complete does not check the grant against the item's current
// token. A holder that stalled past its lease and lost the item to a
// takeover still completes it: its effect is written under a stale token
// while the new holder works on (the fencing the runbooks' lease overruns
// need).
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

class NoFencingStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

  Status Complete(const Grant& grant, std::string_view result) override {
    auto lock = LockWithRetry(ItemLockPath(grant.item), "complete", grant.agent, grant.item);
    if (!lock.ok()) return lock.status();
    return CompleteLocked(grant, result, /*check_grant=*/false);
  }
};

}  // namespace

Mutant NoFencing() {
  return {"no_fencing", "completes without checking the grant's fencing token",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<NoFencingStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
