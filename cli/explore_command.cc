// faultline explore: search a scenario family for a violation and shrink it
// to a minimal scenario (sim/explore.h).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "cli/commands.h"
#include "sim/explore.h"

extern char** environ;

namespace faultline::cli {
namespace {

namespace stdfs = std::filesystem;

// Environment the coordinator reads (SWARM_*), as a prefix of a shell
// command: the reproduce line must carry it.
std::string CoordinatorEnvPrefix() {
  std::vector<std::string> vars;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "SWARM_", 6) == 0) vars.emplace_back(*e);
  }
  std::sort(vars.begin(), vars.end());
  std::string prefix;
  for (const std::string& v : vars) prefix += v + " ";
  return prefix;
}

struct ExploreFlags {
  std::string scenario;
  int64_t runs = 100;
  double time_budget = 300;
  double shrink_budget = 120;
  std::string out = "faultline-explore";
  int64_t seed = -1;
  std::string swarm;
  std::string shrink;  // --shrink FILE
  std::string guide = "off";
};

int RunExplore(const ExploreFlags& f) {
  Catalog catalog = MakeCatalog();
  Scenario family;
  if (!Load(f.scenario, "", catalog, &family)) return kExitUsage;
  ResolvedScenario start;
  if (!f.shrink.empty()) {
    Scenario given;
    if (!Load(f.shrink, "", catalog, &given)) return kExitUsage;
    start = Resolve(given, catalog, given.doc.value("seed", uint64_t{1}));
  }
  // Absolute, since runs spawn it from elsewhere; the reproduce line says it so too.
  std::error_code ec;
  const std::string swarm = stdfs::absolute(FindSwarm(f.swarm), ec).string();
  if (!stdfs::exists(swarm)) {
    std::fprintf(stderr, "faultline: the coordinator binary %s does not exist; pass --swarm PATH\n",
                 swarm.c_str());
    return kExitHarness;
  }
  ExploreOptions o;
  o.master_seed =
      f.seed >= 0 ? static_cast<uint64_t>(f.seed) : family.doc.value("seed", uint64_t{1});
  o.max_runs = f.runs;
  o.time_budget_s = f.time_budget;
  o.shrink_budget_s = f.shrink_budget;
  o.out_dir = f.out;
  o.guided = f.guide == "coverage";
  if (!f.shrink.empty()) o.start = &start;
  o.interrupted = &g_interrupted;
  o.reproduce_prefix = CoordinatorEnvPrefix();
  if (!f.swarm.empty()) o.reproduce_suffix = " --swarm " + swarm;
  o.say = [](const std::string& text) {
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
  };
  if (ShowProgress()) {
    o.progress = [](const std::string& line) { std::fprintf(stderr, "\r%s\033[K", line.c_str()); };
  }
  RunOptions run;
  run.swarm_bin = swarm;
  run.interrupted = &g_interrupted;
  InProcessRunner runner(catalog, run);
  return Explore(family, catalog, o, runner).exit_code;
}

}  // namespace

base::Runner SetupExplore(CLI::App* app) {
  auto f = std::make_shared<ExploreFlags>();
  app->add_option("SCENARIO", f->scenario, "A scenario family (JSON); its ranges are explored")
      ->required();
  app->add_option("--runs", f->runs, "Most runs to make before giving up (default: 100)")
      ->check(CLI::PositiveNumber);
  app->add_option("--time-budget", f->time_budget,
                  "Seconds to search before giving up (default: 300)")
      ->check(CLI::PositiveNumber);
  app->add_option("--shrink-budget", f->shrink_budget,
                  "Seconds to shrink a violation (default: 120)")
      ->check(CLI::PositiveNumber);
  app->add_option("--out", f->out,
                  "Where minimal.json, original.json and run directories go "
                  "(default: faultline-explore)");
  app->add_option("--seed", f->seed,
                  "Master seed: the same one draws the same scenarios (default: the "
                  "scenario's \"seed\")")
      ->check(SeedText());
  app->add_option("--swarm", f->swarm, "The coordinator binary (default: next to faultline)");
  app->add_option("--guide", f->guide,
                  "coverage: half the runs mutate a kept scenario whose run reached probes no "
                  "earlier run reached; off (default): every run is a fresh draw")
      ->check(CLI::IsMember({"coverage", "off"}));
  app->add_option("--shrink", f->shrink,
                  "Do not search: shrink this failing scenario (a member of the family, e.g. "
                  "a run's scenario.resolved.json)");
  return [f] { return RunExplore(*f); };
}

}  // namespace faultline::cli
