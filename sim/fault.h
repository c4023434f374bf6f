// The fault plug-in interface (DESIGN §5, §12). One Fault object per entry of
// a scenario's "faults", created from resolved options; the engine calls it
// before any process starts, once they all have, when one of its timers
// fires, at every yield point of a controlled process, and at the end.
//
// A fault acts only through its FaultContext: run time, timers and its own
// random stream; the record of where it landed; and a small set of
// capabilities — the run's processes, their clocks, the run's endpoints and
// the coordination directory. Its FaultKind declares which capabilities it
// needs (capability:: bits); a run checks them against what its system under
// test offers. A fault records where and when it landed, and must leave
// nothing behind.
//
// Times are run microseconds: simulated in lockstep, monotonic since the run
// began in freerun. Process ids are the run's: agents "a0", "a1", ..., and
// "reaper".
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

// What a fault needs of a run, as bits (FaultKind::needs): each of the first
// four stands for one capability of FaultContext; the reference bits stand
// for what only the reference coordinator has. A fault uses no capability it
// does not declare (the fake context of tests/faults/ enforces it).
namespace capability {
inline constexpr unsigned kProcesses = 1u << 0;  // ProcessControl
inline constexpr unsigned kClocks = 1u << 1;     // ClockControl
inline constexpr unsigned kEndpoints = 1u << 2;  // EndpointControl
inline constexpr unsigned kDirectory = 1u << 3;  // CoordinationDirectory
// A run with a database server ("store": "postgres", docs/postgres.md): the
// network between the processes and the server, and the server itself.
inline constexpr unsigned kNetwork = 1u << 4;   // NetworkControl
inline constexpr unsigned kDatabase = 1u << 5;  // DatabaseControl
// The coordination state kept in files of the coordination directory (the
// shared-directory store, an external SUT's directory): what a fault of the
// file system acts on (I/O errors, a full disk, a power loss, a damaged state
// file, a crash between two writes of the file protocol). A run on a
// database server keeps its state there and does not offer it.
inline constexpr unsigned kStateFiles = 1u << 6;
// The reference coordinator's state files: their layout and their format.
inline constexpr unsigned kReferenceFiles = 1u << 8;
// The reference coordinator's tool (CoordinationDirectory::RunTool).
inline constexpr unsigned kReferenceTool = 1u << 9;
// The reference agents' flags or environment (`swarm agent`): what the fault
// gives them must be understood for it to act.
inline constexpr unsigned kReferenceAgents = 1u << 10;

// What a run offers, by its system under test (on the shared directory).
inline constexpr unsigned kExternalSut =
    kProcesses | kClocks | kEndpoints | kDirectory | kStateFiles;
inline constexpr unsigned kReferenceSut =
    kExternalSut | kReferenceFiles | kReferenceTool | kReferenceAgents;
inline constexpr unsigned kServerStore = kNetwork | kDatabase;

// What a run offers: `system`'s bits on the shared directory; on a database
// server ("store": "postgres") the network and the server instead of state
// files.
constexpr unsigned OnStore(unsigned system, bool server) {
  return server ? (system & ~kStateFiles) | kServerStore : system;
}

// The bits of `needs` that `offered` lacks; 0: the fault can run there.
constexpr unsigned Unmet(unsigned needs, unsigned offered) { return needs & ~offered; }
}  // namespace capability

// The run's processes (capability::kProcesses).
class ProcessControl {
 public:
  virtual ~ProcessControl() = default;
  // Ids of the run's processes of `role` ("agent" or "reaper"; "": all), in
  // the order the run set them up (the reference coordinator's: the reaper,
  // then a0, a1, ...). The same in every run of a scenario, dead or alive.
  virtual std::vector<std::string> List(std::string_view role) const = 0;
  virtual bool Alive(const std::string& proc) const = 0;
  // SIGKILLs a live process and waits for it; the trace records the exit as
  // caused by this fault's kind. False if it was not alive.
  virtual bool Kill(const std::string& proc) = 0;
  // SIGTERMs a live process and does not wait: it shuts down on its own (a
  // reference agent gives its item back) and its exit is recorded when it
  // happens. In lockstep it runs again only when scheduled, and the signal
  // has been delivered by then. False if it was not alive.
  virtual bool Terminate(const std::string& proc) = 0;
  // Starts a dead process again under the same id, with its launch settings.
  // Nothing if it is alive.
  virtual void Restart(const std::string& proc) = 0;
  // Holds a live process until run time `until`: lockstep, it is not
  // scheduled before then; freerun, SIGSTOP now and SIGCONT at `until`.
  virtual void Hold(const std::string& proc, int64_t until) = 0;

  // Launch settings, kept for every start of the process.
  // Only in Prepare: command-line arguments for an agent, appended to the
  // reference agent's (`swarm agent` flags); an external SUT's agents do not
  // get them.
  virtual void AddArgs(const std::string& agent, const std::vector<std::string>& args) = 0;
  // Only in Prepare: an environment variable; a later value for a key wins.
  virtual void AddEnv(const std::string& proc, const std::string& key,
                      const std::string& value) = 0;
  // RLIMIT_NOFILE of a process: in Prepare for its start (soft and hard);
  // later the soft limit of the live process (prlimit), and the limit of its
  // next start. False if there is no such process or prlimit failed.
  virtual bool LimitFiles(const std::string& proc, int limit) = 0;
};

// The clocks the run's processes read (capability::kClocks). In lockstep the
// simulator sends each process its own "now" and scales its sleeps; in
// freerun the process's control channel shifts the real clock
// (FAULTLINE_CLOCK_SKEW). Every change a fault makes to a process's clock
// goes through here.
//
// A process has two clocks: its wall clock (CLOCK_REALTIME, which an
// administrator or NTP may step) and its boot clock (CLOCK_BOOTTIME and
// CLOCK_MONOTONIC, which never step). A skew moves both (another host's
// oscillator); a step moves the wall clock only.
class ClockControl {
 public:
  virtual ~ClockControl() = default;
  // Only in Prepare: `proc`'s clock reads run time + offset_us, plus
  // drift_ppm µs per second since each of its starts; its sleeps last
  // accordingly. Both modes.
  virtual void Skew(const std::string& proc, int64_t offset_us, int64_t drift_ppm) = 0;
  // Only in Prepare: `proc`'s wall clock will be stepped during the run
  // (freerun: the process starts with the means to read a stepped wall
  // clock, see Step).
  virtual void Steppable(const std::string& proc) = 0;
  // Now: `proc`'s wall clock jumps by step_us (negative: back), on top of
  // earlier steps, for the rest of the run and across its restarts (the
  // host's clock stays stepped); its boot clock and its sleeps are not
  // affected. Lockstep: the "now" the simulator sends reads the stepped wall
  // clock, and the process is also sent the unstepped boot clock
  // (sim/protocol/control_protocol.h). Freerun: CLOCK_REALTIME as the
  // process reads it through libc (clock_gettime, gettimeofday, time) jumps.
  // False, and nothing changes, if `proc` was not made Steppable in Prepare
  // or there is no such process.
  virtual bool Step(const std::string& proc, int64_t step_us) = 0;
};

// The network endpoints a run serves its processes, switched by name.
enum class Endpoint {
  kCollector,  // the collector (faultline sink) the agents export spans to
  kModel,      // the stub model API (POST /v1/model, coordinator/model_client.h)
};
inline std::string_view Name(Endpoint endpoint) {
  return endpoint == Endpoint::kCollector ? "collector" : "model";
}

// The run's endpoints (capability::kEndpoints). An endpoint exists in a run
// only when a fault asks for it (Fault::NeedsCollector, NeedsModel) or, for
// the collector, when the scenario has telemetry.
class EndpointControl {
 public:
  virtual ~EndpointControl() = default;
  // Switches `endpoint` to `mode`: up, 503, blackhole, or down (killed; a
  // later mode restarts it on the same port), acknowledged before this
  // returns. Lockstep: every controlled process is parked, so no request is
  // in flight. False, and the run ends as a harness error, if the run has no
  // such endpoint or it did not answer.
  virtual bool Switch(Endpoint endpoint, CollectorMode mode) = 0;
};

// The coordination directory and the run's scratch space
// (capability::kDirectory, and the reference bits where said).
class CoordinationDirectory {
 public:
  virtual ~CoordinationDirectory() = default;
  // The coordination directory's path (never written to the trace).
  virtual std::string Path() const = 0;
  // The run's scratch directory (the coordination directory is inside it;
  // with a private tmpfs, it is that file system).
  virtual std::string ScratchDir() const = 0;
  // Writes `content` to a file of the scratch directory whose name contains
  // `name` and is this fault's own; returns its path.
  virtual std::string WriteScratchFile(const std::string& name, const std::string& content) = 0;
  // The coordinator settings of the run (schema_version, lease_ms,
  // heartbeat_ms, reap_interval_ms, agent_timeout_ms, max_attempts,
  // clock_skew_ms).
  virtual nlohmann::json Settings() const = 0;
  // capability::kReferenceFiles: the fingerprint in cluster.json now.
  virtual std::string Fingerprint() const = 0;
  // capability::kReferenceTool: runs the reference coordinator's tool with
  // `args` to completion (e.g. {"configure", Path(), "--set",
  // "lease_ms=9000"}). False, with the tool's first line of output in
  // `error`, if it failed.
  virtual bool RunTool(const std::vector<std::string>& args, std::string* error) = 0;
  // Records a state check now (a `state_check` event: every state file read
  // as a recovering process would), as after every kill: for a fault that
  // changed the directory behind the processes' backs.
  virtual void CheckState() = 0;
};

// How a process's link to the database server is (NetworkControl::SetLink).
enum class Link {
  kUp,
  kBlackhole,  // nothing passes either way, held as a partitioned network holds it
  kReset,      // every connection reset; new ones refused while it lasts
};
inline std::string_view Name(Link link) {
  return link == Link::kUp ? "up" : link == Link::kBlackhole ? "blackhole" : "reset";
}

// The network between the run's processes and its database server
// (capability::kNetwork; docs/postgres.md): each process ("a0", "reaper")
// reaches the server through a relay of the harness. Every change is in
// force when the call returns. Unknown processes are ignored.
class NetworkControl {
 public:
  virtual ~NetworkControl() = default;
  // `proc`'s link from now on. Blackhole: what the process sends and what
  // the server answers is held (and delivered when the link is up again); a
  // process that waits on a held request longer than the relay's hang time
  // (wall clock) has its connection reset, as its TCP timeout would.
  virtual void SetLink(const std::string& proc, Link link) = 0;
  // Resets `proc`'s open connections now; how many there were.
  virtual int ResetConnections(const std::string& proc) = 0;
  // Freerun: each chunk `proc` sends is delayed up_us, each it receives
  // down_us, plus a uniform draw of jitter_us from the fault's stream; order
  // kept. Lockstep: each round trip of `proc` costs up_us + down_us + a
  // jitter draw of simulated time, added to its next sleep (its events keep
  // their order). Zeros: back to normal.
  virtual void SetLatency(const std::string& proc, int64_t up_us, int64_t down_us,
                          int64_t jitter_us) = 0;
  // Round trips `proc` has begun so far (requests sent after an answer),
  // also those held or refused; the same in every lockstep run.
  virtual uint64_t RoundTrips(const std::string& proc) const = 0;
  // Connections `proc` has opened so far (also refused ones).
  virtual uint64_t ConnectionsOpened(const std::string& proc) const = 0;
  // From now on at most `max` connections of the processes in `procs` are
  // open at once, as in a full pool or a server at max_connections: a new
  // one beyond that is answered "FATAL: sorry, too many clients already"
  // (SQLSTATE 53300) and closed. Only their connections count; connections
  // open now stay open. max < 0: no limit. In lockstep the answer depends
  // only on which processes hold connections (sim/net_relay.h).
  virtual void LimitConnections(const std::vector<std::string>& procs, int max) = 0;
  // Connections of `proc` the limit has refused so far.
  virtual uint64_t LimitRefusals(const std::string& proc) const = 0;
};

// The run's database server (capability::kDatabase).
class DatabaseControl {
 public:
  virtual ~DatabaseControl() = default;
  // The server crashes: every server process SIGKILLed at once, every
  // client connection reset. It stays down until Start. False with `error`
  // if it was not running.
  virtual bool Crash(std::string* error) = 0;
  // A clean shutdown (clients disconnected, checkpoint written). Stays down
  // until Start.
  virtual bool Shutdown(std::string* error) = 0;
  // Starts the server again (after a crash, crash recovery) and waits until
  // it accepts connections; the microseconds of wall time that took in
  // `*took_us`. False with `error` if it did not come up.
  virtual bool Start(int64_t* took_us, std::string* error) = 0;
  virtual bool Running() const = 0;
};

// What the engine offers one fault. Run time, timers, the random stream and
// recording are always there; each capability only for a fault whose kind
// declares it.
class FaultContext {
 public:
  virtual ~FaultContext() = default;

  // --- run time ---
  virtual int64_t Now() const = 0;
  virtual bool Lockstep() const = 0;
  // This fault's own random stream (split from the run seed by its index and
  // kind): the same draws in the same order give the same run.
  virtual Rng& rng() = 0;
  // Calls the fault's OnTimer(tag) at run time `at`; timers due at the same
  // time fire in the order they were set.
  virtual void SetTimer(int64_t at, int tag) = 0;

  // --- recording ---
  // Records in the trace that the fault landed: a "fault" event with the
  // kind, the fault's index and `details`. A fault that never calls this
  // makes the run vacuous.
  virtual void Landed(const nlohmann::json& details) = 0;
  // Only in Prepare: the fault cannot be set up here (a missing helper, an
  // unsupported host). No process starts; the run ends as a harness error
  // (exit 3) that says `why`.
  virtual void SetupFailed(const std::string& why) = 0;

  // --- capabilities ---
  virtual ProcessControl& processes() = 0;
  virtual ClockControl& clocks() = 0;
  virtual EndpointControl& endpoints() = 0;
  virtual CoordinationDirectory& directory() = 0;
  virtual NetworkControl& network() = 0;
  virtual DatabaseControl& database() = 0;
};

class Fault {
 public:
  virtual ~Fault() = default;
  // Before any process of the run starts (launch settings).
  virtual void Prepare(FaultContext& ctx) { (void)ctx; }
  // Once every process has started.
  virtual void Start(FaultContext& ctx) = 0;
  virtual void OnTimer(FaultContext& ctx, int tag) { (void)ctx, (void)tag; }
  // `proc` is parked at yield point `point` for `item`. Return true if the
  // fault disposed of the process (killed it, or held it with
  // ProcessControl::Hold) so it must not be resumed now.
  virtual bool OnYield(FaultContext& ctx, const std::string& proc, std::string_view point,
                       std::string_view item) {
    (void)ctx, (void)proc, (void)point, (void)item;
    return false;
  }
  // Lockstep: `proc` died during its own step (its control channel closed
  // while it ran) and no fault had killed it; called before the engine
  // records the exit. A fault whose mechanism runs inside the processes
  // (power_loss's layer ends the process that makes the n-th call) owns such
  // a death: it kills `proc` through its ProcessControl, which records the
  // exit as this fault's doing, and returns true. Otherwise the exit is
  // recorded as the process's own (a crash, unless it exited 0).
  virtual bool OnDied(FaultContext& ctx, const std::string& proc) {
    (void)ctx, (void)proc;
    return false;
  }
  // Once every process of the run has stopped, before the run's end is
  // recorded: last evidence (a Landed call still counts), nothing running.
  virtual void Finish(FaultContext& ctx) { (void)ctx; }

  // What the run must set up for this fault, asked before anything starts.
  // > 0: the run's scratch directory must be a private tmpfs of that many
  // MiB (disk_full needs a disk it can fill, and nobody else's).
  virtual int64_t PrivateTmpfsMb() const { return 0; }
  // True: the run needs a collector (Endpoint::kCollector) and the agents'
  // span export, whatever the scenario's "telemetry" says.
  virtual bool NeedsCollector() const { return false; }
  // True: the run needs the stub model API (Endpoint::kModel); every agent
  // does its work through it (SWARM_MODEL_ENDPOINT).
  virtual bool NeedsModel() const { return false; }
};

// One kind of fault: declared in its own file (faults/<name>.cc), listed in
// faults/registry.cc.
struct FaultKind {
  std::string name;
  std::string summary;     // mechanism, one line
  std::string stands_for;  // the failure mode it represents
  bool lockstep_only = false;
  std::vector<OptionSpec> options;
  // Options are resolved: every key of `options` present with a concrete value.
  std::function<std::unique_ptr<Fault>(const nlohmann::json& options)> make;
  // capability:: bits. A scenario that runs the fault against a system under
  // test, or on a store, that does not offer them all is rejected when it is
  // loaded.
  unsigned needs = 0;
  // Optional: what one fault of the kind needs beyond `needs`, from its
  // options as the scenario writes them (crash_at at a step only the
  // shared-directory store has needs kStateFiles). Checked like `needs`.
  std::function<unsigned(const nlohmann::json& options)> option_needs = nullptr;
};

// Everything `kind` needs for the fault `options` (a scenario's "faults" entry).
inline unsigned NeedsOf(const FaultKind& kind, const nlohmann::json& options) {
  return kind.needs | (kind.option_needs ? kind.option_needs(options) : 0u);
}

}  // namespace faultline
