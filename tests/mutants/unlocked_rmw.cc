// unlocked_rmw: the reaper returns an expired claim with a read-modify-write
// of the item's state file (shared by every agent and the reaper) without
// taking the item's lock: "nobody holds an expired claim". An agent that
// takes the claim over between the reaper's read and its write loses that
// update — its grant is overwritten with the stale state made pending — and
// the item is granted again under the same token (unlocked read-modify-write
// of a shared file in the runbooks).
#include "coordinator/fs_util.h"
#include "sim/protocol/control_protocol.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

namespace point = faultline::protocol::point;

class UnlockedRmwStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

  Result<ReapReport> Reap(const ReapOptions& options) override {
    if (auto current = LoadCluster(); current.ok()) config_ = *current;
    ReapReport expired;
    if (!options.dry_run) SWARM_RETURN_IF_ERROR(ExpireWithoutLock(&expired));
    auto report = FsStore::Reap(options);  // everything else the reference way
    if (!report.ok()) return report;
    for (auto [from, to] : {std::pair{&expired.returned, &report->returned},
                            std::pair{&expired.dead_lettered, &report->dead_lettered},
                            std::pair{&expired.recovered, &report->recovered}}) {
      to->insert(to->begin(), from->begin(), from->end());
    }
    return report;
  }

 private:
  Status ExpireWithoutLock(ReapReport* report) {
    auto markers = fs::ListDir(Sub("claims"));
    if (!markers.ok()) return markers.status();
    for (const std::string& id : *markers) {
      auto state = ReadItem(id);  // read...
      if (!state.ok() || !state->LeaseExpired(clock_->NowMicros())) continue;
      // ...where the reference takes the item's lock and reads again...
      probe_->Yield(point::kReapLocked, id);
      // ...modify and write what was read.
      SWARM_RETURN_IF_ERROR(ExpireLocked(*state, "reaper", report));
    }
    return Status::Ok();
  }
};

}  // namespace

Mutant UnlockedRmw() {
  return {"unlocked_rmw",
          "the reaper expires claims with a read-modify-write of the item file without its lock",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<UnlockedRmwStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
