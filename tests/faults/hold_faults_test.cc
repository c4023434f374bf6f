// Unit tests of the faults that hold processes — stall_agent, claim_storm —
// against the fake context: who is held, from when until when, and what the
// trace is told.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "sim/protocol/control_protocol.h"
#include "tests/faults/fake_fault_context.h"

namespace faultline::testing {
namespace {

using json = nlohmann::json;

TEST(StallAgentTest, HoldsARandomLiveAgentForTheDuration) {
  FakeFaultContext ctx(KindNamed("stall_agent"),
                       {{"at_ms", 100}, {"duration_ms", 300}, {"count", 2}, {"every_ms", 1000}},
                       {.agents = 3});
  ctx.Start();
  ctx.SetAlive("a1", false);  // never a victim
  Rng draws = ctx.stream();
  const std::vector<std::string> alive = {"a0", "a2"};
  const std::string first = alive[draws.Index(2)];
  const std::string second = alive[draws.Index(2)];

  ctx.RunUntil(10'000'000);
  ASSERT_EQ(ctx.holds().size(), 2u);
  EXPECT_EQ(ctx.holds()[0].proc, first);
  EXPECT_EQ(ctx.holds()[0].at, 100'000);
  EXPECT_EQ(ctx.holds()[0].until, 400'000);
  EXPECT_EQ(ctx.holds()[1].proc, second);
  EXPECT_EQ(ctx.holds()[1].at, 1'100'000);
  EXPECT_EQ(ctx.holds()[1].until, 1'400'000);
  ASSERT_EQ(ctx.landings().size(), 2u);
  EXPECT_EQ(ctx.landings()[0].details,
            (json{{"agent", first}, {"at_us", 100'000}, {"until_us", 400'000}}));
  EXPECT_TRUE(ctx.kills().empty()) << "a stall is not a crash";
}

TEST(StallAgentTest, NobodyAliveNothingLands) {
  FakeFaultContext ctx(KindNamed("stall_agent"), {{"at_ms", 0}}, {.agents = 1});
  ctx.Start();
  ctx.SetAlive("a0", false);
  ctx.RunUntil(1'000'000);
  EXPECT_TRUE(ctx.holds().empty());
  EXPECT_TRUE(ctx.landings().empty());
}

// The storm agents claim_storm picks in Prepare, sorted.
std::vector<std::string> StormAgents(FakeFaultContext& ctx, size_t n) {
  Rng draws = ctx.stream();
  std::vector<std::string> pool = ctx.List("agent");
  std::vector<std::string> storm;
  while (storm.size() < n) {
    const size_t pick = draws.Index(pool.size());
    storm.push_back(pool[pick]);
    pool.erase(pool.begin() + static_cast<long>(pick));
  }
  std::sort(storm.begin(), storm.end());
  return storm;
}

TEST(ClaimStormTest, StormAgentsClaimInFifoOrderAndAreReleasedTogether) {
  FakeFaultContext ctx(
      KindNamed("claim_storm"),
      {{"agents", 3}, {"at_ms", 100}, {"repeat", 2}, {"every_ms", 1000}, {"hold_ms", 200}},
      {.agents = 5});
  const std::vector<std::string> storm = StormAgents(ctx, 3);
  ctx.Prepare();
  for (const std::string& a : ctx.List("agent")) {
    const bool in_storm = std::find(storm.begin(), storm.end(), a) != storm.end();
    const std::vector<std::string> expected =
        in_storm ? std::vector<std::string>{"--claim-order", "fifo"} : std::vector<std::string>{};
    EXPECT_EQ(ctx.process(a).args, expected) << a;
  }
  ctx.Start();
  ctx.RunUntil(100'000);
  ASSERT_EQ(ctx.holds().size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ctx.holds()[i].proc, storm[i]);
    EXPECT_EQ(ctx.holds()[i].at, 100'000);
    EXPECT_EQ(ctx.holds()[i].until, 300'000) << "one release time for all";
  }
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details,
            (json{{"storm", 0}, {"agents", storm}, {"at_us", 100'000}, {"release_us", 300'000}}));
}

TEST(ClaimStormTest, AfterTheReleaseEachStormAgentIsHeldOnceAtItsFirstClaimLock) {
  namespace point = protocol::point;
  FakeFaultContext ctx(KindNamed("claim_storm"),
                       {{"agents", 0}, {"at_ms", 0}, {"repeat", 1}, {"hold_ms", 200}},
                       {.agents = 2});
  ctx.Start();
  ctx.RunUntil(0);
  ASSERT_EQ(ctx.holds().size(), 2u);
  ctx.set_now(100'000);  // before the release: nothing
  EXPECT_FALSE(ctx.Yield("a0", point::kClaimLocked));
  EXPECT_EQ(ctx.holds().size(), 2u);
  ctx.set_now(200'000);
  EXPECT_FALSE(ctx.Yield("a0", point::kClaimMarked));  // another point: nothing
  EXPECT_FALSE(ctx.Yield("a0", point::kClaimLocked));
  ASSERT_EQ(ctx.holds().size(), 3u);
  EXPECT_EQ(ctx.holds()[2].proc, "a0");
  EXPECT_EQ(ctx.holds()[2].until, 201'000);
  EXPECT_FALSE(ctx.Yield("a0", point::kClaimLocked));  // once per agent and storm
  EXPECT_FALSE(ctx.Yield("reaper", point::kClaimLocked));
  EXPECT_FALSE(ctx.Yield("a1", point::kClaimLocked));
  ASSERT_EQ(ctx.holds().size(), 4u);
  EXPECT_EQ(ctx.holds()[3].proc, "a1");
  EXPECT_TRUE(ctx.kills().empty());
}

TEST(ClaimStormTest, OneAgentAloneIsNoStorm) {
  FakeFaultContext ctx(KindNamed("claim_storm"),
                       {{"agents", 2}, {"at_ms", 50}, {"repeat", 2}, {"every_ms", 100}},
                       {.agents = 2});
  ctx.Start();
  ctx.RunUntil(50'000);
  EXPECT_EQ(ctx.landings().size(), 1u);
  ctx.SetAlive("a1", false);
  ctx.RunUntil(150'000);
  EXPECT_EQ(ctx.landings().size(), 1u) << "the second storm had one agent left";
}

}  // namespace
}  // namespace faultline::testing
