// What the engine does differently for an external system under test
// (docs/external-sut.md): set the coordination directory up with the SUT's
// own commands, start the SUT's agents (or the command adapter in their
// place), and read the SUT's state for snapshots and the end of the run
// through lock-file globs and its state-dump command instead of the
// reference coordinator's file layout.
//
// The engine owns one ExternalSut per run and calls it from its single
// thread. Commands run with RunCommand (command.h): a hung command is killed
// at its timeout and reported as an event, never a hung harness.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "sim/settings.h"
#include "sim/sut/sut_spec.h"
#include "sim/sut/template.h"

namespace faultline::sut {

// The run's values the templates and the adapter read.
struct RunSettings {
  std::string dir;       // the coordination directory ({dir}); created empty by the engine
  std::string work_dir;  // the run's scratch directory
  std::string log_dir;   // where command output is logged
  std::string adapter_bin;  // the command adapter's program (observe "adapter")
  bool lockstep = true;
  uint64_t seed = 0;
  int items = 0;
  int agents = 0;
  bool reaper = true;
  // The scenario's settings (sim/settings.h); the coordinator ones are the
  // placeholders {lease_ms}, ... and keys of the adapter's configuration.
  ScenarioSettings settings;
  int64_t work_min_ms = 0, work_max_ms = 0;
};

// One process to start in place of a reference process.
struct SutProcess {
  std::string id;    // "a0", ..., "reaper"
  std::string role;  // "agent" | "reaper"
  std::vector<std::string> argv;  // argv[0] absolute
  std::vector<std::pair<std::string, std::string>> env;
  std::string cwd;
};

class ExternalSut {
 public:
  // `block` is a validated "sut" block with an anchored cwd. `emit` records a
  // history event of the harness (proc "sim"), e.g. a hung init command.
  ExternalSut(const nlohmann::json& block, RunSettings settings,
              std::function<void(nlohmann::json)> emit);

  // Runs init (if any) and submit in `settings.dir`. False with `*error`
  // saying which command failed, how, and where its output is.
  bool Prepare(int64_t now_us, std::string* error);

  // The processes of the run. `agent_seed(id)` is the agent's own seed.
  // Observe "adapter": the adapter program, reading the config Prepare wrote.
  // False with `*error` if a program cannot be found.
  bool Processes(const std::function<uint64_t(const std::string&)>& agent_seed,
                 std::vector<SutProcess>* out, std::string* error) const;

  // Counts for a snapshot event: "locks", "temps", "claims" (0 where no glob
  // was given; bounded_locks applies only with lock globs).
  nlohmann::json Snapshot() const;
  // {"files": n, "unparsable": [...]} over the "json" globs.
  nlohmann::json StateCheck() const;
  // The fields of run_end that describe the final state: "items" (from the
  // dump; left out without one or when it failed), "completed", "locks",
  // "temps", "ledger" (when the dump counts effects), "state_error".
  nlohmann::json EndState(int64_t now_us);

  // What this SUT lets the invariants observe (sim/invariant.h, observes::).
  unsigned Observations() const;
  // {"name", "observe"} for run_start.
  nlohmann::json Describe() const;
  const SutSpec& spec() const { return spec_; }

 private:
  Values BaseValues(int64_t now_us) const;
  // Runs one engine-side command, logging its output; false (with `*error`)
  // if it did not exit 0.
  bool RunLogged(const std::string& op, const nlohmann::json& command, const Values& values,
                 std::string* out, std::string* error);
  std::vector<std::pair<std::string, std::string>> Env(const Values& values) const;
  size_t CountGlobs(const std::vector<std::string>& globs) const;

  nlohmann::json block_;
  SutSpec spec_;
  RunSettings settings_;
  std::function<void(nlohmann::json)> emit_;
  std::string adapter_config_;  // path, once Prepare wrote it
};

// CLOCK_REALTIME in microseconds: what an external SUT's commands read as
// {now_ms} / {now_us} in freerun.
int64_t RealtimeMicros();

// Where a program named by a command is: argv[0] with a '/' is taken
// relative to `cwd`, a bare name is searched in PATH. "" if not found.
std::string FindProgram(const std::string& name, const std::string& cwd);

// What a SUT lets the invariants observe (sim/invariant.h, observes::).
unsigned Observations(const SutSpec& spec);

// Why a run cannot observe what an invariant needs (bits of `missing`), in
// words, e.g. "the SUT has no \"state\".\"dump\" command: its final state is
// unknown".
std::string MissingObservations(unsigned missing);

}  // namespace faultline::sut
