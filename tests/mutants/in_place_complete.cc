// in_place_complete: the completion marks the item done by overwriting its
// state file in place (truncate, write; the `echo "$state" > file` of the
// shell coordinators), with no temp file, rename or fsync. Every process
// reads the new state at once and a process crash after the write loses
// nothing; a power loss leaves the file's unsynced data dropped, cut or mixed
// with the old state, so it comes back torn. Caught by no_torn_state.
#include "tests/mutants/durable_writes.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

class InPlaceCompleteStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

  Status Complete(const Grant& grant, std::string_view result) override {
    auto lock = LockWithRetry(ItemLockPath(grant.item), "complete", grant.agent, grant.item);
    if (!lock.ok()) return lock.status();
    return CompleteLocked(grant, result, /*check_grant=*/true);
  }

 protected:
  Status WriteDoneState(const ItemState& state) override {
    return OverwriteInPlace(ItemPath(state.id), ToJson(state).dump());
  }
};

}  // namespace

Mutant InPlaceComplete() {
  return {"in_place_complete",
          "the completion overwrites the item's state file in place (truncate, write, no fsync) "
          "instead of temp file + fsync + rename",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<InPlaceCompleteStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
