// Unit tests of the faults that change how processes run — fd_exhaustion
// (descriptor limits), clock_skew (their clocks), config_drift (their
// settings and the cluster's) — against the fake context.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/faults/fake_fault_context.h"

namespace faultline::testing {
namespace {

using json = nlohmann::json;

// The first `n` picks of `pool` by the fault's stream, each taken out of it.
std::vector<std::string> Picks(Rng draws, std::vector<std::string> pool, int n) {
  std::vector<std::string> picked;
  for (int i = 0; i < n && !pool.empty(); ++i) {
    const size_t pick = draws.Index(pool.size());
    picked.push_back(pool[pick]);
    pool.erase(pool.begin() + static_cast<long>(pick));
  }
  return picked;
}

TEST(FdExhaustionTest, FromTheStartTheLimitIsSetBeforeAnythingRunsAndRestoredLater) {
  FakeFaultContext ctx(KindNamed("fd_exhaustion"),
                       {{"agents", 2}, {"limit", 6}, {"at_ms", -1}, {"restore_after_ms", 700}},
                       {.agents = 4});
  const std::vector<std::string> victims = Picks(ctx.stream(), ctx.List("agent"), 2);
  ctx.Prepare();
  ASSERT_EQ(ctx.limits().size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(ctx.limits()[i].proc, victims[i]);
    EXPECT_EQ(ctx.limits()[i].limit, 6);
    EXPECT_TRUE(ctx.limits()[i].prepare);
    EXPECT_EQ(ctx.landings()[i].details, (json{{"agent", victims[i]}, {"limit", 6}, {"at_us", 0}}));
  }
  ctx.Start();
  ctx.RunUntil(699'999);
  EXPECT_EQ(ctx.limits().size(), 2u);
  ctx.RunUntil(700'000);
  ASSERT_EQ(ctx.limits().size(), 4u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(ctx.limits()[2 + i].proc, victims[i]);
    EXPECT_EQ(ctx.limits()[2 + i].limit, 1024);
    EXPECT_EQ(ctx.process(victims[i]).nofile_limit, 1024);
    EXPECT_EQ(ctx.landings()[2 + i].details,
              (json{{"agent", victims[i]}, {"restored", 1024}, {"at_us", 700'000}}));
  }
}

TEST(FdExhaustionTest, LiveOnlyLiveAgentsAreSqueezedAndAFailedLimitDoesNotLand) {
  FakeFaultContext ctx(KindNamed("fd_exhaustion"),
                       {{"agents", 3}, {"limit", 5}, {"at_ms", 400}, {"restore_after_ms", -1}},
                       {.agents = 4});
  ctx.Prepare();
  EXPECT_TRUE(ctx.limits().empty()) << "at_ms >= 0: nothing before the start";
  ctx.Start();
  ctx.SetAlive("a3", false);
  const std::vector<std::string> victims = Picks(ctx.stream(), {"a0", "a1", "a2"}, 3);
  ctx.FailLimitFiles(victims[1]);
  ctx.RunUntil(10'000'000);
  ASSERT_EQ(ctx.limits().size(), 2u);
  EXPECT_EQ(ctx.limits()[0].proc, victims[0]);
  EXPECT_EQ(ctx.limits()[0].at, 400'000);
  EXPECT_FALSE(ctx.limits()[0].prepare);
  EXPECT_EQ(ctx.limits()[1].proc, victims[2]);
  ASSERT_EQ(ctx.landings().size(), 2u);
  EXPECT_EQ(ctx.landings()[1].details,
            (json{{"agent", victims[2]}, {"limit", 5}, {"at_us", 400'000}}));
  EXPECT_EQ(ctx.timers_set().size(), 1u) << "restore_after_ms -1: never restored";
}

TEST(ClockSkewTest, ChosenAgentsAndTheReaperRunOffByTheOffsetAndDrift) {
  FakeFaultContext ctx(KindNamed("clock_skew"),
                       {{"agents", 2}, {"offset_ms", 1500}, {"drift_ppm", -200}, {"reaper", true}},
                       {.agents = 5});
  const std::vector<std::string> victims = Picks(ctx.stream(), ctx.List("agent"), 2);
  ctx.Prepare();
  for (const std::string& proc : ctx.List("")) {
    const bool skewed = proc == "reaper" || proc == victims[0] || proc == victims[1];
    EXPECT_EQ(ctx.process(proc).skew_offset_us, skewed ? 1'500'000 : 0) << proc;
    EXPECT_EQ(ctx.process(proc).skew_drift_ppm, skewed ? -200 : 0) << proc;
  }
  ASSERT_EQ(ctx.landings().size(), 3u);
  EXPECT_EQ(ctx.landings()[0].details,
            (json{{"agent", victims[0]}, {"offset_us", 1'500'000}, {"drift_ppm", -200}}));
  EXPECT_EQ(ctx.landings()[2].details["agent"], "reaper");
  ctx.Start();
  EXPECT_TRUE(ctx.timers_set().empty());
}

TEST(ClockSkewTest, SpreadDrawsEachVictimsOffsetWithinTheBound) {
  FakeFaultContext ctx(KindNamed("clock_skew"),
                       {{"agents", 3}, {"offset_ms", -800}, {"spread", true}}, {.agents = 3});
  Rng draws = ctx.stream();
  std::vector<std::string> pool = ctx.List("agent");
  std::vector<std::string> victims;
  for (int i = 0; i < 3; ++i) {
    const size_t pick = draws.Index(pool.size());
    victims.push_back(pool[pick]);
    pool.erase(pool.begin() + static_cast<long>(pick));
  }
  ctx.Prepare();
  for (const std::string& v : victims) {
    const int64_t offset_us = draws.Between(-800, 800) * 1000;
    EXPECT_EQ(ctx.process(v).skew_offset_us, offset_us) << v;
  }
  EXPECT_EQ(ctx.process("reaper").skew_offset_us, 0);
  EXPECT_EQ(ctx.landings().size(), 3u);
}

TEST(ClockStepTest, EveryProcessIsSteppableAndStepsOnceAtItsTime) {
  FakeFaultContext ctx(KindNamed("clock_step"), {{"at_ms", 1500}, {"step_ms", 10'000}},
                       {.agents = 3});
  ctx.Prepare();
  for (const std::string& proc : ctx.List("")) {
    EXPECT_TRUE(ctx.process(proc).steppable) << proc;
    EXPECT_EQ(ctx.process(proc).wall_step_us, 0) << proc << ": stepped before its time";
  }
  ctx.Start();
  EXPECT_EQ(ctx.RunUntil(1'499'999), 0);
  EXPECT_TRUE(ctx.steps().empty());
  EXPECT_EQ(ctx.RunUntil(1'500'000), 1);
  ASSERT_EQ(ctx.steps().size(), 4u);
  for (const auto& step : ctx.steps()) {
    EXPECT_EQ(step.step_us, 10'000'000) << step.proc;
    EXPECT_EQ(step.at, 1'500'000) << step.proc;
  }
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details,
            (json{{"procs", {"reaper", "a0", "a1", "a2"}}, {"step_us", 10'000'000}}));
  ctx.RunUntil(10'000'000);
  EXPECT_EQ(ctx.steps().size(), 4u) << "one step, not a step per timer";
}

TEST(ClockStepTest, BackwardStepOfSomeAgentsOnlyTheirWallClocks) {
  FakeFaultContext ctx(
      KindNamed("clock_step"),
      {{"at_ms", 200}, {"step_ms", -3'600'000}, {"targets", "agents"}, {"count", 2}},
      {.agents = 4});
  const std::vector<std::string> victims = Picks(ctx.stream(), ctx.List("agent"), 2);
  ctx.Prepare();
  ctx.Start();
  ctx.RunUntil(200'000);
  for (const std::string& proc : ctx.List("")) {
    const bool victim = proc == victims[0] || proc == victims[1];
    EXPECT_EQ(ctx.process(proc).steppable, victim) << proc;
    EXPECT_EQ(ctx.process(proc).wall_step_us, victim ? -3'600'000'000 : 0) << proc;
    EXPECT_EQ(ctx.process(proc).skew_offset_us, 0) << proc << ": a step is no skew";
  }
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details["procs"], (json{victims[0], victims[1]}));
  EXPECT_EQ(ctx.landings()[0].details["step_us"], -3'600'000'000);
}

TEST(ClockStepTest, TheReaperAloneAndADeadVictimStillSteps) {
  FakeFaultContext ctx(KindNamed("clock_step"),
                       {{"at_ms", 50}, {"step_ms", 7000}, {"targets", "reaper"}}, {.agents = 2});
  ctx.Prepare();
  ctx.Start();
  ctx.SetAlive("reaper", false);
  ctx.RunUntil(50'000);
  ASSERT_EQ(ctx.steps().size(), 1u);
  EXPECT_EQ(ctx.steps()[0].proc, "reaper");
  EXPECT_EQ(ctx.process("a0").wall_step_us, 0);
  EXPECT_EQ(ctx.landings().size(), 1u) << "it reads the stepped clock when it starts again";
}

TEST(ConfigDriftTest, AgentModeStartsChosenAgentsWithADriftedConfigFile) {
  FakeFaultContext ctx(KindNamed("config_drift"),
                       {{"mode", "agent"}, {"setting", "lease_ms"}, {"value", 9000}, {"agents", 2}},
                       {.agents = 3});
  const std::vector<std::string> drifted = Picks(ctx.stream(), ctx.List("agent"), 2);
  ctx.Prepare();
  json expected = ctx.Settings();
  expected["lease_ms"] = 9000;
  for (const std::string& a : ctx.List("agent")) {
    const bool is_drifted = a == drifted[0] || a == drifted[1];
    if (!is_drifted) {
      EXPECT_TRUE(ctx.process(a).args.empty()) << a;
      continue;
    }
    const std::vector<std::string>& args = ctx.process(a).args;
    ASSERT_EQ(args.size(), 2u) << a;
    EXPECT_EQ(args[0], "--config");
    EXPECT_EQ(args[1], ctx.dir() / ("fault0-" + a + ".json"));
    std::ifstream in(args[1]);
    EXPECT_EQ(json::parse(in, nullptr, false), expected) << a;
  }
  ASSERT_EQ(ctx.landings().size(), 2u);
  EXPECT_EQ(ctx.landings()[0].details,
            (json{{"agent", drifted[0]}, {"setting", "lease_ms"}, {"value", 9000}}));
  ctx.Start();
  EXPECT_TRUE(ctx.timers_set().empty());
  EXPECT_TRUE(ctx.tool_runs().empty());
}

TEST(ConfigDriftTest, AValueEqualToTheClustersIsNoDrift) {
  FakeFaultContext ctx(KindNamed("config_drift"),
                       {{"mode", "agent"}, {"setting", "heartbeat_ms"}, {"value", 1000}});
  ASSERT_EQ(ctx.settings()["heartbeat_ms"], 1000);
  ctx.Prepare();
  for (const std::string& a : ctx.List("agent")) EXPECT_TRUE(ctx.process(a).args.empty());
  EXPECT_TRUE(ctx.landings().empty());
  EXPECT_EQ(ctx.rng().state(), ctx.stream().state());
}

TEST(ConfigDriftTest, ClusterModeConfiguresTheClusterAndRestartsTheAgentsThatStopped) {
  FakeFaultContext ctx(KindNamed("config_drift"), {{"mode", "cluster"},
                                                   {"setting", "max_attempts"},
                                                   {"value", 7},
                                                   {"at_ms", 1000},
                                                   {"restart_after_ms", 500}});
  ctx.set_tool([&](const std::vector<std::string>&, std::string*) {
    ctx.set_fingerprint("fp-after");
    return true;
  });
  ctx.Prepare();
  EXPECT_TRUE(ctx.landings().empty());
  ctx.Start();
  ctx.RunUntil(1'000'000);
  ASSERT_EQ(ctx.tool_runs().size(), 1u);
  EXPECT_EQ(ctx.tool_runs()[0],
            (std::vector<std::string>{"configure", ctx.Path(), "--set", "max_attempts=7"}));
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details, (json{{"setting", "max_attempts"},
                                             {"value", 7},
                                             {"cluster_fingerprint", "fp-after"},
                                             {"at_us", 1'000'000}}));
  // The agents that noticed stop; the restart brings back exactly those.
  ctx.SetAlive("a1", false);
  ctx.SetAlive("a3", false);
  ctx.RunUntil(1'500'000);
  ASSERT_EQ(ctx.restarts().size(), 2u);
  EXPECT_EQ(ctx.restarts()[0].proc, "a1");
  EXPECT_EQ(ctx.restarts()[1].proc, "a3");
  EXPECT_EQ(ctx.restarts()[0].at, 1'500'000);
  EXPECT_EQ(ctx.process("a0").starts, 1);
}

TEST(ConfigDriftTest, AFailedConfigureDoesNotLandOrRestart) {
  FakeFaultContext ctx(KindNamed("config_drift"),
                       {{"mode", "cluster"}, {"value", 9000}, {"at_ms", 10}});
  ctx.set_tool([](const std::vector<std::string>&, std::string* error) {
    *error = "configure: refused";
    return false;
  });
  ctx.Start();
  ctx.SetAlive("a0", false);
  ctx.RunUntil(100'000'000);
  EXPECT_EQ(ctx.tool_runs().size(), 1u);
  EXPECT_TRUE(ctx.landings().empty());
  EXPECT_TRUE(ctx.restarts().empty());
}

TEST(ConfigDriftTest, NeedsTheReferenceCoordinator) {
  const unsigned needs = KindNamed("config_drift").needs;
  EXPECT_NE(capability::Unmet(needs, capability::kExternalSut), 0u);
  EXPECT_EQ(capability::Unmet(needs, capability::kReferenceSut), 0u);
}

}  // namespace
}  // namespace faultline::testing
