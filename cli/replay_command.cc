// faultline replay: a run directory again, with its resolved scenario and
// seed; a lockstep run must write the same trace.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "cli/cli_support.h"
#include "cli/commands.h"

namespace faultline::cli {
namespace {

int Replay(const std::string& dir, const std::string& swarm) {
  std::ifstream vin(dir + "/verdict.json");
  nlohmann::json verdict = nlohmann::json::parse(vin, nullptr, false);
  if (!verdict.is_object() || !verdict.contains("trace_sha256")) {
    std::fprintf(stderr,
                 "faultline replay: %s/verdict.json is missing or unreadable; pass a "
                 "directory written by faultline run\n",
                 dir.c_str());
    return kExitUsage;
  }
  Catalog catalog = MakeCatalog();
  Scenario scenario;
  if (!Load(dir + "/scenario.resolved.json", "", catalog, &scenario)) return kExitUsage;
  ResolvedScenario resolved = Resolve(scenario, catalog, verdict.value("seed", uint64_t{1}));
  RunReport report = RunScenario(resolved, catalog, MakeRunOptions(dir + "/replay", swarm));
  AfterRun(report, resolved.name, nullptr);
  std::fputs(report.summary.c_str(), stdout);
  if (report.exit_code == kExitHarness || report.exit_code == kExitInterrupted) {
    return report.exit_code;
  }
  std::string was = verdict["trace_sha256"], now = report.verdict["trace_sha256"];
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
