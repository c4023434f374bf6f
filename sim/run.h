// One run, start to verdict: resolve nothing (the scenario comes resolved),
// write the run directory (scenario.resolved.json, trace.jsonl, verdict.json,
// logs/), drive the engine, feed every trace line to the invariant checkers,
// and judge. Outcomes stay distinct (STYLE.md 5): pass, violation, harness
// error, interrupted.
#pragma once

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>

#include "sim/engine.h"
#include "sim/scenario.h"
#include "sim/stop_controller.h"

namespace faultline {

// Exit codes of faultline, defined in one place (DESIGN §8).
inline constexpr int kExitPass = 0;
inline constexpr int kExitViolation = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitHarness = 3;
inline constexpr int kExitInterrupted = 130;
// Only with `faultline run --require-landed`: every invariant held, but a
// fault the scenario declares never landed, so the run proved less than it
// claims. Neither a bug in the SUT (1) nor one of the harness (3).
inline constexpr int kExitVacuous = 4;

struct RunOptions {
  std::string out_dir;    // the run directory is OUT/<scenario>-<seed>
  std::string swarm_bin;
  bool keep = false;      // keep the coordination directory (inside the run directory)
  bool progress = false;
  const std::atomic<bool>* interrupted = nullptr;
  std::string run_dir_suffix;  // e.g. "-check2" for the second determinism run
  // How to run the collector (`faultline sink`) for runs with telemetry;
  // empty: this executable's `sink` subcommand (right inside faultline).
  std::vector<std::string> sink_command;
  // The command adapter for external SUTs (sim/sut/adapter.h); empty:
  // faultline-adapter next to this executable.
  std::string adapter_bin;
  // Lockstep runs: stops between scheduling decisions and sees every trace
  // line (sim/stop_controller.h); null for ordinary runs. Not owned.
  StopController* stop = nullptr;
};

struct RunReport {
  int exit_code = kExitPass;
  std::string run_dir;
  nlohmann::json verdict;
  std::string summary;  // human text ending with the reproduce command
};

RunReport RunScenario(const ResolvedScenario& scenario, const Catalog& catalog,
                      const RunOptions& options);

}  // namespace faultline
