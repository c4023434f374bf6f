// The invariant registry: every core checker, in order, each fresh from its
// kind's `make`.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sim/invariants/registry.h"
#include "sim/option_check.h"
#include "tests/sim/checker_history.h"

namespace faultline::checker_test {
namespace {

// ---------------------------------------------------------------------------
// the registry

TEST(RegistryTest, ListsTheCoreInvariantsInOrder) {
  std::vector<InvariantKind> kinds = CoreInvariants();
  std::vector<std::string> names;
  for (const InvariantKind& k : kinds) {
    names.push_back(k.name);
    EXPECT_NE(std::string(k.summary), "") << k.name;
    std::unique_ptr<Invariant> a = k.make(DefaultOptions(k.options)),
                               b = k.make(DefaultOptions(k.options));
    ASSERT_NE(a, nullptr) << k.name;
    EXPECT_NE(a.get(), b.get()) << k.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"single_owner", "exactly_once_effect",
                                             "no_lost_work", "eventual_lock_release",
                                             "bounded_locks", "progress", "no_torn_state",
                                             "config_fail_fast", "no_false_death", "state_sync",
                                             "success_rate", "no_silent_span_loss",
                                             "no_retry_storm", "sut_responsive",
                                             "no_semantic_drift", "bounded_memory",
                                             "bounded_monitor_cost", "skill_match",
                                             "honest_outcome", "no_acknowledged_loss"}));
}

TEST(RegistryTest, EveryCheckerPassesAnEmptyCompletedRun) {
  for (const InvariantKind& k : CoreInvariants()) {
    std::unique_ptr<Invariant> checker = k.make(DefaultOptions(k.options));
    if (k.needs & observes::kCounterpart) {  // a counterpart that did the same: nothing
      checker->ObserveCounterpart(TraceEvent::FromJson({{"type", "differential_start"}}));
      checker->ObserveCounterpart(TraceEvent::FromJson(RunStart("lockstep")));
      checker->ObserveCounterpart(TraceEvent::FromJson(RunEnd(1, 1000, json::array())));
    }
    checker->Observe(TraceEvent::FromJson(RunStart("lockstep")));
    checker->Observe(TraceEvent::FromJson(RunEnd(1, 1000, json::array())));
    std::vector<Violation> out;
    checker->Finish(&out);
    EXPECT_TRUE(out.empty()) << k.name << ": " << Messages(out);
  }
}


// ---------------------------------------------------------------------------
// the registry, with the coordination checkers

TEST(RegistryTest, ListsTheCoordinationCheckersAfterProgress) {
  std::vector<std::string> names;
  for (const InvariantKind& k : CoreInvariants()) names.push_back(k.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "single_owner", "exactly_once_effect", "no_lost_work",
                       "eventual_lock_release", "bounded_locks", "progress", "no_torn_state",
                       "config_fail_fast", "no_false_death", "state_sync", "success_rate",
                       "no_silent_span_loss", "no_retry_storm", "sut_responsive",
                       "no_semantic_drift", "bounded_memory", "bounded_monitor_cost",
                       "skill_match", "honest_outcome", "no_acknowledged_loss"}));
}

}  // namespace
}  // namespace faultline::checker_test
