// Tests of the fake context itself (it must hold a fault to its contract, or
// the fault tests prove nothing), and of the registry's declarations.
#include "tests/faults/fake_fault_context.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "faults/registry.h"

namespace faultline::testing {
namespace {

// A fault that does what the test tells it to, in Prepare or on a timer.
class Scripted final : public Fault {
 public:
  explicit Scripted(std::function<void(FaultContext&, int)> act) : act_(std::move(act)) {}
  void Prepare(FaultContext& ctx) override { act_(ctx, -1); }
  void Start(FaultContext&) override {}
  void OnTimer(FaultContext& ctx, int tag) override { act_(ctx, tag); }

 private:
  std::function<void(FaultContext&, int)> act_;
};

FaultKind ScriptedKind(unsigned needs, std::function<void(FaultContext&, int)> act) {
  FaultKind kind;
  kind.name = "scripted";
  kind.needs = needs;
  kind.make = [act](const nlohmann::json&) { return std::make_unique<Scripted>(act); };
  return kind;
}

TEST(FakeFaultContextTest, AnUndeclaredCapabilityFailsTheTest) {
  const FaultKind kind = ScriptedKind(
      capability::kProcesses, [](FaultContext& ctx, int) { ctx.clocks().Skew("a0", 1000, 0); });
  EXPECT_NONFATAL_FAILURE(
      {
        FakeFaultContext ctx(kind, nullptr);
        ctx.Prepare();
      },
      "scripted uses clocks() but its kind does not declare it");
}

TEST(FakeFaultContextTest, TheReferenceToolNeedsItsBit) {
  const FaultKind kind = ScriptedKind(capability::kDirectory, [](FaultContext& ctx, int) {
    std::string error;
    ctx.directory().RunTool({"status"}, &error);
  });
  EXPECT_NONFATAL_FAILURE(
      {
        FakeFaultContext ctx(kind, nullptr);
        ctx.Prepare();
      },
      "RunTool()");
}

TEST(FakeFaultContextTest, LaunchSettingsOutsidePrepareFailTheTest) {
  const FaultKind kind = ScriptedKind(capability::kProcesses, [](FaultContext& ctx, int tag) {
    if (tag >= 0) ctx.processes().AddEnv("a0", "K", "V");
  });
  EXPECT_NONFATAL_FAILURE(
      {
        FakeFaultContext ctx(kind, nullptr);
        ctx.Start();
        ctx.SetTimer(10, 0);
        ctx.RunUntil(10);
      },
      "AddEnv outside Prepare");
}

TEST(FakeFaultContextTest, TimersFireInTimeOrderTiesInTheOrderSet) {
  std::vector<std::pair<int64_t, int>> fired;
  const FaultKind kind = ScriptedKind(0, [&](FaultContext& ctx, int tag) {
    if (tag < 0) return;
    fired.emplace_back(ctx.Now(), tag);
    if (tag == 1) ctx.SetTimer(ctx.Now() + 5, 9);  // due before the next: fires in the same run
  });
  FakeFaultContext ctx(kind, nullptr);
  ctx.Start();
  ctx.SetTimer(30, 3);
  ctx.SetTimer(10, 1);
  ctx.SetTimer(30, 4);
  ctx.SetTimer(100, 5);
  EXPECT_EQ(ctx.RunUntil(50), 4);
  EXPECT_EQ(fired, (std::vector<std::pair<int64_t, int>>{{10, 1}, {15, 9}, {30, 3}, {30, 4}}));
  EXPECT_EQ(ctx.Now(), 50);
  EXPECT_EQ(ctx.timers_pending(), 1u);
}

TEST(FakeFaultContextTest, KillsOnlyTheLivingAndRestartsOnlyTheDead) {
  FakeFaultContext ctx(ScriptedKind(capability::kProcesses, [](FaultContext&, int) {}), nullptr,
                       {.agents = 2});
  EXPECT_EQ(ctx.List(""), (std::vector<std::string>{"reaper", "a0", "a1"}));
  EXPECT_EQ(ctx.List("agent"), (std::vector<std::string>{"a0", "a1"}));
  EXPECT_TRUE(ctx.Kill("a0"));
  EXPECT_FALSE(ctx.Kill("a0"));
  EXPECT_FALSE(ctx.Kill("a9"));
  ctx.Restart("a1");
  EXPECT_TRUE(ctx.restarts().empty());
  ctx.Restart("a0");
  EXPECT_EQ(ctx.restarts().size(), 1u);
  EXPECT_EQ(ctx.process("a0").starts, 2);
}

// Every registered fault has its unit tests in this folder: a fault added to
// the registry must be added here with them.
TEST(FaultRegistryTest, EveryKindIsTestedAndDeclaresWhatItNeeds) {
  const std::set<std::string> tested = {
      "kill_agent",    "reaper_crash", "crash_at",     "stall_agent",      "claim_storm",
      "fd_exhaustion", "clock_skew",   "config_drift", "collector_outage", "model_outage",
      "disk_full",     "corrupt_file", "io_error",     "power_loss",   "clock_step",
      // server_store_faults_test.cc
      "network_partition", "network_latency", "connection_reset", "connection_limit",
      "db_crash", "db_restart"};
  std::set<std::string> names;
  for (const FaultKind& kind : faults::AllFaults()) {
    EXPECT_TRUE(names.insert(kind.name).second) << "twice: " << kind.name;
    EXPECT_EQ(tested.count(kind.name), 1u) << kind.name << " has no unit test in tests/faults/";
    EXPECT_NE(kind.needs, 0u) << kind.name << " declares no capability";
    EXPECT_FALSE(kind.summary.empty()) << kind.name;
    EXPECT_FALSE(kind.stands_for.empty()) << kind.name;
    EXPECT_TRUE(kind.make) << kind.name;
  }
  EXPECT_EQ(names, tested);
}

TEST(FaultRegistryTest, OnlyFaultsOfTheReferenceCoordinatorsOwnPartsAreRefusedElsewhere) {
  std::set<std::string> reference_only, server_only;
  for (const FaultKind& kind : faults::AllFaults()) {
    if ((kind.needs & capability::kServerStore) != 0) {
      server_only.insert(kind.name);
    } else if (capability::Unmet(kind.needs, capability::kExternalSut) != 0) {
      reference_only.insert(kind.name);
    }
    EXPECT_EQ(capability::Unmet(kind.needs, capability::kReferenceSut | capability::kServerStore),
              0u)
        << kind.name;
  }
  EXPECT_EQ(reference_only,
            (std::set<std::string>{"config_drift", "corrupt_file", "model_outage"}));
  // Only a run on a database server ("store": "postgres") has these.
  EXPECT_EQ(server_only,
            (std::set<std::string>{"network_partition", "network_latency", "connection_reset",
                                   "connection_limit", "db_crash", "db_restart"}));
}

// A run on a database server has no state files: these are refused there
// (docs/scenario-format.md, "Stores"), and everything else runs on both.
TEST(FaultRegistryTest, OnlyFaultsOfTheStateFilesAreRefusedOnTheServer) {
  const unsigned server = capability::OnStore(capability::kReferenceSut, true);
  std::set<std::string> files_only;
  for (const FaultKind& kind : faults::AllFaults()) {
    if (capability::Unmet(kind.needs, server) != 0) files_only.insert(kind.name);
  }
  EXPECT_EQ(files_only,
            (std::set<std::string>{"io_error", "disk_full", "power_loss", "corrupt_file"}));
}

}  // namespace
}  // namespace faultline::testing
