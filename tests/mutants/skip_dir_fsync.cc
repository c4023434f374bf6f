// skip_dir_fsync: the completion fsyncs its temp files, but not the
// directory after linking the ledger entry and renaming the done state into
// place. A process crash loses nothing; a power loss undoes the link and the
// rename, so a completion the agent was told succeeded is gone: its effect
// missing from the ledger, or the item handed out again. Caught by
// no_acknowledged_loss.
#include "tests/mutants/durable_writes.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

constexpr Durability kNoDirSync{/*fsync_file=*/true, /*fsync_dir=*/false};

class SkipDirFsyncStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

  Status Complete(const Grant& grant, std::string_view result) override {
    auto lock = LockWithRetry(ItemLockPath(grant.item), "complete", grant.agent, grant.item);
    if (!lock.ok()) return lock.status();
    return CompleteLocked(grant, result, /*check_grant=*/true);
  }

 protected:
  Status CreateLedgerEntry(const std::string& path, std::string_view data) override {
    return CreateOnce(Sub("tmp"), path, data, kNoDirSync);
  }
  Status WriteDoneState(const ItemState& state) override {
    return Replace(Sub("tmp"), ItemPath(state.id), ToJson(state).dump(), kNoDirSync);
  }
};

}  // namespace

Mutant SkipDirFsync() {
  return {"skip_dir_fsync",
          "the completion never fsyncs the directory after linking its ledger entry and "
          "renaming its done state into place",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<SkipDirFsyncStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
