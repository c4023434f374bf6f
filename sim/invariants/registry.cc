#include "sim/invariants/registry.h"

#include <memory>

#include "sim/invariants/bounded_locks.h"
#include "sim/invariants/config_fail_fast.h"
#include "sim/invariants/eventual_lock_release.h"
#include "sim/invariants/exactly_once_effect.h"
#include "sim/invariants/no_false_death.h"
#include "sim/invariants/no_lost_work.h"
#include "sim/invariants/no_silent_span_loss.h"
#include "sim/invariants/no_torn_state.h"
#include "sim/invariants/progress.h"
#include "sim/invariants/single_owner.h"
#include "sim/invariants/state_sync.h"
#include "sim/invariants/success_rate.h"

namespace faultline {
namespace {

template <typename Checker>
InvariantKind Entry() {
  return {Checker::kName, Checker::kSummary, [] { return std::make_unique<Checker>(); }};
}

}  // namespace

std::vector<InvariantKind> CoreInvariants() {
  return {
      Entry<SingleOwner>(),
      Entry<ExactlyOnceEffect>(),
      Entry<NoLostWork>(),
      Entry<EventualLockRelease>(),
      Entry<BoundedLocks>(),
      Entry<Progress>(),
      Entry<NoTornState>(),
      Entry<ConfigFailFast>(),
      Entry<NoFalseDeath>(),
      Entry<StateSync>(),
      Entry<SuccessRate>(),
      Entry<NoSilentSpanLoss>(),
  };
}

}  // namespace faultline
