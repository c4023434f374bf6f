// How fast faultline explore finds and shrinks the zoo's bugs (issue 6), and
// lockstep+PCT exploration against freerun stress on the claim race:
//   BM_ExploreMutant/<mutant>   per mutant, over master seeds 1..5: runs and
//                               wall seconds to the first violation, shrink
//                               time, minimal size (medians), and how often
//                               minimal.json fails again on re-runs; and a
//                               failure of the family's largest member shrunk
//   BM_ClaimRaceFreerunStress   check_then_create, 16 agents on 64 items with
//                               real concurrency: runs and seconds until a
//                               seed fails, and how often that seed fails
//                               again when re-run
//   BM_ClaimRaceLockstepExplore the same scenario explored in lockstep
//   BM_ClaimRaceStressShrunk    those lockstep failures shrunk within 2..16
//                               agents and 1..64 items
// Each benchmark runs once (the work is whole searches); the numbers are
// counters. EXPLORE_BENCH_SEEDS=N changes the number of master seeds.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "faults/registry.h"
#include "sim/explore.h"
#include "sim/invariants/registry.h"
#include "sim/run.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

using nlohmann::json;

const Catalog& TheCatalog() {
  static const Catalog catalog{faults::AllFaults(), CoreInvariants()};
  return catalog;
}

int Seeds() {
  const char* v = std::getenv("EXPLORE_BENCH_SEEDS");
  return v && std::atoi(v) > 0 ? std::atoi(v) : 5;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// The mutant coordinator; the collector is faultline's (this binary has no
// `sink` subcommand).
RunOptions BaseOptions() {
  RunOptions o;
  o.swarm_bin = SWARM_MUTANT_BIN;
  o.sink_command = {FAULTLINE_BIN, "sink"};
  return o;
}

bool Load(const std::string& path, Scenario* out) {
  ScenarioError error;
  if (LoadScenario(path, TheCatalog(), out, &error)) return true;
  std::fprintf(stderr, "%s\n", error.ToString().c_str());
  return false;
}

bool Parse(const std::string& text, Scenario* out) {
  ScenarioError error;
  if (ParseScenario(text, "bench", TheCatalog(), out, &error)) return true;
  std::fprintf(stderr, "%s\n", error.ToString().c_str());
  return false;
}

bool Violates(const CaseOutcome& o, const std::string& invariant) {
  return o.exit_code == kExitViolation &&
         std::find(o.violated.begin(), o.violated.end(), invariant) != o.violated.end();
}

// Explores `family` with master seeds 1..Seeds() against the mutant, and
// re-runs each minimal scenario `reruns` times.
void ExploreSeeds(benchmark::State& state, const Scenario& family, const std::string& mutant,
                  int reruns) {
  setenv("SWARM_MUTANT", mutant.c_str(), 1);
  testing::TempDir tmp;
  InProcessRunner runner(TheCatalog(), BaseOptions());
  std::vector<double> runs, seconds, shrink_s, size_before, size_after, steps_after;
  int caught = 0, reproduced = 0, rerun = 0;
  for (int seed = 1; seed <= Seeds(); ++seed) {
    ExploreOptions o;
    o.master_seed = static_cast<uint64_t>(seed);
    o.out_dir = tmp / ("explore-" + std::to_string(seed));
    o.max_runs = 1000;
    o.time_budget_s = 300;
    o.shrink_budget_s = 120;
    const ExploreResult r = Explore(family, TheCatalog(), o, runner);
    if (!r.found) continue;
    ++caught;
    runs.push_back(static_cast<double>(r.runs));
    seconds.push_back(r.seconds);
    shrink_s.push_back(r.shrink.seconds);
    size_before.push_back(static_cast<double>(r.shrink.before.Total()));
    size_after.push_back(static_cast<double>(r.shrink.after.Total()));
    steps_after.push_back(static_cast<double>(r.shrink.after.steps));
    for (int i = 0; r.verified && i < reruns; ++i, ++rerun) {
      const CaseOutcome again = runner.Run(r.minimal, tmp / "rerun", "-" + std::to_string(i));
      reproduced += Violates(again, r.invariant) ? 1 : 0;
    }
  }
  unsetenv("SWARM_MUTANT");
  state.counters["caught"] = caught;
  state.counters["seeds"] = Seeds();
  state.counters["runs_to_violation"] = Median(runs);
  state.counters["s_to_violation"] = Median(seconds);
  state.counters["shrink_s"] = Median(shrink_s);
  state.counters["size_before"] = Median(size_before);
  state.counters["size_minimal"] = Median(size_after);
  state.counters["steps_minimal"] = Median(steps_after);
  state.counters["reproduced_pct"] = rerun ? 100.0 * reproduced / rerun : 0;
}

// A failure of the family's largest member (every fault, every range at its
// top; the first of seeds 1..30 that fails), shrunk: the shrinker's own work,
// since a drawn failure is often small from the start.
void ShrinkLargest(benchmark::State& state, const Scenario& family, const std::string& mutant) {
  setenv("SWARM_MUTANT", mutant.c_str(), 1);
  testing::TempDir tmp;
  InProcessRunner runner(TheCatalog(), BaseOptions());
  const ExploreSpace space(family, TheCatalog());
  ExploreCase largest;
  for (const ExploreKnob& k : space.knobs()) largest.values.push_back(k.hi);
  for (largest.seed = 1; largest.seed <= 30; ++largest.seed) {
    const ResolvedScenario s = space.Materialize(largest);
    if (runner.Run(s, tmp / "largest", "").exit_code != kExitViolation) continue;
    ExploreOptions o;
    o.out_dir = tmp / "shrink";
    o.start = &s;
    o.shrink_budget_s = 120;
    const ExploreResult r = Explore(family, TheCatalog(), o, runner);
    state.counters["largest_size"] = static_cast<double>(r.shrink.before.Total());
    state.counters["largest_shrunk_to"] = static_cast<double>(r.shrink.after.Total());
    state.counters["largest_shrink_s"] = r.shrink.seconds;
    state.counters["largest_shrink_runs"] = r.shrink.runs;
    break;
  }
  unsetenv("SWARM_MUTANT");
}

void BM_ExploreMutant(benchmark::State& state, const std::string& mutant) {
  Scenario family;
  if (!Load(std::string(MUTANT_SCENARIO_DIR) + "/" + mutant + ".json", &family)) {
    state.SkipWithError("cannot load the mutant's family");
    return;
  }
  for (auto _ : state) {
    ExploreSeeds(state, family, mutant, /*reruns=*/3);
    ShrinkLargest(state, family, mutant);
  }
}

// The claim race under real concurrency: many agents on few items each.
const char* kStress = R"({
  "name": "claim-race-stress",
  "coordinator": {"lease_ms": 2000, "heartbeat_ms": 250, "reap_interval_ms": 500,
                  "agent_timeout_ms": 1500},
  "agents": {"count": 16, "work_ms": [0, 5]},
  "work": {"items": 64},
  "invariants": ["single_owner", "exactly_once_effect", "no_lost_work"],
  "limits": {"sim_ms": 60000, "wall_ms": 60000}
})";

void BM_ClaimRaceFreerunStress(benchmark::State& state) {
  constexpr int kMaxRuns = 50, kReruns = 5;
  Scenario family;
  if (!Parse(kStress, &family)) return state.SkipWithError("bad stress scenario");
  setenv("SWARM_MUTANT", "check_then_create", 1);
  testing::TempDir tmp;
  InProcessRunner runner(TheCatalog(), BaseOptions());
  for (auto _ : state) {
    std::vector<double> runs, seconds;
    int detected = 0, reproduced = 0, rerun = 0;
    for (int trial = 0; trial < Seeds(); ++trial) {
      const double start = Now();
      for (int i = 1; i <= kMaxRuns; ++i) {
        ResolvedScenario s = Resolve(family, TheCatalog(), uint64_t(trial) * 1000 + i);
        s.mode = Mode::kFreerun;
        const CaseOutcome o = runner.Run(s, tmp / "freerun", "");
        if (!Violates(o, "single_owner")) continue;
        ++detected;
        runs.push_back(i);
        seconds.push_back(Now() - start);
        for (int k = 0; k < kReruns; ++k, ++rerun) {
          reproduced += Violates(runner.Run(s, tmp / "rerun", "-" + std::to_string(k)),
                                 "single_owner");
        }
        break;
      }
    }
    state.counters["trials"] = Seeds();
    state.counters["detected"] = detected;
    state.counters["runs_to_violation"] = Median(runs);
    state.counters["s_to_violation"] = Median(seconds);
    state.counters["reproduced_pct"] = rerun ? 100.0 * reproduced / rerun : 0;
  }
  unsetenv("SWARM_MUTANT");
}

void BM_ClaimRaceLockstepExplore(benchmark::State& state) {
  Scenario family;
  if (!Parse(kStress, &family)) return state.SkipWithError("bad stress scenario");
  for (auto _ : state) ExploreSeeds(state, family, "check_then_create", /*reruns=*/5);
}

// The lockstep failures of the stress scenario, shrunk within the family of
// every smaller one (2..16 agents, 1..64 items): how far and how fast.
void BM_ClaimRaceStressShrunk(benchmark::State& state) {
  Scenario stress, ranged;
  json doc = json::parse(kStress);
  doc["agents"]["count"] = {2, 16};
  doc["work"]["items"] = {1, 64};
  if (!Parse(kStress, &stress) || !Parse(doc.dump(), &ranged)) {
    return state.SkipWithError("bad stress scenario");
  }
  setenv("SWARM_MUTANT", "check_then_create", 1);
  testing::TempDir tmp;
  InProcessRunner runner(TheCatalog(), BaseOptions());
  for (auto _ : state) {
    std::vector<double> seconds, runs, agents, items;
    for (int seed = 1; seed <= Seeds(); ++seed) {
      ExploreOptions search;
      search.master_seed = static_cast<uint64_t>(seed);
      search.out_dir = tmp / ("search-" + std::to_string(seed));
      const ExploreResult found = Explore(stress, TheCatalog(), search, runner);
      if (!found.found) continue;
      ExploreOptions shrink;
      shrink.master_seed = static_cast<uint64_t>(seed);
      shrink.out_dir = tmp / ("shrink-" + std::to_string(seed));
      shrink.start = &found.original;
      const ExploreResult r = Explore(ranged, TheCatalog(), shrink, runner);
      seconds.push_back(r.shrink.seconds);
      runs.push_back(r.shrink.runs);
      agents.push_back(r.minimal.agents);
      items.push_back(r.minimal.items);
    }
    state.counters["shrunk"] = static_cast<double>(seconds.size());
    state.counters["shrink_s"] = Median(seconds);
    state.counters["shrink_runs"] = Median(runs);
    state.counters["minimal_agents"] = Median(agents);
    state.counters["minimal_items"] = Median(items);
  }
  unsetenv("SWARM_MUTANT");
}

std::vector<std::string> ListedMutants() {
  testing::TempDir tmp;
  using namespace std::chrono_literals;
  testing::Ran ran = testing::Run({SWARM_MUTANT_BIN, "--list"}, tmp / "list.log", 60s);
  std::vector<std::string> names;
  std::istringstream lines(ran.output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

}  // namespace
}  // namespace faultline

int main(int argc, char** argv) {
  using namespace faultline;
  for (const std::string& mutant : ListedMutants()) {
    benchmark::RegisterBenchmark(("BM_ExploreMutant/" + mutant).c_str(), BM_ExploreMutant, mutant)
        ->Iterations(1)
        ->Unit(benchmark::kSecond);
  }
  benchmark::RegisterBenchmark("BM_ClaimRaceFreerunStress", BM_ClaimRaceFreerunStress)
      ->Iterations(1)
      ->Unit(benchmark::kSecond);
  benchmark::RegisterBenchmark("BM_ClaimRaceLockstepExplore", BM_ClaimRaceLockstepExplore)
      ->Iterations(1)
      ->Unit(benchmark::kSecond);
  benchmark::RegisterBenchmark("BM_ClaimRaceStressShrunk", BM_ClaimRaceStressShrunk)
      ->Iterations(1)
      ->Unit(benchmark::kSecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
