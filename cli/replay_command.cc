// faultline replay: a run directory again, with its resolved scenario and
// seed; a lockstep run must write the same trace.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/cli_support.h"
#include "cli/commands.h"
#include "reports/run_record.h"

namespace faultline::cli {
namespace {

int Replay(const std::string& dir, const std::string& swarm) {
  reports::RunDir run;
  std::string error;
  if (!reports::LoadRunDir(dir, &run, &error) || !run.verdict.contains("trace_sha256")) {
    std::fprintf(stderr, "faultline replay: %s; pass a directory written by faultline run\n",
                 error.empty() ? (dir + "/verdict.json has no trace_sha256").c_str()
                               : error.c_str());
    return kExitUsage;
  }
  const nlohmann::json& verdict = run.verdict;
  Catalog catalog = MakeCatalog();
  Scenario scenario;
  if (!Load(dir + "/scenario.resolved.json", "", catalog, &scenario)) return kExitUsage;
  ResolvedScenario resolved = Resolve(scenario, catalog, verdict["seed"].get<uint64_t>());
  RunReport report = RunScenario(resolved, catalog, MakeRunOptions(dir + "/replay", swarm));
  AfterRun(report, resolved.name, nullptr);
  std::fputs(report.summary.c_str(), stdout);
  if (report.exit_code == kExitHarness || report.exit_code == kExitInterrupted) {
    return report.exit_code;
  }
  const std::string was = verdict["trace_sha256"].get<std::string>();
  const std::string now = report.verdict.value("trace_sha256", "");
  if (resolved.mode != Mode::kLockstep) {
    std::printf(
        "replay: freerun run re-run (reproducible in distribution only; recorded "
        "verdict: %s, now: %s)\n",
        verdict.value("ok", false) ? "ok" : "failed",
        report.verdict.value("ok", false) ? "ok" : "failed");
    return report.exit_code;
  }
  if (was != now) {
    std::printf(
        "replay: trace differs from the recorded run (%s, now %s): the run is not "
        "reproducible; see docs/determinism.md\n",
        was.c_str(), now.c_str());
    return kExitHarness;
  }
  std::printf("replay: identical trace (sha256 %s)\n", now.c_str());
  return report.exit_code;
}

}  // namespace

base::Runner SetupReplay(CLI::App* app) {
  auto dir = std::make_shared<std::string>();
  auto swarm = std::make_shared<std::string>();
  app->add_option("RUN_DIR", *dir, "A run directory written by faultline run")->required();
  app->add_option("--swarm", *swarm, "The coordinator binary (default: next to faultline)");
  return [dir, swarm] { return Replay(*dir, *swarm); };
}

}  // namespace faultline::cli
