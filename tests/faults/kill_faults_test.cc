// Unit tests of the faults that kill processes — kill_agent, reaper_crash,
// crash_at — against the fake context: who dies when, who comes back when,
// and what the trace is told.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/protocol/control_protocol.h"
#include "tests/faults/fake_fault_context.h"

namespace faultline::testing {
namespace {

using json = nlohmann::json;

// The live agents of `ctx`, in order.
std::vector<std::string> LiveAgents(FakeFaultContext& ctx) {
  std::vector<std::string> alive;
  for (const std::string& a : ctx.List("agent")) {
    if (ctx.Alive(a)) alive.push_back(a);
  }
  return alive;
}

TEST(KillAgentTest, KillsALiveAgentAtEachTimeAndRestartsItLater) {
  FakeFaultContext ctx(KindNamed("kill_agent"),
                       {{"at_ms", 100}, {"count", 3}, {"every_ms", 50}, {"restart_after_ms", 20}},
                       {.agents = 4});
  ctx.Start();
  EXPECT_EQ(ctx.RunUntil(99'999), 0);
  EXPECT_TRUE(ctx.kills().empty());

  // Each kill draws its victim from the agents alive then: all four, since
  // every victim is back (20 ms) before the next kill (50 ms).
  Rng draws = ctx.stream();
  std::vector<std::string> expected;
  for (int i = 0; i < 3; ++i) expected.push_back(LiveAgents(ctx)[draws.Index(4)]);

  ctx.RunUntil(1'000'000);
  ASSERT_EQ(ctx.kills().size(), 3u);
  ASSERT_EQ(ctx.restarts().size(), 3u);
  ASSERT_EQ(ctx.landings().size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const int64_t at = 100'000 + static_cast<int64_t>(i) * 50'000;
    EXPECT_EQ(ctx.kills()[i].proc, expected[i]);
    EXPECT_EQ(ctx.kills()[i].at, at);
    EXPECT_EQ(ctx.restarts()[i].proc, expected[i]);
    EXPECT_EQ(ctx.restarts()[i].at, at + 20'000);
    EXPECT_EQ(ctx.landings()[i].details, (json{{"agent", expected[i]}, {"at_us", at}}));
  }
  for (const std::string& a : ctx.List("agent")) EXPECT_TRUE(ctx.Alive(a)) << a;
  EXPECT_TRUE(ctx.Alive("reaper"));
}

TEST(KillAgentTest, SigtermLetsTheAgentStopByItselfAndRestartsItOnceItHas) {
  FakeFaultContext ctx(KindNamed("kill_agent"),
                       {{"at_ms", 100}, {"restart_after_ms", 20}, {"signal", "SIGTERM"}},
                       {.agents = 1});
  ctx.Start();
  ctx.RunUntil(100'000);
  ASSERT_EQ(ctx.terminations().size(), 1u);
  EXPECT_EQ(ctx.terminations()[0].proc, "a0");
  EXPECT_TRUE(ctx.kills().empty()) << "SIGTERM is no SIGKILL";
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details,
            (json{{"agent", "a0"}, {"at_us", 100'000}, {"signal", "SIGTERM"}}));
  // Still shutting down at its restart time: the restart waits for it.
  ctx.RunUntil(200'000);
  EXPECT_TRUE(ctx.restarts().empty());
  ctx.SetAlive("a0", false);
  ctx.RunUntil(300'000);
  ASSERT_EQ(ctx.restarts().size(), 1u);
  EXPECT_EQ(ctx.restarts()[0].proc, "a0");
  EXPECT_GT(ctx.restarts()[0].at, 200'000);
  EXPECT_LE(ctx.restarts()[0].at, 250'000);
  EXPECT_TRUE(ctx.Alive("a0"));
}

TEST(KillAgentTest, WithoutRestartTheAgentsRunOutAndLaterKillsDoNotLand) {
  FakeFaultContext ctx(KindNamed("kill_agent"), {{"at_ms", 0}, {"count", 4}, {"every_ms", 10}},
                       {.agents = 2});
  ctx.Start();
  ctx.RunUntil(1'000'000);
  ASSERT_EQ(ctx.kills().size(), 2u);
  EXPECT_NE(ctx.kills()[0].proc, ctx.kills()[1].proc);
  EXPECT_TRUE(ctx.restarts().empty());
  EXPECT_EQ(ctx.landings().size(), 2u);
  EXPECT_TRUE(LiveAgents(ctx).empty());
  EXPECT_TRUE(ctx.Alive("reaper")) << "kill_agent kills agents only";
}

TEST(KillAgentTest, AnAgentThatDiedByItselfIsNotChosen) {
  FakeFaultContext ctx(KindNamed("kill_agent"), {{"at_ms", 5}}, {.agents = 2});
  ctx.Start();
  ctx.SetAlive("a0", false);
  ctx.RunUntil(5'000);
  ASSERT_EQ(ctx.kills().size(), 1u);
  EXPECT_EQ(ctx.kills()[0].proc, "a1");
}

TEST(ReaperCrashTest, KillsTheReaperAndRestartsIt) {
  FakeFaultContext ctx(
      KindNamed("reaper_crash"),
      {{"at_ms", 200}, {"count", 2}, {"every_ms", 1000}, {"restart_after_ms", 300}});
  ctx.Start();
  ctx.RunUntil(250'000);
  ASSERT_EQ(ctx.kills().size(), 1u);
  EXPECT_EQ(ctx.kills()[0].proc, "reaper");
  EXPECT_EQ(ctx.kills()[0].at, 200'000);
  EXPECT_FALSE(ctx.Alive("reaper"));
  ctx.RunUntil(10'000'000);
  ASSERT_EQ(ctx.kills().size(), 2u);
  EXPECT_EQ(ctx.kills()[1].at, 1'200'000);
  ASSERT_EQ(ctx.restarts().size(), 2u);
  EXPECT_EQ(ctx.restarts()[0].proc, "reaper");
  EXPECT_EQ(ctx.restarts()[0].at, 500'000);
  EXPECT_EQ(ctx.restarts()[1].at, 1'500'000);
  EXPECT_EQ(ctx.process("reaper").starts, 3);
  ASSERT_EQ(ctx.landings().size(), 2u);
  EXPECT_EQ(ctx.landings()[1].details, (json{{"agent", "reaper"}, {"at_us", 1'200'000}}));
  for (const std::string& a : ctx.List("agent")) EXPECT_TRUE(ctx.Alive(a)) << a;
  // The victim is named: nothing is drawn.
  EXPECT_EQ(ctx.rng().state(), ctx.stream().state());
}

TEST(ReaperCrashTest, ARunWithoutAReaperIsNeverHit) {
  FakeFaultContext ctx(KindNamed("reaper_crash"), {{"at_ms", 0}}, {.reaper = false});
  ctx.Start();
  ctx.RunUntil(10'000'000);
  EXPECT_TRUE(ctx.kills().empty());
  EXPECT_TRUE(ctx.landings().empty());
}

TEST(CrashAtTest, KillsTheProcessParkedAtTheNthOccurrenceOfThePoint) {
  namespace point = protocol::point;
  EXPECT_TRUE(KindNamed("crash_at").lockstep_only);
  FakeFaultContext ctx(KindNamed("crash_at"),
                       {{"point", point::kClaimLocked}, {"nth", 2}, {"restart_after_ms", 50}});
  ctx.Start();
  ctx.set_now(1'000);
  EXPECT_FALSE(ctx.Yield("a0", point::kClaimMarked, "w000001"));
  EXPECT_FALSE(ctx.Yield("a1", point::kClaimLocked, "w000001"));  // the 1st
  EXPECT_TRUE(ctx.kills().empty());
  ctx.set_now(2'000);
  EXPECT_TRUE(ctx.Yield("a2", point::kClaimLocked, "w000002"));  // the 2nd: disposed of
  ASSERT_EQ(ctx.kills().size(), 1u);
  EXPECT_EQ(ctx.kills()[0].proc, "a2");
  EXPECT_EQ(ctx.kills()[0].at, 2'000);
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details, (json{{"agent", "a2"},
                                             {"point", point::kClaimLocked},
                                             {"item", "w000002"},
                                             {"nth", 2},
                                             {"at_us", 2'000}}));
  // Once only.
  EXPECT_FALSE(ctx.Yield("a3", point::kClaimLocked, "w000003"));
  EXPECT_EQ(ctx.kills().size(), 1u);
  ctx.RunUntil(51'999);
  EXPECT_TRUE(ctx.restarts().empty());
  ctx.RunUntil(52'000);
  ASSERT_EQ(ctx.restarts().size(), 1u);
  EXPECT_EQ(ctx.restarts()[0].proc, "a2");
}

TEST(CrashAtTest, WithoutRestartTheVictimStaysDead) {
  FakeFaultContext ctx(KindNamed("crash_at"), {{"point", protocol::point::kReapLocked}});
  ctx.Start();
  EXPECT_TRUE(ctx.Yield("reaper", protocol::point::kReapLocked));
  ctx.RunUntil(100'000'000);
  EXPECT_EQ(ctx.timers_set().size(), 0u);
  EXPECT_TRUE(ctx.restarts().empty());
  EXPECT_FALSE(ctx.Alive("reaper"));
  EXPECT_EQ(ctx.landings().size(), 1u);
}

}  // namespace
}  // namespace faultline::testing
