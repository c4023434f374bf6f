// Unit tests of the faults of a run on a database server — network_partition,
// network_latency, connection_reset, connection_limit, db_crash, db_restart —
// against the fake context and its fake server and network
// (fake_server_store.h): what each did to which link or to the server, when,
// and the evidence it landed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/faults/fake_fault_context.h"

namespace faultline::testing {
namespace {

using json = nlohmann::json;

// The agents PickLiveAgents draws from `draws` among `alive`.
std::vector<std::string> Drawn(Rng draws, std::vector<std::string> alive, size_t n) {
  std::vector<std::string> out;
  while (out.size() < n && !alive.empty()) {
    const size_t i = draws.Index(alive.size());
    out.push_back(alive[i]);
    alive.erase(alive.begin() + static_cast<long>(i));
  }
  return out;
}

TEST(NetworkPartitionTest, CutsOffLiveAgentsThenHeals) {
  FakeFaultContext ctx(KindNamed("network_partition"),
                       {{"at_ms", 100}, {"duration_ms", 5000}, {"count", 2},
                        {"server_timeout_ms", 0}},
                       {.agents = 4});
  ctx.Start();
  ctx.SetAlive("a2", false);  // never a victim
  const auto cut = Drawn(ctx.stream(), {"a0", "a1", "a3"}, 2);
  FakeServerStore& net = ctx.server_store();
  ctx.RunUntil(200'000);
  for (const std::string& a : cut) EXPECT_EQ(net.link(a), Link::kBlackhole) << a;
  EXPECT_EQ(net.link("a2"), Link::kUp);
  EXPECT_EQ(net.link("reaper"), Link::kUp) << "only agents are cut off";
  ASSERT_EQ(ctx.landings().size(), 2u);
  EXPECT_EQ(ctx.landings()[0].details, (json{{"phase", "cut"},
                                             {"agent", cut[0]},
                                             {"mode", "blackhole"},
                                             {"until_us", 5'100'000}}));
  // What the cut-off agents try meanwhile is counted for the heal.
  net.set_round_trips(cut[0], 3);
  net.set_connections_opened(cut[0], 2);
  ctx.RunUntil(5'100'000);
  for (const std::string& a : cut) EXPECT_EQ(net.link(a), Link::kUp) << a;
  ASSERT_EQ(ctx.landings().size(), 3u);
  EXPECT_EQ(ctx.landings()[2].details["phase"], "healed");
  EXPECT_EQ(ctx.landings()[2].details["during"][0],
            (json{{"agent", cut[0]}, {"round_trips", 3}, {"connections", 2}}));
  // After the heal: the first agent talks to the server again, the second does not.
  net.set_round_trips(cut[0], 10);
  ctx.Finish();
  ASSERT_EQ(ctx.landings().size(), 4u);
  const json& end = ctx.landings()[3].details;
  EXPECT_EQ(end["phase"], "end");
  EXPECT_EQ(end["healed_at_us"], 5'100'000);
  EXPECT_EQ(end["after_heal"][0]["round_trips"], 7);
  EXPECT_EQ(end["after_heal"][1]["round_trips"], 0);
}

TEST(NetworkPartitionTest, ServerEndsSilentSessionsInABlackhole) {
  FakeFaultContext ctx(KindNamed("network_partition"),
                       {{"at_ms", 0}, {"duration_ms", 5000}, {"server_timeout_ms", 2000}},
                       {.agents = 1});
  ctx.Start();
  ctx.server_store().set_open_connections("a0", 1);
  ctx.RunUntil(2'000'000);
  ASSERT_EQ(ctx.server_store().resets().size(), 1u);
  EXPECT_EQ(ctx.server_store().resets()[0], (std::pair<std::string, int64_t>{"a0", 2'000'000}));
  EXPECT_EQ(ctx.landings().back().details,
            (json{{"phase", "server_timeout"}, {"agents", {"a0"}}, {"sessions_ended", 1}}));
  EXPECT_EQ(ctx.server_store().link("a0"), Link::kBlackhole) << "the link stays cut";
}

TEST(NetworkPartitionTest, ResetModeAndNobodyAlive) {
  FakeFaultContext reset(KindNamed("network_partition"), {{"at_ms", 0}, {"mode", "reset"}},
                         {.agents = 1});
  reset.Start();
  reset.RunUntil(0);
  EXPECT_EQ(reset.server_store().link("a0"), Link::kReset);
  EXPECT_EQ(reset.landings()[0].details["mode"], "reset");

  FakeFaultContext none(KindNamed("network_partition"), {{"at_ms", 0}}, {.agents = 1});
  none.Start();
  none.SetAlive("a0", false);
  none.RunUntil(100'000'000);
  none.Finish();
  EXPECT_TRUE(none.server_store().links().empty());
  EXPECT_TRUE(none.landings().empty()) << "a partition of nobody did not land";
}

// The link is slowed in both modes (the engine pays it in simulated time in
// lockstep); what lands is the round trips slowed during the window.
TEST(NetworkLatencyTest, SlowsTheLinkForTheWindowAndCountsRoundTrips) {
  FakeFaultContext ctx(KindNamed("network_latency"),
                       {{"at_ms", 0}, {"duration_ms", 10'000}, {"up_ms", 20}, {"down_ms", 30},
                        {"jitter_ms", 5}},
                       {.agents = 1, .reaper = false});
  ctx.Start();
  ctx.server_store().set_round_trips("a0", 4);
  ctx.RunUntil(0);
  ASSERT_EQ(ctx.server_store().latencies().size(), 1u);
  const auto& on = ctx.server_store().latencies()[0];
  EXPECT_EQ(on.proc, "a0");
  EXPECT_EQ(on.up_us, 20'000);
  EXPECT_EQ(on.down_us, 30'000);
  EXPECT_EQ(on.jitter_us, 5000);
  EXPECT_FALSE(ctx.Yield("a0", "claim.state_written")) << "never holds a process itself";
  ctx.server_store().set_round_trips("a0", 6);
  ctx.RunUntil(10'000'000);
  ASSERT_EQ(ctx.server_store().latencies().size(), 2u);
  EXPECT_EQ(ctx.server_store().latencies()[1].up_us, 0) << "back to normal";
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details["round_trips"], 2);
  EXPECT_TRUE(ctx.holds().empty());
}

TEST(NetworkLatencyTest, FreerunDelaysTheLinkAndNothingSlowedDoesNotLand) {
  FakeFaultContext ctx(KindNamed("network_latency"),
                       {{"at_ms", 100}, {"duration_ms", 1000}, {"up_ms", 7}, {"down_ms", 9},
                        {"jitter_ms", 3}},
                       {.agents = 1, .reaper = false, .lockstep = false});
  ctx.Start();
  ctx.RunUntil(1'100'000);
  ASSERT_EQ(ctx.server_store().latencies().size(), 2u);
  const auto& on = ctx.server_store().latencies()[0];
  EXPECT_EQ(on.proc, "a0");
  EXPECT_EQ(on.up_us, 7000);
  EXPECT_EQ(on.down_us, 9000);
  EXPECT_EQ(on.jitter_us, 3000);
  EXPECT_EQ(ctx.server_store().latencies()[1].up_us, 0) << "back to normal";
  EXPECT_TRUE(ctx.landings().empty()) << "no round trip was slowed";
}

TEST(ConnectionResetTest, LandsOnlyWhenAConnectionWasReset) {
  FakeFaultContext ctx(KindNamed("connection_reset"),
                       {{"at_ms", 100}, {"count", 2}, {"every_ms", 100}}, {.agents = 1});
  ctx.Start();
  ctx.server_store().set_open_connections("a0", 2);
  ctx.RunUntil(100'000);
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details, (json{{"proc", "a0"}, {"connections", 2}}));
  ctx.RunUntil(200'000);  // nothing open any more
  EXPECT_EQ(ctx.server_store().resets().size(), 2u);
  EXPECT_EQ(ctx.landings().size(), 1u);
}

// The limit comes at at_ms for duration_ms on every process of the system
// (role any) after evicting them, and lands at the lift with what it refused;
// at the end, with what each refused agent did after the lift.
TEST(ConnectionLimitTest, EvictsLimitsAndLandsWithWhatItRefused) {
  FakeFaultContext ctx(KindNamed("connection_limit"),
                       {{"at_ms", 100}, {"duration_ms", 2000}, {"max", 1}, {"evict", true}},
                       {.agents = 2});
  ctx.Start();
  FakeServerStore& net = ctx.server_store();
  net.set_open_connections("a0", 1);
  net.set_open_connections("reaper", 1);
  ctx.RunUntil(100'000);
  ASSERT_EQ(net.limits().size(), 1u);
  EXPECT_EQ(net.limits()[0].max, 1);
  EXPECT_EQ(net.limits()[0].procs, (std::vector<std::string>{"reaper", "a0", "a1"}));
  EXPECT_EQ(net.resets().size(), 3u) << "evict: every limited process's connections";
  EXPECT_TRUE(ctx.landings().empty()) << "lands at the lift, with what it refused";
  net.set_limit_refusals("a1", 4);
  net.set_limit_refusals("reaper", 2);
  net.set_round_trips("a1", 10);
  ctx.RunUntil(2'100'000);
  ASSERT_EQ(net.limits().size(), 2u);
  EXPECT_LT(net.limits()[1].max, 0) << "lifted";
  EXPECT_EQ(net.limits()[1].at, 2'100'000);
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details, (json{{"phase", "lifted"},
                                             {"max", 1},
                                             {"evicted", 2},
                                             {"refused", 6},
                                             {"refused_by", {{"a1", 4}, {"reaper", 2}}},
                                             {"from_us", 100'000},
                                             {"until_us", 2'100'000}}));
  net.set_round_trips("a1", 13);
  ctx.Finish();
  ASSERT_EQ(ctx.landings().size(), 2u);
  EXPECT_EQ(ctx.landings()[1].details,
            (json{{"phase", "end"},
                  {"lifted_at_us", 2'100'000},
                  {"after_lift", {{{"agent", "a1"}, {"round_trips", 3}, {"connections", 0}}}}}));
}

// role agent: the reaper is not limited; no eviction by default; a limit
// that refused nothing did not land, also when the run ends under it.
TEST(ConnectionLimitTest, AgentsOnlyAndNothingRefusedDoesNotLand) {
  FakeFaultContext ctx(KindNamed("connection_limit"),
                       {{"at_ms", 0}, {"duration_ms", 10'000}, {"max", 3}, {"role", "agent"}},
                       {.agents = 2});
  ctx.Start();
  ctx.server_store().set_open_connections("a0", 1);
  ctx.RunUntil(0);
  ASSERT_EQ(ctx.server_store().limits().size(), 1u);
  EXPECT_EQ(ctx.server_store().limits()[0].procs, (std::vector<std::string>{"a0", "a1"}));
  EXPECT_TRUE(ctx.server_store().resets().empty()) << "no eviction unless asked";
  ctx.Finish();
  ASSERT_EQ(ctx.server_store().limits().size(), 2u) << "lifted at the end";
  EXPECT_TRUE(ctx.landings().empty());
}

TEST(DbCrashTest, CrashesThenRecoversAfterDownMs) {
  FakeFaultContext ctx(KindNamed("db_crash"), {{"at_ms", 1000}, {"down_ms", 500}});
  ctx.Start();
  ctx.RunUntil(1'200'000);
  FakeServerStore& db = ctx.server_store();
  ASSERT_EQ(db.db_calls().size(), 1u);
  EXPECT_EQ(db.db_calls()[0].what, "crash");
  EXPECT_FALSE(db.Running());
  EXPECT_TRUE(ctx.landings().empty()) << "lands once back";
  ctx.RunUntil(2'000'000);
  ASSERT_EQ(db.db_calls().size(), 2u);
  EXPECT_EQ(db.db_calls()[1].what, "start");
  EXPECT_EQ(db.db_calls()[1].at, 1'500'000);
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details, (json{{"crashed_at_us", 1'000'000}, {"up_at_us", 1'500'000}}));
}

TEST(DbRestartTest, ShutsDownCleanlyAndAFailedStartDoesNotLand) {
  FakeFaultContext ctx(KindNamed("db_restart"), {{"at_ms", 0}, {"down_ms", 100}});
  ctx.Start();
  ctx.server_store().FailStart("no server");
  ctx.RunUntil(1'000'000);
  ASSERT_EQ(ctx.server_store().db_calls().size(), 2u);
  EXPECT_EQ(ctx.server_store().db_calls()[0].what, "shutdown");
  EXPECT_TRUE(ctx.landings().empty());
}

}  // namespace
}  // namespace faultline::testing
