// Tests of explore and shrink (sim/explore.h) with a fake runner whose
// failures are planted: generation stays inside the family, the same master
// seed draws the same scenarios, the shrinker reaches the minimum of a
// planted failure and stops at its budget, only failing runs keep their
// directories, and minimal.json round-trips through the real
// `faultline validate` and `faultline run`.
#include "sim/explore.h"

#include <gtest/gtest.h>

#include <map>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "faults/registry.h"
#include "sim/invariants/registry.h"
#include "sim/run.h"
#include "sim/sut/systems.h"
#include "tests/support/poll.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;

const char* kFamily = R"({
  "name": "family", "seed": 5,
  "coordinator": {"lease_ms": [2000, 4000], "heartbeat_ms": 500, "reap_interval_ms": 1000,
                  "agent_timeout_ms": 3000},
  "agents": {"count": [1, 8], "work_ms": [0, 50]},
  "work": {"items": [1, 30]},
  "faults": [
    {"kind": "crash_at", "point": "claim.state_written", "nth": [1, 10]},
    {"kind": "kill_agent", "at_ms": [100, 2000], "count": [1, 3], "restart_after_ms": 200}
  ],
  "invariants": ["single_owner", "exactly_once_effect", "no_lost_work"]
})";

Catalog MakeCatalog() { return Catalog{faults::AllFaults(), CoreInvariants(), &sut::Systems()}; }

Scenario Parse(const std::string& text, const Catalog& catalog) {
  Scenario s;
  ScenarioError error;
  EXPECT_TRUE(ParseScenario(text, "family.json", catalog, &s, &error)) << error.ToString();
  return s;
}

bool HasFault(const ResolvedScenario& s, const std::string& kind) {
  for (const FaultInstance& f : s.faults) {
    if (f.kind == kind) return true;
  }
  return false;
}

// Judges a scenario with `violates` (the violated invariants, or none), and
// writes a run directory like RunScenario does, so that cleanup shows.
class FakeRunner final : public CaseRunner {
 public:
  using Judge = std::function<std::vector<std::string>(const ResolvedScenario&)>;
  explicit FakeRunner(Judge judge) : judge_(std::move(judge)) {}

  CaseOutcome Run(const ResolvedScenario& s, const std::string& out_dir,
                  const std::string& suffix) override {
    ran.push_back(s);
    CaseOutcome o;
    o.run_dir = out_dir + "/" + s.name + "-" + std::to_string(s.seed) + suffix;
    stdfs::create_directories(o.run_dir);
    std::ofstream(o.run_dir + "/scenario.resolved.json") << s.ToJson().dump(2);
    if (now_us != nullptr) *now_us += run_cost_us;
    if (harness_error) {
      o.exit_code = kExitHarness;
      o.summary = "planted harness error";
      return o;
    }
    o.violated = judge_(s);
    o.exit_code = o.violated.empty() ? kExitPass : kExitViolation;
    if (!o.violated.empty()) o.first_violation = o.violated[0] + ": planted";
    o.steps = s.agents * 10 + s.items;
    if (probes_of) o.probes = probes_of(s);
    return o;
  }

  std::vector<ResolvedScenario> ran;
  // The probes a run reports (name -> hits); none when unset.
  std::function<std::map<std::string, int64_t>(const ResolvedScenario&)> probes_of;
  int64_t* now_us = nullptr;  // a fake clock each run advances
  int64_t run_cost_us = 0;
  bool harness_error = false;

 private:
  Judge judge_;
};

class ExploreTest : public ::testing::Test {
 protected:
  ExploreOptions Options() {
    ExploreOptions o;
    o.out_dir = tmp_ / "explore";
    o.master_seed = 42;
    o.max_runs = 50;
    o.time_budget_s = 1e6;
    o.shrink_budget_s = 1e6;
    return o;
  }

  testing::TempDir tmp_;
  Catalog catalog_ = MakeCatalog();
  Scenario family_ = Parse(kFamily, catalog_);
};

// The planted bug: two agents or more while agents are being killed.
std::vector<std::string> TwoAgentsAndAKill(const ResolvedScenario& s) {
  if (s.agents >= 2 && HasFault(s, "kill_agent")) return {"exactly_once_effect"};
  return {};
}

TEST_F(ExploreTest, GenerationStaysInsideTheFamilysRanges) {
  const ExploreSpace space(family_, catalog_);
  std::set<int> agents_seen;
  std::set<std::string> schedulers;
  for (int64_t i = 0; i < 300; ++i) {
    const ResolvedScenario s = space.Materialize(space.Generate(7, i));
    EXPECT_EQ(s.mode, Mode::kLockstep);
    EXPECT_GE(s.agents, 1);
    EXPECT_LE(s.agents, 8);
    EXPECT_GE(s.items, 1);
    EXPECT_LE(s.items, 30);
    EXPECT_GE(s.lease_ms, 2000);
    EXPECT_LE(s.lease_ms, 4000);
    EXPECT_EQ(s.heartbeat_ms, 500);
    EXPECT_EQ(s.work_min_ms, 0);
    EXPECT_EQ(s.work_max_ms, 50);
    ASSERT_LE(s.faults.size(), 2u);
    for (const FaultInstance& f : s.faults) {
      if (f.kind == "crash_at") {
        EXPECT_EQ(f.options["point"], "claim.state_written");
        EXPECT_GE(f.options["nth"].get<int>(), 1);
        EXPECT_LE(f.options["nth"].get<int>(), 10);
      } else {
        ASSERT_EQ(f.kind, "kill_agent");
        EXPECT_GE(f.options["at_ms"].get<int>(), 100);
        EXPECT_LE(f.options["at_ms"].get<int>(), 2000);
        EXPECT_GE(f.options["count"].get<int>(), 1);
        EXPECT_LE(f.options["count"].get<int>(), 3);
        EXPECT_EQ(f.options["restart_after_ms"], 200);
      }
    }
    if (s.faults.size() == 2) {
      EXPECT_EQ(s.faults[0].kind, "crash_at");  // the family's order is kept
    }
    ASSERT_TRUE(s.scheduler == "pct" || s.scheduler == "random") << s.scheduler;
    EXPECT_GE(s.pct_depth, 1);
    EXPECT_LE(s.pct_depth, 4);
    // Every draw is a valid scenario on its own.
    Scenario parsed;
    ScenarioError error;
    EXPECT_TRUE(ParseScenario(s.ToJson().dump(), "drawn.json", catalog_, &parsed, &error))
        << error.ToString();
    agents_seen.insert(s.agents);
    schedulers.insert(s.scheduler);
  }
  // The whole range is reached, not just its low end.
  EXPECT_TRUE(agents_seen.count(1) && agents_seen.count(8)) << agents_seen.size();
  EXPECT_EQ(schedulers.size(), 2u);
}

TEST_F(ExploreTest, AFixedValueIsNotAKnob) {
  const Scenario fixed = Parse(R"({"name": "f", "agents": {"count": 3}, "work": {"items": 9},
                                   "scheduler": {"kind": "random"}})",
                               catalog_);
  const ExploreSpace space(fixed, catalog_);
  EXPECT_TRUE(space.knobs().empty());
  for (int64_t i = 0; i < 20; ++i) {
    const ResolvedScenario s = space.Materialize(space.Generate(1, i));
    EXPECT_EQ(s.agents, 3);
    EXPECT_EQ(s.items, 9);
    EXPECT_EQ(s.scheduler, "random");
  }
}

TEST_F(ExploreTest, FreerunFamiliesAreExploredInLockstep) {
  const Scenario freerun = Parse(R"({"name": "f", "mode": "freerun",
                                     "agents": {"count": [2, 4]}})",
                                 catalog_);
  const ExploreSpace space(freerun, catalog_);
  EXPECT_EQ(space.Materialize(space.Generate(1, 3)).mode, Mode::kLockstep);
}

TEST_F(ExploreTest, SameMasterSeedSameScenariosOtherSeedOthers) {
  auto sequence = [&](uint64_t master) {
    FakeRunner runner([](const ResolvedScenario&) { return std::vector<std::string>{}; });
    ExploreOptions o = Options();
    o.master_seed = master;
    o.max_runs = 30;
    EXPECT_EQ(Explore(family_, catalog_, o, runner).exit_code, kExitPass);
    std::vector<std::string> out;
    for (const ResolvedScenario& s : runner.ran) out.push_back(s.ToJson().dump());
    return out;
  };
  const std::vector<std::string> a = sequence(42), b = sequence(42), c = sequence(43);
  ASSERT_EQ(a.size(), 30u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // Distinct runs, not one scenario thirty times.
  EXPECT_GT(std::set<std::string>(a.begin(), a.end()).size(), 25u);
}

TEST_F(ExploreTest, ShrinksAPlantedFailureToItsMinimum) {
  FakeRunner runner(TwoAgentsAndAKill);
  const ExploreOptions o = Options();
  const ExploreResult r = Explore(family_, catalog_, o, runner);
  ASSERT_EQ(r.exit_code, kExitViolation) << r.error;
  ASSERT_TRUE(r.found);
  EXPECT_EQ(r.invariant, "exactly_once_effect");
  EXPECT_TRUE(r.verified);
  EXPECT_TRUE(r.shrink.complete);
  // The minimum of the planted failure: 2 agents, 1 item, only the kill,
  // once, at the earliest time the family allows.
  const ResolvedScenario& m = r.minimal;
  EXPECT_EQ(m.agents, 2);
  EXPECT_EQ(m.items, 1);
  ASSERT_EQ(m.faults.size(), 1u);
  EXPECT_EQ(m.faults[0].kind, "kill_agent");
  EXPECT_EQ(m.faults[0].options["count"], 1);
  EXPECT_EQ(m.faults[0].options["at_ms"], 100);
  EXPECT_EQ(m.pct_depth, 1);
  EXPECT_LE(r.shrink.after.Total(), r.shrink.before.Total());
  EXPECT_EQ(r.shrink.after.agents, 2);
  // minimal.json is that scenario; original.json the first failing draw.
  std::ifstream min_in(o.out_dir + "/minimal.json");
  EXPECT_EQ(json::parse(min_in), m.ToJson());
  std::ifstream orig_in(o.out_dir + "/original.json");
  EXPECT_EQ(json::parse(orig_in), r.original.ToJson());
  EXPECT_EQ(r.reproduce, "faultline run " + o.out_dir + "/minimal.json");
  std::ifstream summary_in(o.out_dir + "/explore.json");
  const json summary = json::parse(summary_in);
  EXPECT_EQ(summary["violation"]["invariant"], "exactly_once_effect");
  EXPECT_EQ(summary["shrink"]["after"]["agents"], 2);
  EXPECT_EQ(summary["minimal"]["verified"], true);
}

TEST_F(ExploreTest, TheShrinkIsDeterministic) {
  FakeRunner a(TwoAgentsAndAKill), b(TwoAgentsAndAKill);
  const ExploreResult ra = Explore(family_, catalog_, Options(), a);
  const ExploreResult rb = Explore(family_, catalog_, Options(), b);
  ASSERT_EQ(a.ran.size(), b.ran.size());
  for (size_t i = 0; i < a.ran.size(); ++i) EXPECT_EQ(a.ran[i].ToJson(), b.ran[i].ToJson());
  EXPECT_EQ(ra.minimal.ToJson(), rb.minimal.ToJson());
}

TEST_F(ExploreTest, KeepsOnlyTheDirectoriesOfFailingRuns) {
  FakeRunner runner(TwoAgentsAndAKill);
  const ExploreOptions o = Options();
  const ExploreResult r = Explore(family_, catalog_, o, runner);
  ASSERT_TRUE(r.found);
  ASSERT_GT(r.runs, 0);
  // Kept: the first failing run and the verifying re-run, beside the three
  // files (where reports look for minimal.json).
  EXPECT_EQ(stdfs::path(r.original_run_dir).parent_path(), stdfs::path(o.out_dir));
  EXPECT_EQ(stdfs::path(r.minimal_run_dir).parent_path(), stdfs::path(o.out_dir));
  EXPECT_TRUE(stdfs::exists(r.original_run_dir + "/scenario.resolved.json"));
  EXPECT_TRUE(stdfs::exists(r.minimal_run_dir + "/scenario.resolved.json"));
  EXPECT_NE(r.original_run_dir, r.minimal_run_dir);
  EXPECT_EQ(testing::CountEntries(o.out_dir + "/shrink"), 0u);
  EXPECT_EQ(testing::CountEntries(o.out_dir), 5u);  // 3 files, 2 run directories
  // A new explore into the same place starts clean.
  FakeRunner passing([](const ResolvedScenario&) { return std::vector<std::string>{}; });
  ExploreOptions again = o;
  again.max_runs = 3;
  EXPECT_EQ(Explore(family_, catalog_, again, passing).exit_code, kExitPass);
  EXPECT_FALSE(stdfs::exists(r.original_run_dir));
  EXPECT_FALSE(stdfs::exists(o.out_dir + "/minimal.json"));
  EXPECT_EQ(testing::CountEntries(o.out_dir), 1u);  // explore.json
}

TEST_F(ExploreTest, NoViolationWithinTheRunsExitsZeroAndLeavesNoRunDirectories) {
  FakeRunner runner([](const ResolvedScenario&) { return std::vector<std::string>{}; });
  ExploreOptions o = Options();
  o.max_runs = 12;
  const ExploreResult r = Explore(family_, catalog_, o, runner);
  EXPECT_EQ(r.exit_code, kExitPass);
  EXPECT_FALSE(r.found);
  EXPECT_EQ(r.runs, 12);
  EXPECT_EQ(testing::CountEntries(o.out_dir), 1u);  // explore.json only
  EXPECT_FALSE(stdfs::exists(o.out_dir + "/minimal.json"));
  EXPECT_FALSE(stdfs::exists(o.out_dir + "/original.json"));
}

// Coverage guidance: runs that reach a new probe are kept, and about half of
// the later runs are mutations of kept cases (the same knobs but one, or a
// new seed); the search stays deterministic and reports its coverage.
TEST_F(ExploreTest, CoverageGuidanceKeepsNewCoverageAndDrawsAroundIt) {
  auto search = [&](bool guided, std::vector<ResolvedScenario>* ran) {
    FakeRunner runner([](const ResolvedScenario&) { return std::vector<std::string>{}; });
    runner.probes_of = [](const ResolvedScenario& s) {
      return std::map<std::string, int64_t>{{"agents." + std::to_string(s.agents), 1},
                                            {"items", s.items}};
    };
    ExploreOptions o = Options();
    o.max_runs = 40;
    o.guided = guided;
    const ExploreResult r = Explore(family_, catalog_, o, runner);
    *ran = runner.ran;
    return r;
  };
  std::vector<ResolvedScenario> guided, again, unguided;
  const ExploreResult g = search(true, &guided);
  search(true, &again);
  const ExploreResult u = search(false, &unguided);
  ASSERT_EQ(guided.size(), 40u);
  for (size_t i = 0; i < guided.size(); ++i) {
    EXPECT_EQ(guided[i].ToJson(), again[i].ToJson()) << "run " << i;
  }
  // Fresh draws agree until the first mutated run, then the searches differ.
  EXPECT_EQ(guided[0].ToJson(), unguided[0].ToJson());
  bool differs = false;
  for (size_t i = 0; i < guided.size(); ++i) differs |= guided[i].ToJson() != unguided[i].ToJson();
  EXPECT_TRUE(differs);
  // A mutated run repeats an earlier run's agents and items more often than
  // fresh draws do (it keeps all knobs but at most one).
  auto repeats = [](const std::vector<ResolvedScenario>& runs) {
    int n = 0;
    for (size_t i = 1; i < runs.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (runs[j].agents == runs[i].agents && runs[j].items == runs[i].items &&
            runs[j].faults.size() == runs[i].faults.size()) {
          ++n;
          break;
        }
      }
    }
    return n;
  };
  EXPECT_GT(repeats(guided), repeats(unguided));
  // Coverage is measured either way and reported over time.
  EXPECT_FALSE(g.probes_reached.empty());
  EXPECT_FALSE(u.probes_reached.empty());
  ASSERT_FALSE(g.coverage.empty());
  EXPECT_EQ(g.coverage.back()["run"], 40);
  const nlohmann::json written = nlohmann::json::parse(
      testing::ReadAll(Options().out_dir + "/explore.json"));
  EXPECT_EQ(written["guided"], false);  // the last search was unguided
  EXPECT_FALSE(written["coverage"].empty());
}

TEST_F(ExploreTest, TheTimeBudgetEndsTheSearch) {
  FakeRunner runner([](const ResolvedScenario&) { return std::vector<std::string>{}; });
  int64_t now = 0;
  runner.now_us = &now;
  runner.run_cost_us = 1'000'000;
  ExploreOptions o = Options();
  o.time_budget_s = 5;
  o.now_us = [&now] { return now; };
  const ExploreResult r = Explore(family_, catalog_, o, runner);
  EXPECT_EQ(r.exit_code, kExitPass);
  EXPECT_EQ(r.runs, 5);
}

TEST_F(ExploreTest, TheShrinkBudgetStopsTheShrinkAndSaysSo) {
  FakeRunner runner(TwoAgentsAndAKill);
  int64_t now = 0;
  runner.now_us = &now;
  runner.run_cost_us = 1'000'000;
  ExploreOptions o = Options();
  o.shrink_budget_s = 2;
  o.now_us = [&now] { return now; };
  const ExploreResult r = Explore(family_, catalog_, o, runner);
  ASSERT_EQ(r.exit_code, kExitViolation);
  EXPECT_FALSE(r.shrink.complete);
  EXPECT_LE(r.shrink.runs, 2);
  // Whatever it reached is still verified and written.
  EXPECT_TRUE(r.verified);
  EXPECT_TRUE(stdfs::exists(o.out_dir + "/minimal.json"));
}

TEST_F(ExploreTest, AHarnessErrorStopsTheSearchWithExitThree) {
  FakeRunner runner(TwoAgentsAndAKill);
  runner.harness_error = true;
  const ExploreResult r = Explore(family_, catalog_, Options(), runner);
  EXPECT_EQ(r.exit_code, kExitHarness);
  EXPECT_EQ(r.runs, 1);
  EXPECT_NE(r.error.find("planted harness error"), std::string::npos) << r.error;
}

TEST_F(ExploreTest, AFailureThatDoesNotComeBackWritesNoMinimal) {
  // Fails on the first run of any scenario only: not reproducible.
  std::set<std::string> seen;
  FakeRunner runner([&seen](const ResolvedScenario& s) {
    const bool first = seen.insert(s.ToJson().dump()).second;
    return first && s.agents >= 3 ? std::vector<std::string>{"single_owner"}
                                  : std::vector<std::string>{};
  });
  const ExploreOptions o = Options();
  const ExploreResult r = Explore(family_, catalog_, o, runner);
  EXPECT_EQ(r.exit_code, kExitHarness);
  EXPECT_TRUE(r.found);
  EXPECT_FALSE(r.verified);
  EXPECT_NE(r.error.find("did not happen again"), std::string::npos) << r.error;
  EXPECT_FALSE(stdfs::exists(o.out_dir + "/minimal.json"));
  EXPECT_TRUE(stdfs::exists(o.out_dir + "/original.json"));
}

TEST_F(ExploreTest, FallsBackToTheSmallestCandidateThatReproduces) {
  // The planted failure, but with 1 item it happens only the first time a
  // scenario runs (flaky): the shrink reaches 1 item, the re-run does not
  // fail, and minimal.json is the last candidate with more items.
  std::set<std::string> seen;
  FakeRunner runner([&seen](const ResolvedScenario& s) {
    if (TwoAgentsAndAKill(s).empty()) return std::vector<std::string>{};
    const bool first = seen.insert(s.ToJson().dump()).second;
    return s.items >= 2 || first ? std::vector<std::string>{"exactly_once_effect"}
                                 : std::vector<std::string>{};
  });
  const ExploreResult r = Explore(family_, catalog_, Options(), runner);
  ASSERT_EQ(r.exit_code, kExitViolation) << r.error;
  EXPECT_TRUE(r.verified);
  EXPECT_EQ(r.minimal.agents, 2);
  EXPECT_GE(r.minimal.items, 2);
  EXPECT_EQ(r.shrink.after.items, r.minimal.items);
}

TEST_F(ExploreTest, CaseOfIsTheInverseOfMaterialize) {
  const ExploreSpace space(family_, catalog_);
  for (int64_t i = 0; i < 100; ++i) {
    const ResolvedScenario s = space.Materialize(space.Generate(3, i));
    ExploreCase c;
    std::string error;
    ASSERT_TRUE(space.CaseOf(s, &c, &error)) << error << "\n" << s.ToJson().dump();
    EXPECT_EQ(space.Materialize(c).ToJson(), s.ToJson());
  }
}

// A fault option written {"one_of": [...]} is a knob over its alternatives:
// every alternative is drawn, at every size, and a case maps back to it.
TEST_F(ExploreTest, AOneOfOptionIsAChoiceKnob) {
  const Scenario family = Parse(R"({
    "name": "combo", "agents": {"count": [1, 3], "work_ms": [0, 50]}, "work": {"items": [1, 9],
      "arrivals": {"submitters": [1, 3], "items": [1, 4]}},
    "faults": [
      {"kind": "crash_at", "point": {"one_of": ["complete.ledger_written", "claim.locked"]}},
      {"kind": "io_error", "at_ms": 0, "calls": {"one_of": [["open"], ["fsync"]]},
       "path_contains": {"one_of": ["/ledger/", "/items/", "/claims/"]}}
    ]})", catalog_);
  const ExploreSpace space(family, catalog_);
  std::map<std::string, const ExploreKnob*> knobs;
  for (const ExploreKnob& k : space.knobs()) knobs[k.pointer] = &k;
  ASSERT_EQ(knobs.count("/faults/0/point"), 1u);
  EXPECT_EQ(knobs["/faults/0/point"]->kind, ExploreKnob::Kind::kChoice);
  EXPECT_EQ(knobs["/faults/1/path_contains"]->hi, 2);
  EXPECT_EQ(knobs.count("/work/arrivals/submitters"), 1u);
  EXPECT_EQ(knobs.count("/work/arrivals/items"), 1u);
  std::set<std::string> combos;
  std::set<int> submitters;
  for (int64_t i = 0; i < 60; ++i) {
    const ResolvedScenario s = space.Materialize(space.Generate(7, i));
    submitters.insert(s.arrivals.submitters);
    if (s.faults.size() == 2) {
      combos.insert(s.faults[0].options["point"].get<std::string>() + "+" +
                    s.faults[1].options["calls"].dump() + "+" +
                    s.faults[1].options["path_contains"].get<std::string>());
    }
    ExploreCase c;
    std::string error;
    ASSERT_TRUE(space.CaseOf(s, &c, &error)) << error;
    EXPECT_EQ(space.Materialize(c).ToJson(), s.ToJson());
  }
  EXPECT_EQ(submitters, (std::set<int>{1, 2, 3}));
  EXPECT_TRUE(combos.count("complete.ledger_written+[\"open\"]+/ledger/")) << combos.size();
  EXPECT_GE(combos.size(), 8u);
  // Outside the family: a value that is none of the alternatives.
  int64_t i = 0;
  while (!HasFault(space.Materialize(space.Generate(7, i)), "crash_at")) ++i;
  ResolvedScenario s = space.Materialize(space.Generate(7, i));
  s.faults[0].options["point"] = "reap.locked";
  ExploreCase c;
  std::string error;
  EXPECT_FALSE(space.CaseOf(s, &c, &error));
  EXPECT_NE(error.find("not one of the family's"), std::string::npos) << error;
}

TEST_F(ExploreTest, CaseOfRejectsAScenarioOutsideTheFamily) {
  const ExploreSpace space(family_, catalog_);
  ResolvedScenario s = space.Materialize(space.Generate(3, 50));
  ExploreCase c;
  std::string error;
  ResolvedScenario too_many = s;
  too_many.agents = 9;
  EXPECT_FALSE(space.CaseOf(too_many, &c, &error));
  EXPECT_NE(error.find("/agents/count is 9, outside the family's range [1, 8]"), std::string::npos)
      << error;
  ResolvedScenario other = s;
  other.heartbeat_ms = 400;
  EXPECT_FALSE(space.CaseOf(other, &c, &error));
  EXPECT_NE(error.find("/coordinator/heartbeat_ms"), std::string::npos) << error;
}

TEST_F(ExploreTest, ShrinksAGivenFailingScenario) {
  const ExploreSpace space(family_, catalog_);
  // The largest member of the family: every fault, 8 agents, 30 items.
  ExploreCase big{77, {}};
  for (const ExploreKnob& k : space.knobs()) big.values.push_back(k.hi);
  const ResolvedScenario start = space.Materialize(big);
  ASSERT_EQ(start.agents, 8);
  FakeRunner runner(TwoAgentsAndAKill);
  ExploreOptions o = Options();
  o.start = &start;
  const ExploreResult r = Explore(family_, catalog_, o, runner);
  ASSERT_EQ(r.exit_code, kExitViolation) << r.error;
  EXPECT_EQ(r.runs, 1);
  EXPECT_EQ(r.original.ToJson(), start.ToJson());
  EXPECT_EQ(r.minimal.agents, 2);
  EXPECT_EQ(r.minimal.items, 1);
  ASSERT_EQ(r.minimal.faults.size(), 1u);
  EXPECT_EQ(r.minimal.faults[0].options["at_ms"], 100);
  EXPECT_GT(r.shrink.steps, 3);
  EXPECT_TRUE(r.shrink.complete);
}

TEST_F(ExploreTest, AGivenScenarioThatPassesHasNothingToShrink) {
  const ExploreSpace space(family_, catalog_);
  const ResolvedScenario start = space.Materialize(space.Generate(1, 0));
  FakeRunner runner([](const ResolvedScenario&) { return std::vector<std::string>{}; });
  ExploreOptions o = Options();
  o.start = &start;
  const ExploreResult r = Explore(family_, catalog_, o, runner);
  EXPECT_EQ(r.exit_code, kExitPass);
  EXPECT_EQ(r.runs, 1);
  EXPECT_FALSE(stdfs::exists(o.out_dir + "/minimal.json"));
}

TEST_F(ExploreTest, AGivenScenarioOutsideTheFamilyIsAUsageError) {
  ResolvedScenario start = ExploreSpace(family_, catalog_).Materialize({1, {}});
  start.items = 31;
  FakeRunner runner(TwoAgentsAndAKill);
  ExploreOptions o = Options();
  o.start = &start;
  const ExploreResult r = Explore(family_, catalog_, o, runner);
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_TRUE(runner.ran.empty());
  EXPECT_NE(r.error.find("/work/items is 31"), std::string::npos) << r.error;
}

#ifdef FAULTLINE_BIN
// minimal.json is a plain scenario: `faultline validate` accepts it, and
// `faultline run` resolves it to exactly itself.
TEST_F(ExploreTest, MinimalJsonRoundTripsThroughFaultlineValidateAndRun) {
  FakeRunner runner(TwoAgentsAndAKill);
  const ExploreOptions o = Options();
  const ExploreResult r = Explore(family_, catalog_, o, runner);
  ASSERT_TRUE(r.verified);
  const std::string minimal = o.out_dir + "/minimal.json";
  using namespace std::chrono_literals;
  testing::Ran validate = testing::Run({FAULTLINE_BIN, "validate", minimal}, tmp_ / "v.log", 60s);
  EXPECT_EQ(validate.exit.code, 0) << validate.output;
  const std::string out = tmp_ / "run";
  testing::Ran run = testing::Run({FAULTLINE_BIN, "run", minimal, "--out", out}, tmp_ / "r.log",
                                  300s);
  // The reference coordinator has no planted bug: the run passes.
  EXPECT_EQ(run.exit.code, 0) << run.output;
  std::ifstream resolved(out + "/family-" + std::to_string(r.minimal.seed) +
                         "/scenario.resolved.json");
  ASSERT_TRUE(resolved.good()) << run.output;
  EXPECT_EQ(json::parse(resolved), r.minimal.ToJson());
}

// The command line, end to end against the reference coordinator.
class ExploreCliTest : public ::testing::Test {
 protected:
  testing::Ran Explore(std::vector<std::string> args) {
    args.insert(args.begin(), {FAULTLINE_BIN, "explore"});
    using namespace std::chrono_literals;
    return testing::Run(args, tmp_ / "explore.log", 300s);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(tmp_ / name) << text;
    return tmp_ / name;
  }
  testing::TempDir tmp_;
};

const char* kSmallFamily = R"({"name": "small", "agents": {"count": [1, 3], "work_ms": [0, 20]},
                               "work": {"items": [1, 6]}})";

TEST_F(ExploreCliTest, NoViolationExitsZeroAndSaysSo) {
  const std::string out = tmp_ / "out";
  testing::Ran r = Explore({Write("small.json", kSmallFamily), "--runs", "4", "--out", out});
  EXPECT_EQ(r.exit.code, 0) << r.output;
  EXPECT_NE(r.output.find("no violation in 4 runs"), std::string::npos) << r.output;
  // Quiet when stderr is not a terminal: no progress line.
  EXPECT_EQ(r.output.find("\r"), std::string::npos);
  std::ifstream in(out + "/explore.json");
  const json summary = json::parse(in);
  EXPECT_EQ(summary["runs"], 4);
  EXPECT_EQ(summary["found"], false);
  EXPECT_EQ(testing::CountEntries(out), 1u);  // explore.json only
}

TEST_F(ExploreCliTest, BadInputExitsTwo) {
  testing::Ran bad = Explore({Write("bad.json", R"({"name": "bad", "agents": {"cuont": 2}})")});
  EXPECT_EQ(bad.exit.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("/agents/cuont"), std::string::npos) << bad.output;
  testing::Ran flag = Explore({Write("small.json", kSmallFamily), "--runs", "0"});
  EXPECT_EQ(flag.exit.code, 2) << flag.output;
  // A scenario to shrink that is not a member of the family.
  const std::string other = Write("other.json", R"({"name": "small", "agents": {"count": 9}})");
  testing::Ran outside = Explore({Write("small.json", kSmallFamily), "--shrink", other,
                                  "--out", tmp_ / "o"});
  EXPECT_EQ(outside.exit.code, 2) << outside.output;
  EXPECT_NE(outside.output.find("not a member of the family"), std::string::npos)
      << outside.output;
}

TEST_F(ExploreCliTest, AMissingCoordinatorExitsThree) {
  testing::Ran r = Explore({Write("small.json", kSmallFamily), "--swarm", tmp_ / "no-such-swarm"});
  EXPECT_EQ(r.exit.code, 3) << r.output;
}

TEST_F(ExploreCliTest, CtrlCStopsWithExit130) {
  const std::string family = Write("slow.json", R"({"name": "slow",
      "agents": {"count": [2, 4], "work_ms": [0, 20]}, "work": {"items": [50, 200]}})");
  pid_t pid = testing::Spawn({FAULTLINE_BIN, "explore", family, "--runs", "100000",
                              "--time-budget", "600", "--out", tmp_ / "out"},
                             tmp_ / "slow.log");
  ASSERT_GT(pid, 0);
  using namespace std::chrono_literals;
  // Interrupt it mid-search: once its first run has a verdict.
  EXPECT_TRUE(testing::Eventually("explore's first run to finish", [&] {
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(tmp_ / "out", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      if (std::filesystem::exists(it->path() / "verdict.json")) return true;
    }
    return false;
  }, 60s)) << testing::ReadAll(tmp_ / "slow.log");
  kill(pid, SIGINT);
  const testing::Exit e = testing::WaitFor(pid, 60s);
  EXPECT_TRUE(e.exited);
  EXPECT_EQ(e.code, 130) << testing::ReadAll(tmp_ / "slow.log");
}
#endif

}  // namespace
}  // namespace faultline
