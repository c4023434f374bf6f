// spin_wait: an agent that finds no free item while others still hold claims
// waits for one by looking again at once, over and over, never sleeping: a
// busy-wait. On a real machine it burns a core until a holder finishes; in
// lockstep, where the clock moves only when every process sleeps, the
// holders' work never ends and the run stands still (livelock). The claim
// protocol is the reference one; only the wait between two looks is gone.
#include "sim/protocol/control_protocol.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

namespace point = faultline::protocol::point;

class SpinWaitStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

  Result<ClaimOutcome> ClaimNext(const std::string& agent) override {
    for (;;) {
      auto outcome = FsStore::ClaimNext(agent);
      if (!outcome.ok() || outcome->grant || !outcome->work_remaining) return outcome;
      // The bug: no idle sleep before the next look, only a yield point.
      probe_->Yield(point::kLockBusy, "claim");
    }
  }
};

}  // namespace

Mutant SpinWait() {
  return {"spin_wait",
          "waits for a claimable item by looking again at once, never sleeping (busy-wait)",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<SpinWaitStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
