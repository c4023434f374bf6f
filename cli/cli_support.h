// What the faultline subcommands share: the registries, where the coordinator
// binary is, loading a scenario with the command line's overrides (--mode,
// --sut), the interrupt flag the signal handlers set, and the order in which
// outcomes combine into one exit code. Each subcommand lives in its own
// cli/<name>_command.cc and only wires these into the simulator.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <string>
#include <vector>

#include "reports/junit.h"
#include "sim/run.h"
#include "sim/scenario.h"

namespace faultline::cli {

// Set by SIGINT, SIGTERM and SIGHUP once InstallSignalHandlers ran; runs and
// the sink poll it and stop cleanly (exit 130).
extern std::atomic<bool> g_interrupted;
// Also ignores SIGPIPE: a reader that hangs up must not kill faultline.
void InstallSignalHandlers();

// --seed: a decimal integer from 0 to 2^63-1, refused (exit 2) otherwise,
// never clamped.
CLI::Validator SeedText();
// A flag whose value must not be empty: `--sut ""` (an unset variable in a
// CI script) is refused, not taken for "no flag".
CLI::Validator NonEmpty(const std::string& flag, const std::string& what);

// The fault and invariant registries, as every command sees them.
Catalog MakeCatalog();

// The swarm binary: `flag` (--swarm), else $FAULTLINE_SWARM, else next to
// faultline. Absolute: processes are spawned by path, from another directory.
std::string FindSwarm(const std::string& flag);

// Whether to draw progress on stderr: a terminal, and not under CI.
bool ShowProgress();

// The exit code of several outcomes: the worst of them, in the order
// interrupted > usage > harness error > violation > vacuous > pass.
int Worst(int a, int b);

// Loads a scenario, applying a --mode override when `mode` is not empty;
// prints the error and returns false on a bad file.
bool Load(const std::string& path, const std::string& mode, const Catalog& catalog, Scenario* out);

// --sut FILE: run the scenario against the external SUT described in FILE (a
// "sut" block, bare or as {"sut": {...}}; its cwd is relative to FILE).
// --sut swarm: against the reference coordinator, whatever the scenario says.
// An empty flag changes nothing. Prints the error and returns false on a bad
// file.
bool ApplySut(const std::string& flag, const Catalog& catalog, Scenario* scenario);

// Options for runs writing under `out` with the coordinator `swarm` (the
// --swarm flag, resolved by FindSwarm), watching g_interrupted.
RunOptions MakeRunOptions(const std::string& out, const std::string& swarm_flag, bool keep = false);

// After a run: its timeline.svg next to its trace, and (when `junit` is not
// null) its JUnit case.
void AfterRun(const RunReport& report, const std::string& scenario,
              std::vector<reports::JunitCase>* junit);

}  // namespace faultline::cli
