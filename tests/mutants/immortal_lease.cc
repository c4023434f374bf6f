// immortal_lease: a claim is granted with a lease that never ends (until the
// end of the year 9999), as if a grant lasted until released. An agent that
// dies holding one never gives it back: nobody takes the item over, and the
// work is never done (worker crash and stale claims in the runbooks).
#include "sim/protocol/control_protocol.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

namespace point = faultline::protocol::point;

// 9999-12-31T23:59:59Z in microseconds since the Unix epoch.
constexpr int64_t kNeverUs = 253'402'300'799'000'000;

class ImmortalLeaseStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

  Result<Grant> Claim(const std::string& id, const std::string& agent) override {
    std::optional<FileLock> lock;
    {
      auto taken = FileLock::TryAcquire(ItemLockPath(id));
      if (!taken.ok()) return taken.status();
      lock.emplace(std::move(*taken));
    }
    probe_->Yield(point::kClaimLocked, id);
    auto state = ReadItem(id);
    if (!state.ok() || state->status != ItemStatus::kPending) {
      lock.reset();
      return FsStore::Claim(id, agent);
    }
    return GrantPending(std::move(*state), agent, kNeverUs);  // the bug
  }
};

}  // namespace

Mutant ImmortalLease() {
  return {"immortal_lease", "grants claims with a lease that never expires",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<ImmortalLeaseStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
