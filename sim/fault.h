// The fault plug-in interface (DESIGN §5). One Fault object per entry of a
// scenario's "faults", created from resolved options; the engine calls it at
// the start, when one of its timers fires, and at every yield point of a
// controlled process. A fault acts only through FaultContext, records where
// and when it landed, and must leave nothing behind.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sim/options.h"
#include "sim/rng.h"
#include "sim/sink.h"

namespace faultline {

// What the engine offers a fault. Times are run microseconds (simulated in
// lockstep, monotonic since the run began in freerun).
class FaultContext {
 public:
  virtual ~FaultContext() = default;
  virtual int64_t Now() const = 0;
  virtual bool Lockstep() const = 0;
  // This fault's own random stream (split from the run seed by its index).
  virtual Rng& rng() = 0;
  // Calls the fault's OnTimer(tag) at run time `at`.
  virtual void SetTimer(int64_t at, int tag) = 0;

  // Agent ids of the run ("a0" ...), and which of them are alive now.
  virtual std::vector<std::string> Agents() const = 0;
  virtual bool Alive(const std::string& proc) const = 0;
  // SIGKILLs a process (an agent id or "reaper") and waits for it. False if
  // it was not alive.
  virtual bool Kill(const std::string& proc) = 0;
  // Starts a process again under the same id.
  virtual void Restart(const std::string& proc) = 0;
  // Lockstep: never scheduled before `until`; freerun: SIGSTOP now, SIGCONT
  // at `until`.
  virtual void Stall(const std::string& proc, int64_t until) = 0;

  // The coordination directory's path (never written to the trace).
  virtual std::string CoordDir() const = 0;
  // The coordinator settings of the run (lease_ms, heartbeat_ms,
  // reap_interval_ms, agent_timeout_ms, max_attempts, schema_version).
  virtual nlohmann::json ClusterSettings() const = 0;
  // The fingerprint in the coordination directory's cluster.json now.
  virtual std::string ClusterFingerprint() const = 0;
  // Runs the coordinator's command-line tool with `args` to completion
  // (e.g. {"configure", CoordDir(), "--set", "lease_ms=9000"}). False, with
  // the tool's first line of output in `error`, if it failed.
  virtual bool RunCoordinatorTool(const std::vector<std::string>& args, std::string* error) = 0;
  // The run's scratch directory (the coordination directory is inside it;
  // with a private tmpfs, it is that file system).
  virtual std::string ScratchDir() const = 0;
  // Writes `content` to a file of the run's scratch directory; returns its path.
  virtual std::string WriteScratchFile(const std::string& name, const std::string& content) = 0;
  // Only in Prepare: extra command-line arguments for one agent.
  virtual void AddAgentArgs(const std::string& agent, const std::vector<std::string>& args) = 0;
  // Only in Prepare: an environment variable for one process (an agent id or
  // "reaper"), kept across restarts; a later value for the same key wins.
  virtual void AddProcessEnv(const std::string& proc, const std::string& key,
                             const std::string& value) = 0;
  // Only in Prepare: the process's clock (an agent id or "reaper") reads run
  // time + offset_us, plus drift_ppm µs per second since each of its starts;
  // its sleeps last accordingly. Both modes.
  virtual void SetClockSkew(const std::string& proc, int64_t offset_us, int64_t drift_ppm) = 0;
  // RLIMIT_NOFILE (soft and hard) of a process: in Prepare for its start, or
  // of the live process (prlimit). False if the process is not there.
  virtual bool LimitFiles(const std::string& proc, int limit) = 0;
  // Only in Prepare: the fault cannot be set up here (a missing helper, an
  // unsupported host). No process starts; the run ends as a harness error
  // (exit 3) that says `why`.
  virtual void SetupFailed(const std::string& why) = 0;

  // The run's collector (faultline sink): switches its mode — up, 503,
  // blackhole, or down (killed; a later mode restarts it on the same port).
  // Lockstep: every controlled process is parked, so no export is in flight.
  // False (and the run ends as a harness error) if the run has no collector
  // or the sink did not answer.
  virtual bool SetCollectorMode(CollectorMode mode) = 0;
  // The run's stub model API (a second faultline sink serving POST
  // /v1/model, coordinator/model_client.h), switched like the collector.
  // False (a harness error) if the run has none (no fault NeedsModel).
  virtual bool SetModelMode(CollectorMode mode) = 0;

  // Records in the trace that the fault landed: a "fault" event with the
  // kind, the fault's index and `details`. A fault that never calls this
  // makes the run vacuous.
  virtual void Landed(const nlohmann::json& details) = 0;
};

class Fault {
 public:
  virtual ~Fault() = default;
  // Before any process of the run starts (argument changes, limits).
  virtual void Prepare(FaultContext& ctx) { (void)ctx; }
  // Once every process has started.
  virtual void Start(FaultContext& ctx) = 0;
  virtual void OnTimer(FaultContext& ctx, int tag) { (void)ctx, (void)tag; }
  // `proc` is parked at yield point `point` for `item`. Return true if the
  // fault disposed of the process (killed it) so it must not be resumed.
  virtual bool OnYield(FaultContext& ctx, const std::string& proc, std::string_view point,
                       std::string_view item) {
    (void)ctx, (void)proc, (void)point, (void)item;
    return false;
  }
  // Once every process of the run has stopped, before the run's end is
  // recorded: last evidence (a Landed call still counts), nothing running.
  virtual void Finish(FaultContext& ctx) { (void)ctx; }
  // > 0: the run's scratch directory must be a private tmpfs of that many
  // MiB, set up before the coordinator starts (disk_full needs a disk it can
  // fill, and nobody else's).
  virtual int64_t PrivateTmpfsMb() const { return 0; }
  // True: the run needs a collector (faultline sink) and the agents' span
  // export, whatever the scenario's "telemetry" says.
  virtual bool NeedsCollector() const { return false; }
  // True: the run needs the stub model API; every agent does its work
  // through it (SWARM_MODEL_ENDPOINT).
  virtual bool NeedsModel() const { return false; }
};

struct FaultKind {
  std::string name;
  std::string summary;     // mechanism, one line
  std::string stands_for;  // the failure mode it represents
  bool lockstep_only = false;
  std::vector<OptionSpec> options;
  // Options are resolved: every key of `options` present with a concrete value.
  std::function<std::unique_ptr<Fault>(const nlohmann::json& options)> make;
  // Acts on the reference coordinator's own files or tools, so it cannot be
  // used against an external SUT (a scenario with "sut").
  bool reference_only = false;
};

}  // namespace faultline
