#include "sim/invariants/registry.h"

#include <memory>

#include "sim/invariants/bounded_locks.h"
#include "sim/invariants/bounded_memory.h"
#include "sim/invariants/bounded_monitor_cost.h"
#include "sim/invariants/config_fail_fast.h"
#include "sim/invariants/eventual_lock_release.h"
#include "sim/invariants/exactly_once_effect.h"
#include "sim/invariants/honest_outcome.h"
#include "sim/invariants/no_acknowledged_loss.h"
#include "sim/invariants/no_false_death.h"
#include "sim/invariants/no_lost_submission.h"
#include "sim/invariants/no_lost_work.h"
#include "sim/invariants/no_retry_storm.h"
#include "sim/invariants/no_semantic_drift.h"
#include "sim/invariants/no_silent_span_loss.h"
#include "sim/invariants/no_torn_state.h"
#include "sim/invariants/no_unplanned_crash.h"
#include "sim/invariants/progress.h"
#include "sim/invariants/reconnects_after_partition.h"
#include "sim/invariants/single_owner.h"
#include "sim/invariants/skill_match.h"
#include "sim/invariants/state_sync.h"
#include "sim/invariants/success_rate.h"
#include "sim/invariants/sut_responsive.h"

namespace faultline {
namespace {

// `needs`: what the checker must observe (sim/invariant.h, observes::). A
// checker with options declares them as `static std::vector<OptionSpec>
// Options()` and is made from them; one without has a default constructor.
template <typename Checker>
InvariantKind Entry(unsigned needs = 0) {
  InvariantKind kind;
  kind.name = Checker::kName;
  kind.summary = Checker::kSummary;
  kind.needs = needs;
  if constexpr (requires { Checker::Options(); }) {
    kind.options = Checker::Options();
    kind.make = [](const nlohmann::json& options) { return std::make_unique<Checker>(options); };
  } else {
    kind.make = [](const nlohmann::json&) { return std::make_unique<Checker>(); };
  }
  return kind;
}

}  // namespace

std::vector<InvariantKind> CoreInvariants() {
  return {
      Entry<SingleOwner>(),
      Entry<ExactlyOnceEffect>(),
      Entry<NoLostWork>(observes::kItemStates),
      Entry<EventualLockRelease>(),
      Entry<BoundedLocks>(observes::kLockFiles),
      Entry<Progress>(observes::kItemStates),
      Entry<NoTornState>(observes::kStateFiles),
      Entry<ConfigFailFast>(observes::kCoordinatorEvents),
      Entry<NoFalseDeath>(observes::kCoordinatorEvents),
      Entry<StateSync>(observes::kCoordinatorEvents),
      Entry<SuccessRate>(),
      Entry<NoSilentSpanLoss>(observes::kCoordinatorEvents),
      Entry<NoRetryStorm>(observes::kCoordinatorEvents),
      Entry<SutResponsive>(observes::kSutCommands),
      Entry<NoSemanticDrift>(observes::kCounterpart | observes::kItemStates),
      Entry<BoundedMemory>(),
      Entry<BoundedMonitorCost>(),
      Entry<SkillMatch>(),
      Entry<HonestOutcome>(observes::kCoordinatorEvents | observes::kItemStates),
      Entry<NoAcknowledgedLoss>(observes::kItemStates),
      Entry<NoUnplannedCrash>(),
      Entry<ReconnectsAfterPartition>(),
      Entry<NoLostSubmission>(observes::kItemStates),
  };
}

}  // namespace faultline
