// check_then_create: the claim checks that the item is pending and then
// writes the grant, with no lock around the two. Two agents that both read
// "pending" both write a grant, with the same token: the exists-then-write
// claim of the runbooks (race in work claiming, RPN 225).
#include "sim/protocol/control_protocol.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

namespace point = faultline::protocol::point;

class CheckThenCreateStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

  Result<Grant> Claim(const std::string& id, const std::string& agent) override {
    auto state = ReadItem(id);  // the check...
    // Takeovers, finished and corrupt items go the reference way.
    if (!state.ok() || state->status != ItemStatus::kPending) return FsStore::Claim(id, agent);
    // ...and, with nothing held in between, the write. The reference holds
    // the item's lock from here to the end of the claim.
    probe_->Yield(point::kClaimLocked, id);
    return GrantPending(std::move(*state), agent, clock_->NowMicros() + config_.lease_ms * 1000);
  }
};

}  // namespace

Mutant CheckThenCreate() {
  return {"check_then_create", "claims a pending item by reading it and then writing the grant, "
                               "with no lock in between",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<CheckThenCreateStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
