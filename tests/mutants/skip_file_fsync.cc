// skip_file_fsync: the completion writes its ledger entry and the item's
// done state as temp file + link/rename + fsync of the directory, but never
// fsyncs the temp file. The names are durable, the data is not: after a
// power loss the ledger entry and the item's file come back empty or torn
// (the ext4 zero-length file after rename). Caught by no_torn_state.
#include "tests/mutants/durable_writes.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

constexpr Durability kNoFileSync{/*fsync_file=*/false, /*fsync_dir=*/true};

class SkipFileFsyncStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

  Status Complete(const Grant& grant, std::string_view result) override {
    auto lock = LockWithRetry(ItemLockPath(grant.item), "complete", grant.agent, grant.item);
    if (!lock.ok()) return lock.status();
    return CompleteLocked(grant, result, /*check_grant=*/true);
  }

 protected:
  Status CreateLedgerEntry(const std::string& path, std::string_view data) override {
    return CreateOnce(Sub("tmp"), path, data, kNoFileSync);
  }
  Status WriteDoneState(const ItemState& state) override {
    return Replace(Sub("tmp"), ItemPath(state.id), ToJson(state).dump(), kNoFileSync);
  }
};

}  // namespace

Mutant SkipFileFsync() {
  return {"skip_file_fsync",
          "the completion's ledger entry and done state are renamed/linked into place and the "
          "directory fsynced, but the temp file never is",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<SkipFileFsyncStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
