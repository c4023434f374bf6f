// Unit tests of the faults that switch the run's endpoints —
// collector_outage, model_outage — against the fake context: which endpoint,
// which mode, on what schedule, and the agents' model settings.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/faults/fake_fault_context.h"

namespace faultline::testing {
namespace {

using json = nlohmann::json;
using Switch = FakeFaultContext::SwitchCall;

void ExpectSwitch(const Switch& s, Endpoint endpoint, CollectorMode mode, int64_t at) {
  EXPECT_EQ(Name(s.endpoint), Name(endpoint));
  EXPECT_EQ(Name(s.mode), Name(mode));
  EXPECT_EQ(s.at, at);
}

TEST(CollectorOutageTest, BreaksAndHealsTheCollectorOnSchedule) {
  FakeFaultContext ctx(
      KindNamed("collector_outage"),
      {{"mode", "down"}, {"at_ms", 100}, {"duration_ms", 200}, {"count", 2}, {"every_ms", 1000}},
      {.collector = true});
  EXPECT_TRUE(ctx.fault().NeedsCollector());
  EXPECT_FALSE(ctx.fault().NeedsModel());
  ctx.Start();
  ctx.RunUntil(10'000'000);
  ASSERT_EQ(ctx.switches().size(), 4u);
  ExpectSwitch(ctx.switches()[0], Endpoint::kCollector, CollectorMode::kDown, 100'000);
  ExpectSwitch(ctx.switches()[1], Endpoint::kCollector, CollectorMode::kUp, 300'000);
  ExpectSwitch(ctx.switches()[2], Endpoint::kCollector, CollectorMode::kDown, 1'100'000);
  ExpectSwitch(ctx.switches()[3], Endpoint::kCollector, CollectorMode::kUp, 1'300'000);
  ASSERT_EQ(ctx.landings().size(), 4u);
  EXPECT_EQ(ctx.landings()[0].details,
            (json{{"mode", "down"}, {"at_us", 100'000}, {"until_us", 300'000}}));
  EXPECT_EQ(ctx.landings()[1].details, (json{{"healed", true}, {"at_us", 300'000}}));
}

TEST(CollectorOutageTest, NeverHealsWithDurationMinusOne) {
  FakeFaultContext ctx(KindNamed("collector_outage"),
                       {{"mode", "blackhole"}, {"at_ms", 0}, {"duration_ms", -1}},
                       {.collector = true});
  ctx.Start();
  ctx.RunUntil(100'000'000);
  ASSERT_EQ(ctx.switches().size(), 1u);
  ExpectSwitch(ctx.switches()[0], Endpoint::kCollector, CollectorMode::kBlackhole, 0);
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details, (json{{"mode", "blackhole"}, {"at_us", 0}}));
}

TEST(CollectorOutageTest, ARunWithoutACollectorDoesNotLand) {
  FakeFaultContext ctx(KindNamed("collector_outage"), {{"at_ms", 0}});
  ctx.Start();
  ctx.RunUntil(100'000'000);
  EXPECT_TRUE(ctx.switches().empty());
  EXPECT_TRUE(ctx.landings().empty());
  EXPECT_EQ(ctx.timers_set().size(), 1u) << "no heal is scheduled for an outage that failed";
}

TEST(ModelOutageTest, GivesEveryAgentTheModelSettingsAndSwitchesTheStub) {
  FakeFaultContext ctx(KindNamed("model_outage"),
                       {{"mode", "503"},
                        {"at_ms", 50},
                        {"duration_ms", 25},
                        {"timeout_ms", 700},
                        {"backoff_initial_ms", 40},
                        {"backoff_max_ms", 900}},
                       {.agents = 3, .collector = true, .model = true});
  EXPECT_TRUE(ctx.fault().NeedsModel());
  EXPECT_FALSE(ctx.fault().NeedsCollector());
  ctx.Prepare();
  for (const std::string& a : ctx.List("agent")) {
    EXPECT_EQ(ctx.env(a, "SWARM_MODEL_TIMEOUT_MS"), "700") << a;
    EXPECT_EQ(ctx.env(a, "SWARM_MODEL_BACKOFF_MS"), "40:900") << a;
  }
  EXPECT_TRUE(ctx.process("reaper").env.empty());
  ctx.Start();
  ctx.RunUntil(1'000'000);
  ASSERT_EQ(ctx.switches().size(), 2u) << "the model only, never the collector";
  ExpectSwitch(ctx.switches()[0], Endpoint::kModel, CollectorMode::kUnavailable, 50'000);
  ExpectSwitch(ctx.switches()[1], Endpoint::kModel, CollectorMode::kUp, 75'000);
  ASSERT_EQ(ctx.landings().size(), 2u);
  EXPECT_EQ(ctx.landings()[0].details,
            (json{{"mode", "503"}, {"at_us", 50'000}, {"until_us", 75'000}}));
}

TEST(ModelOutageTest, TheBackoffBoundIsAtLeastItsStart) {
  FakeFaultContext ctx(KindNamed("model_outage"),
                       {{"at_ms", 0}, {"backoff_initial_ms", 3000}, {"backoff_max_ms", 100}},
                       {.model = true});
  ctx.Prepare();
  EXPECT_EQ(ctx.env("a0", "SWARM_MODEL_BACKOFF_MS"), "3000:3000");
  EXPECT_EQ(ctx.env("a0", "SWARM_MODEL_TIMEOUT_MS"), "500");
}

TEST(ModelOutageTest, NeedsTheReferenceAgents) {
  const unsigned needs = KindNamed("model_outage").needs;
  EXPECT_EQ(capability::Unmet(needs, capability::kExternalSut), capability::kReferenceAgents);
  EXPECT_EQ(capability::Unmet(KindNamed("collector_outage").needs, capability::kExternalSut), 0u);
}

}  // namespace
}  // namespace faultline::testing
