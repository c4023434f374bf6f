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
                                             "honest_outcome", "no_acknowledged_loss",
                                             "no_unplanned_crash",
                                             "reconnects_after_partition", "no_lost_submission"}));
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
                       "skill_match", "honest_outcome", "no_acknowledged_loss", "no_unplanned_crash",
                       "reconnects_after_partition", "no_lost_submission"}));
}

TEST(RegistryTest, NoUnplannedCrashFlagsASignalNoFaultSent) {
  const InvariantKind* kind = nullptr;
  const std::vector<InvariantKind> all = CoreInvariants();
  for (const InvariantKind& k : all) {
    if (k.name == "no_unplanned_crash") kind = &k;
  }
  ASSERT_NE(kind, nullptr);
  std::unique_ptr<Invariant> checker = kind->make(DefaultOptions(kind->options));
  auto exit_event = [](uint64_t seq, json extra) {
    json e = {{"seq", seq}, {"t", 5000}, {"proc", "sim"}, {"type", "exit"}, {"agent", "a1"},
              {"role", "agent"}};
    e.update(extra);
    return TraceEvent::FromJson(e);
  };
  checker->Observe(exit_event(1, {{"signal", 9}, {"by", "kill_agent"}}));  // a fault's kill
  checker->Observe(exit_event(2, {{"code", 0}}));                          // an exit
  checker->Observe(exit_event(3, {{"signal", 11}}));                       // its own crash
  std::vector<Violation> out;
  checker->Finish(&out);
  ASSERT_EQ(out.size(), 1u) << Messages(out);
  EXPECT_EQ(out[0].evidence, std::vector<uint64_t>{3});
  EXPECT_NE(out[0].message.find("a1 died of signal 11 (SIGSEGV)"), std::string::npos)
      << out[0].message;
}

}  // namespace
}  // namespace faultline::checker_test
