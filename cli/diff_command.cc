// faultline diff: one lockstep scenario against two systems, and the first
// point where their projected histories diverge (sim/history_diff.h).
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "cli/commands.h"
#include "sim/history_diff.h"
#include "sim/sut/external_sut.h"

namespace faultline::cli {
namespace {

struct DiffFlags {
  std::string scenario;
  std::vector<std::string> suts;
  int64_t seed = -1;
  std::string out = "faultline-diff";
  std::string swarm;
};

// One side of a diff: the scenario against one SUT; its projected history.
struct DiffSide {
  std::string label;
  RunReport report;
  std::vector<ProjectedOp> history;
};

int RunDiffSide(const DiffFlags& f, const std::string& sut_flag, const std::string& suffix,
                const Catalog& catalog, DiffSide* side) {
  Scenario scenario;
  if (!Load(f.scenario, "", catalog, &scenario)) return kExitUsage;
  scenario.doc.erase("differential");  // diff compares the two runs itself
  if (!ApplySut(sut_flag, catalog, &scenario)) return kExitUsage;
  if (scenario.doc.value("mode", "lockstep") != "lockstep") {
    std::fprintf(stderr,
                 "faultline diff: %s is a freerun scenario; diff compares lockstep runs, "
                 "whose histories depend only on the seed (set \"mode\": \"lockstep\")\n",
                 f.scenario.c_str());
    return kExitUsage;
  }
  const uint64_t seed =
      f.seed >= 0 ? static_cast<uint64_t>(f.seed) : scenario.doc.value("seed", uint64_t{1});
  ResolvedScenario resolved = Resolve(scenario, catalog, seed);
  side->label = resolved.sut.is_null() ? "swarm" : sut::Label(resolved.sut) + ", " + sut_flag;
  RunOptions options = MakeRunOptions(f.out, f.swarm);
  options.run_dir_suffix = suffix;
  side->report = RunScenario(resolved, catalog, options);
  std::printf("%s: %s", suffix.substr(1).c_str(), side->report.summary.c_str());
  std::fflush(stdout);
  if (side->report.exit_code == kExitHarness || side->report.exit_code == kExitInterrupted) {
    return side->report.exit_code;
  }
  std::ifstream trace(side->report.run_dir + "/trace.jsonl");
  side->history = ProjectHistory(trace);
  return kExitPass;
}

int Diff(const DiffFlags& f) {
  Catalog catalog = MakeCatalog();
  DiffSide a, b;
  if (int code = RunDiffSide(f, f.suts[0], "-a", catalog, &a); code != kExitPass) return code;
  if (int code = RunDiffSide(f, f.suts[1], "-b", catalog, &b); code != kExitPass) return code;
  const Divergence d = FirstDivergence(a.history, b.history);
  std::printf("diff: %s", DescribeDivergence(d, a.label, b.label).c_str());
  std::printf("  histories: %s/trace.jsonl, %s/trace.jsonl\n", a.report.run_dir.c_str(),
              b.report.run_dir.c_str());
  return d.found ? kExitViolation : kExitPass;
}

}  // namespace

base::Runner SetupDiff(CLI::App* app) {
  auto f = std::make_shared<DiffFlags>();
  app->add_option("SCENARIO", f->scenario, "A lockstep scenario file")->required();
  app->add_option("--sut", f->suts,
                  "The two systems to compare, in order A then B: a SUT file (a \"sut\" block) "
                  "or \"swarm\" for the reference coordinator")
      ->required()
      ->expected(2)
      ->check(NonEmpty("--sut", "a SUT file or \"swarm\""));
  app->add_option("--seed", f->seed, "Seed of both runs (default: the scenario's \"seed\")")
      ->check(SeedText());
  app->add_option("--out", f->out, "Where the two run directories go (default: faultline-diff)");
  app->add_option("--swarm", f->swarm, "The coordinator binary (default: next to faultline)");
  return [f] { return Diff(*f); };
}

}  // namespace faultline::cli
