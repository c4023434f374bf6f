// skip_file_fsync and skip_dir_fsync: one store whose completion writes its
// ledger entry and the item's done state as temp file + link/rename, with one
// of the two fsyncs of a durable write left out (the Durability it is given).
//
// skip_file_fsync never fsyncs the temp file: the names are durable, the
// data is not, so after a power loss the ledger entry and the item's file
// come back empty or torn (the ext4 zero-length file after rename). Caught by
// no_torn_state.
//
// skip_dir_fsync never fsyncs the directory after the link and the rename: a
// process crash loses nothing, but a power loss undoes them, so a completion
// the agent was told succeeded is gone: its effect missing from the ledger,
// or the item handed out again. Caught by no_acknowledged_loss.
#include "tests/mutants/durable_writes.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

class SkipFsyncStore final : public MutantStore {
 public:
  SkipFsyncStore(std::string dir, ClusterConfig config, Clock* clock, Probe* probe,
                 Durability durability)
      : MutantStore(std::move(dir), std::move(config), clock, probe), durability_(durability) {}

  Status Complete(const Grant& grant, std::string_view result) override {
    auto lock = LockWithRetry(ItemLockPath(grant.item), "complete", grant.agent, grant.item);
    if (!lock.ok()) return lock.status();
    return CompleteLocked(grant, result, /*check_grant=*/true);
  }

 protected:
  Status CreateLedgerEntry(const std::string& path, std::string_view data) override {
    return CreateOnce(Sub("tmp"), path, data, durability_);
  }
  Status WriteDoneState(const ItemState& state) override {
    return Replace(Sub("tmp"), ItemPath(state.id), ToJson(state).dump(), durability_);
  }

 private:
  const Durability durability_;
};

}  // namespace

Mutant SkipFileFsync() {
  return {"skip_file_fsync",
          "the completion's ledger entry and done state are renamed/linked into place and the "
          "directory fsynced, but the temp file never is",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<SkipFsyncStore>(
                dir, clock, probe, Durability{/*fsync_file=*/false, /*fsync_dir=*/true});
          }};
}

Mutant SkipDirFsync() {
  return {"skip_dir_fsync",
          "the completion never fsyncs the directory after linking its ledger entry and "
          "renaming its done state into place",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<SkipFsyncStore>(
                dir, clock, probe, Durability{/*fsync_file=*/true, /*fsync_dir=*/false});
          }};
}

}  // namespace swarm::mutants
