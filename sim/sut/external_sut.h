// An external system under test (docs/external-sut.md) behind the engine's
// Sut seam (sim/sut.h): sets the coordination directory up with the SUT's
// own commands, starts the SUT's agents (or the command adapter in their
// place), and reads the SUT's state for snapshots and the end of the run
// through lock-file globs and its state-dump command.
//
// One ExternalSut per run, called from the engine's single thread. Commands
// run with RunCommand (command.h): a hung command is killed at its timeout
// and reported as an event, never a hung harness.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "sim/settings.h"
#include "sim/sut.h"
#include "sim/sut/sut_spec.h"
#include "sim/sut/template.h"

namespace faultline::sut {

// The run's values the templates and the adapter read.
struct RunSettings {
  std::string dir;       // the coordination directory ({dir}); created by Prepare
  std::string work_dir;  // the run's scratch directory
  std::string log_dir;   // where command output is logged
  std::string adapter_bin;  // the command adapter's program (observe "adapter")
  std::string interpose_lib;  // libfaultline_interpose.so ("interleave": "syscalls")
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

class ExternalSut final : public Sut {
 public:
  // `block` is a validated "sut" block with an anchored cwd.
  ExternalSut(const nlohmann::json& block, RunSettings settings);

  // {"name", "observe"}, and "interleave" for observe "adapter".
  nlohmann::json Describe() const override;
  // settings.interpose_lib with "interleave": "syscalls", else "".
  std::string InterposeLibrary() const override;
  const std::string& Dir() const override { return settings_.dir; }
  // What this SUT lets the invariants observe (sim/invariant.h, observes::).
  unsigned Observations() const override;
  // Processes, clocks, endpoints and the directory; nothing of the reference
  // coordinator's (no tool, no state-file layout, agents with their own flags).
  unsigned Offers() const override { return capability::kExternalSut; }

  // Runs init (if any) and submit in `settings.dir`. False with `*error`
  // saying which command failed, how, and where its output is.
  bool Prepare(SutHost& host, std::string* error) override;
  // The processes of the run. Observe "adapter": the adapter program,
  // reading the config Prepare wrote. False with `*error` if a program
  // cannot be found.
  bool Processes(SutHost& host, std::vector<SutProcessSpec>* out, std::string* error) override;
  nlohmann::json Submitted() const override { return nlohmann::json::object(); }
  // The same variables as the reference's: an external agent reads the
  // standard OTEL_* ones and ignores the rest.
  EnvList CollectorEnv(const std::string& endpoint,
                       const ResolvedScenario::Telemetry& telemetry) const override;
  EnvList ModelEnv(const std::string& endpoint) const override;

  // Counts for a snapshot event: "locks", "temps", "claims" (0 where no glob
  // was given; bounded_locks applies only with lock globs).
  nlohmann::json Snapshot() const override;
  // {"files": n, "unparsable": [...]} over the "json" globs.
  nlohmann::json StateCheck() const override;
  // The fields of run_end that describe the final state: "items" (from the
  // dump; left out without one or when it failed), "completed", "locks",
  // "temps", "ledger" (when the dump counts effects), "state_error". A hung
  // or killed dump command is also an event (sut_command_failed).
  nlohmann::json EndState(SutHost& host) override;
  // An external SUT's spool, if it has one, is not known to the harness.
  std::vector<SpoolLeft> SpansLeft() const override { return {}; }
  // An external SUT has no cluster.json the harness could read.
  std::string ClusterFingerprint() const override { return ""; }
  // An external SUT offers no tool (capability::kReferenceTool is not set).
  bool RunTool(SutHost& host, const std::vector<std::string>& args, std::string* error) override;

  const SutSpec& spec() const { return spec_; }

 private:
  Values BaseValues(int64_t now_us) const;
  // Runs one engine-side command, logging its output; false (with `*error`)
  // if it did not exit 0. `host` (may be null) hears of a hung dump.
  bool RunLogged(SutHost* host, const std::string& op, const nlohmann::json& command,
                 const Values& values, std::string* out, std::string* error);
  std::vector<std::pair<std::string, std::string>> Env(const Values& values) const;
  size_t CountGlobs(const std::vector<std::string>& globs) const;

  nlohmann::json block_;
  SutSpec spec_;
  RunSettings settings_;
  std::string adapter_config_;  // path, once Prepare wrote it
};

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
