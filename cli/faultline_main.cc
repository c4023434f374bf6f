// faultline: the harness's command line. A table of subcommands, each in its
// own cli/<name>_command.cc, parsing its flags and wiring the registries into
// the simulator. No logic lives here.
#include "cli/cli_support.h"
#include "cli/commands.h"
#include "base/install_layout.h"
#include "base/subcommand_table.h"

namespace faultline::cli {
namespace {

const base::Subcommand kCommands[] = {
    {"run",
     "Run scenarios and judge them (exit 0 pass, 1 violation, 2 bad input, 3 harness "
     "error, 4 vacuous with --require-landed, 130 interrupted)",
     SetupRun},
    {"replay", "Re-run a run directory with its resolved scenario and seed; check the trace hash",
     SetupReplay},
    {"explore",
     "Search a scenario family for a violation and shrink it to a minimal scenario "
     "(exit 0 none found, 1 found, 2 bad input, 3 harness error)",
     SetupExplore},
    {"diff",
     "Run one lockstep scenario against two SUTs and print the first divergence of "
     "their histories (exit 0 none, 1 a divergence, 2 bad input, 3 harness error)",
     SetupDiff},
    {"validate", "Check scenario files and the failure-mode catalogue without running them",
     SetupValidate},
    {"report",
     "Write the FMEA evidence report (md, html, json) and junit.xml from run "
     "directories; merges shards' output folders",
     SetupReport},
    {"list", "List the fault kinds, the invariants, or the bundled scenarios", SetupList},
    {"sink",
     "Run the collector: an OTLP/HTTP JSON receiver that records the spans it takes "
     "(the engine starts one per run with telemetry)",
     SetupSink},
};

}  // namespace
}  // namespace faultline::cli

int main(int argc, char** argv) {
  using namespace faultline;
  CLI::App app{
      "faultline: fault injection and deterministic simulation for work-coordination systems.\n"
      "Starts real agent processes against a real coordinator, breaks them on a schedule,\n"
      "checks invariants over what happened, and tells you how to reproduce any failure.\n\n"
      "  faultline run scenarios/killed-worker.json          # verdict + reproduce command\n"
      "  faultline run scenarios/*.json --seed 7 --out out   # many scenarios, one seed\n"
      "  faultline replay out/killed-worker-7                # same run again, same trace\n"
      "  faultline explore scenarios/crash-points.json       # search, shrink, minimal.json\n"
      "  faultline list faults\n\n"
      "Exit codes: 0 every invariant held, 1 a violation, 2 bad scenario or usage,\n"
      "3 harness or environment error, 4 a declared fault never landed (run\n"
      "--require-landed only), 130 interrupted."};
  app.set_version_flag("--version", base::VersionString("faultline"));
  return base::RunSubcommands(app, cli::kCommands, argc, argv, "faultline", kExitUsage,
                               cli::InstallSignalHandlers);
}
