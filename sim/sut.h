// The seam between the engine and a system under test (DESIGN §12). The
// engine schedules processes, applies faults, keeps time and writes the
// history; everything it needs to know about the coordinator it runs — how
// to set up its directory, which programs to start, how to read its state,
// what its tool is — it asks a Sut. The core holds no implementation: the
// reference coordinator (swarm) and external systems (adapter or protocol
// observation) live in sim/sut/, and cli/ hands their SutFactory to the core
// inside the Catalog, like the fault and invariant registries.
//
// Threads: a Sut is created for one run and used from the engine's single
// thread; nothing here is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/scenario.h"

namespace faultline {

struct ExitStatus;  // sim/process_set.h

using EnvList = std::vector<std::pair<std::string, std::string>>;

// One process of the system under test that the engine starts, controls and
// may kill and restart.
struct SutProcessSpec {
  std::string id;                 // "a0", "a1", ..., "reaper"
  std::string role;               // "agent" | "reaper" | "submitter"
  std::vector<std::string> argv;  // argv[0] absolute
  EnvList env;                    // on top of the harness's own variables
  std::string cwd;                // "": the harness's
};

// What one agent's telemetry spool still holds at the end of a run.
struct SpoolLeft {
  std::string agent;
  std::vector<std::string> spans;  // span ids, sorted, distinct
};

// What the engine offers a Sut while it sets up and observes the run.
class SutHost {
 public:
  virtual ~SutHost() = default;
  // The clock the SUT's own commands read, absolute microseconds: the
  // simulated clock in lockstep (what the controlled processes read), the
  // wall clock (CLOCK_REALTIME) in freerun.
  virtual int64_t SutClock() const = 0;
  // Records a history event of the harness (proc "sim") now.
  virtual void Emit(nlohmann::json event) = 0;
  // Runs `argv` (argv[0] absolute) to completion as a child of the run's
  // process set, so that it dies with the harness; stdout and stderr go to
  // `log_path`. False with `*error` if it could not be started; else true
  // with how it ended in `*status`.
  virtual bool RunProgram(const std::vector<std::string>& argv, const std::string& log_path,
                          ExitStatus* status, std::string* error) = 0;
  // The agent `id`'s own seed: a named stream of the run seed, the same for
  // every system, so that two systems run with one seed agree on it.
  virtual uint64_t AgentSeed(const std::string& id) const = 0;
  // The coordinator settings of the run (lease_ms, heartbeat_ms,
  // reap_interval_ms, agent_timeout_ms, max_attempts, schema_version, ...).
  virtual nlohmann::json Settings() const = 0;
};

class Sut {
 public:
  virtual ~Sut() = default;

  // Which system this is: {"name": ..., ...}; "name" is the label used in
  // messages and the verdict.
  virtual nlohmann::json Describe() const = 0;
  // The coordination directory: made by Prepare, handed to faults, kept by
  // `faultline run --keep`. Never written to the trace.
  virtual const std::string& Dir() const = 0;
  // What the invariants can observe of this system (sim/invariant.h, observes::).
  virtual unsigned Observations() const = 0;
  // What it offers faults (sim/fault.h, capability:: bits): a fault kind
  // whose needs it does not meet cannot be run against it.
  virtual unsigned Offers() const = 0;

  // --- set-up, before the history's run_start ---
  // Makes the coordination directory and submits the scenario's items. May
  // emit events (e.g. a hung command). False with `*error` (the run ends as a
  // harness error saying it) if a step failed.
  virtual bool Prepare(SutHost& host, std::string* error) = 0;
  // Lockstep inside the system's commands (docs/interposition.md): the path
  // of libfaultline_interpose.so when the engine is to schedule every process
  // the system's commands start, at each file-system call on Dir(); "" when
  // commands run whole within one step (the default, and the reference).
  virtual std::string InterposeLibrary() const { return ""; }
  // The processes of the run, in start order. False with `*error` if one
  // cannot be started (a program not found).
  virtual bool Processes(SutHost& host, std::vector<SutProcessSpec>* out, std::string* error) = 0;
  // Work arrivals ("work"/"arrivals"): the process `id` ("s0", "s1", ...)
  // that submits `items` new items while the agents run, as a controlled
  // process (role "submitter"): in lockstep it yields between its steps, so
  // the interleaving of concurrent submitters is the scheduler's. Its exit
  // code 0 says all `items` were added. False with `*error` when the system
  // has no such process (scenario validation refuses arrivals for it first).
  virtual bool Submitter(SutHost& host, const std::string& id, int64_t items,
                         SutProcessSpec* out, std::string* error) {
    (void)host, (void)id, (void)items, (void)out;
    *error = "this system under test cannot submit work during a run";
    return false;
  }
  // Fields the submit event carries besides its type and item count (which
  // items need which skill, each agent's skills); {} when there are none.
  virtual nlohmann::json Submitted() const = 0;
  // The environment of every controlled process when the run has a
  // collector at `endpoint` (the standard OTEL_* variables and the system's
  // own), and of every agent when it has the stub model API at `endpoint`.
  virtual EnvList CollectorEnv(const std::string& endpoint,
                               const ResolvedScenario::Telemetry& telemetry) const = 0;
  virtual EnvList ModelEnv(const std::string& endpoint) const = 0;

  // --- observation, any time during the run and at its end ---
  // Counts for a snapshot event: "locks", "temps", "claims".
  virtual nlohmann::json Snapshot() const = 0;
  // Every state file read as a recovering process would:
  // {"files": n, "unparsable": [paths relative to Dir()]}.
  virtual nlohmann::json StateCheck() const = 0;
  // The fields of run_end that describe the final state ("items",
  // "completed", "locks", "temps", "ledger", ...); every process has stopped.
  virtual nlohmann::json EndState(SutHost& host) = 0;
  // Spans the agents still hold unsent at the end (spooled), agents sorted,
  // those with none left out.
  virtual std::vector<SpoolLeft> SpansLeft() const = 0;
  // The config fingerprint the coordination directory holds now; "" if none.
  virtual std::string ClusterFingerprint() const = 0;
  // Runs the system's own command-line tool with `args` to completion
  // (capability::kReferenceTool). False with the tool's first line of output, or why it
  // cannot be run, in `*error`.
  virtual bool RunTool(SutHost& host, const std::vector<std::string>& args,
                       std::string* error) = 0;
};

// Where a run's Sut lives and what it runs.
struct SutPaths {
  std::string dir;       // the coordination directory (created by Prepare)
  std::string work_dir;  // the run's scratch directory (dir is inside it)
  std::string log_dir;   // one log per process and command
  std::string reference_bin;  // the reference coordinator's program (swarm)
  std::string adapter_bin;    // the command adapter; "": the factory's default
};

// A mistake in a scenario's "sut" or "differential" block.
struct SutBlockProblem {
  std::string pointer;  // JSON pointer relative to the block
  std::string message;
};

// A differential run's plan (a scenario's "differential" block).
struct DifferentialPlan {
  nlohmann::json against;  // the counterpart's "sut" block; null: the reference
  std::string compare;     // "outcomes" | "histories"
};

// The systems a scenario may name: a null "sut" block is the reference
// coordinator, an object an external system. Validation, labels and
// observations read a block; Make builds the run's Sut. Thread-safe (const).
class SutFactory {
 public:
  virtual ~SutFactory() = default;
  // `lockstep` and `step_timeout_ms` come from the scenario (command
  // timeouts must stay below the step watchdog).
  virtual std::optional<SutBlockProblem> CheckSut(const nlohmann::json& block, bool lockstep,
                                                  int64_t step_timeout_ms) const = 0;
  virtual std::optional<SutBlockProblem> CheckDifferential(const nlohmann::json& block,
                                                           bool has_sut, bool lockstep,
                                                           int64_t step_timeout_ms) const = 0;
  // Makes a validated block's working directory absolute, relative to the
  // directory of the file it was read from.
  virtual void AnchorCwd(nlohmann::json* block, const std::string& base_dir) const = 0;
  // REQUIRES: the differential block passed CheckDifferential.
  virtual DifferentialPlan Differential(const nlohmann::json& block) const = 0;

  // A short label: "reference (swarm)" for null, else the system's name.
  virtual std::string Label(const nlohmann::json& block) const = 0;
  // What a run of this system lets the invariants observe (observes::) and
  // what it offers faults (capability::).
  virtual unsigned Observations(const nlohmann::json& block) const = 0;
  virtual unsigned Offers(const nlohmann::json& block) const = 0;
  // Why a run cannot observe `missing` (observes:: bits), in words.
  virtual std::string MissingObservations(unsigned missing) const = 0;
  // The Sut of one run of `scenario` (its "sut" block says which system).
  virtual std::unique_ptr<Sut> Make(const ResolvedScenario& scenario,
                                    const SutPaths& paths) const = 0;
};

}  // namespace faultline
