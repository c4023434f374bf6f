// The engine's parts, shared by the files that implement it (sim/engine.h is
// its API): engine.cc (set-up, the run from start to end), engine_processes.cc
// (the process table: spawn, exit, kill, restart, hold, resource samples),
// lockstep_loop.cc, freerun_loop.cc, engine_endpoints.cc (collector and stub
// model) and fault_context.cc (what a fault reaches). Not an API: nothing
// outside those files includes it.
#pragma once

#include <time.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/monotonic_clock.h"
#include "sim/control_connection.h"
#include "sim/endpoints.h"
#include "sim/engine.h"
#include "sim/fault.h"
#include "sim/interposed_processes.h"
#include "sim/livelock_watch.h"
#include "sim/lockstep_cpu.h"
#include "sim/net_relay.h"
#include "sim/pg_server.h"
#include "sim/process_set.h"
#include "sim/resource_log.h"
#include "sim/rng.h"
#include "sim/settings.h"
#include "sim/sut.h"

namespace faultline::engine_detail {

// The simulated clock starts at 1 s, so that no time a process reads is 0
// (which the coordinator uses for "never").
constexpr int64_t kSimEpochUs = 1'000'000;
constexpr uint64_t kSnapshotEverySteps = 64;
constexpr int64_t kFreerunSnapshotUs = 50'000;

// What an external SUT's commands read as {now_ms} / {now_us} in freerun.
inline int64_t RealtimeMicros() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

// Freerun: the step page of one process's wall clock, mapped shared (the
// file lives in the run's scratch directory).
class StepPage {
 public:
  // Creates `path` holding a step of 0 and maps it; nullptr, with `error`
  // set, if that fails.
  static std::shared_ptr<StepPage> Create(const std::string& path, std::string* error);
  ~StepPage();
  StepPage(const StepPage&) = delete;
  StepPage& operator=(const StepPage&) = delete;
  const std::string& path() const { return path_; }
  void Store(int64_t step_us);

 private:
  StepPage(std::string path, int64_t* word) : path_(std::move(path)), word_(word) {}
  std::string path_;
  int64_t* word_;
};

// One process of the system under test (SutProcessSpec), as the engine runs
// it across starts.
struct Proc {
  std::string id;
  std::string role;  // "agent" | "reaper"
  std::vector<std::string> argv;
  pid_t pid = -1;
  bool alive = false;
  std::unique_ptr<ControlConnection> conn;
  Parked parked;
  int64_t wake_at = 0;        // lockstep, parked in a sleep: runnable from then
  int64_t stalled_until = 0;  // lockstep: not scheduled before then
  int nofile_limit = 0;       // RLIMIT_NOFILE at start (0: inherited)
  std::string cwd;            // "" : the harness's (external SUTs have their own)
  std::vector<std::pair<std::string, std::string>> env;  // set by faults in Prepare
  // clock_skew: the process's clock runs this far ahead, drifting from its start.
  int64_t skew_offset_us = 0;
  int64_t skew_drift_ppm = 0;
  // clock_step: the wall clock reads this much further than the boot clock
  // (the sum of the steps so far). Steppable: freerun keeps the sum in a step
  // page the process maps (sim/protocol/wall_clock_step.h).
  int64_t wall_step_us = 0;
  bool steppable = false;
  std::shared_ptr<StepPage> step_page;  // freerun, steppable only
  int64_t started_at = 0;  // run time of the latest start
  int64_t sleeps = 0;      // sleeps parked in since the latest start (resources.jsonl)
  UsageReader usage;       // its /proc file kept open for the samples

  bool skewed() const { return skew_offset_us != 0 || skew_drift_ppm != 0; }
  // What the process's clock reads at absolute simulated time `now`.
  int64_t ClockAt(int64_t now, int64_t run_time) const {
    return now + skew_offset_us + skew_drift_ppm * (run_time - started_at) / 1'000'000;
  }
  // How much simulated time a sleep of `us` on the process's clock takes.
  int64_t SleepSpan(int64_t us) const {
    return skew_drift_ppm == 0 ? us : us * 1'000'000 / (1'000'000 + skew_drift_ppm);
  }
  int starts = 0;
  // network_latency in lockstep (engine_database.cc): each round trip to the
  // database costs latency_us + a draw of up to jitter_us of simulated time,
  // paid by lengthening the process's next sleep.
  int64_t latency_us = 0;
  int64_t jitter_us = 0;
  Rng latency_rng{0};
  uint64_t trips_seen = 0;
  int64_t owed_us = 0;
  // Work arrivals: a submitter's item count and start time (run time, µs).
  int64_t arrival_items = 0;
  int64_t arrival_at = 0;
  // Whether the latest start ended with exit code 0 (not killed, not failed),
  // and when that start was, in the engine's order of starts and submission
  // ends (Engine::lifecycle_).
  bool clean_exit = false;
  uint64_t start_order = 0;
  // "interleave": "syscalls": the interposed root of the command it runs
  // (parked kCommand), "" when none (engine_interposed.cc).
  std::string command;
  int64_t command_deadline = -1;  // when it times out (absolute simulated µs), -1 never
  int64_t command_steps = 0;      // interposed steps its processes took
  bool command_timed_out = false; // ended at its timeout: its next go says so
};

// A fault timer or a freerun SIGCONT, ordered by time, then by when it was set.
struct Timer {
  int64_t at;  // run time
  uint64_t order;
  std::function<void()> fire;
  bool operator>(const Timer& o) const { return at != o.at ? at > o.at : order > o.order; }
};

struct BufferedEvent {  // freerun: sorted by time before it is written
  int64_t t;
  uint64_t arrival;
  std::string proc;
  nlohmann::json event;
};

class Engine;

// The FaultContext of one fault: the engine's operations plus the fault's
// own index and random stream. It is itself each of the capabilities it
// hands out (the engine offers a fault all of them; the kind's declared
// needs are checked when the scenario is loaded).
class FaultCtx final : public FaultContext,
                       ProcessControl,
                       ClockControl,
                       EndpointControl,
                       CoordinationDirectory,
                       NetworkControl,
                       DatabaseControl {
 public:
  FaultCtx(Engine* engine, int index, std::string kind, Rng rng)
      : engine_(engine), index_(index), kind_(std::move(kind)), rng_(rng) {}
  int64_t Now() const override;
  bool Lockstep() const override;
  Rng& rng() override { return rng_; }
  void SetTimer(int64_t at, int tag) override;
  void Landed(const nlohmann::json& details) override;
  void SetupFailed(const std::string& why) override;
  ProcessControl& processes() override { return *this; }
  ClockControl& clocks() override { return *this; }
  EndpointControl& endpoints() override { return *this; }
  CoordinationDirectory& directory() override { return *this; }
  NetworkControl& network() override { return *this; }
  DatabaseControl& database() override { return *this; }

  std::vector<std::string> List(std::string_view role) const override;
  bool Alive(const std::string& proc) const override;
  bool Kill(const std::string& proc) override;
  bool Terminate(const std::string& proc) override;
  void Restart(const std::string& proc) override;
  void Hold(const std::string& proc, int64_t until) override;
  void AddArgs(const std::string& agent, const std::vector<std::string>& args) override;
  void AddEnv(const std::string& proc, const std::string& key, const std::string& value) override;
  bool LimitFiles(const std::string& proc, int limit) override;

  void Skew(const std::string& proc, int64_t offset_us, int64_t drift_ppm) override;
  void Steppable(const std::string& proc) override;
  bool Step(const std::string& proc, int64_t step_us) override;

  bool Switch(Endpoint endpoint, CollectorMode mode) override;

  std::string Path() const override;
  std::string ScratchDir() const override;
  std::string WriteScratchFile(const std::string& name, const std::string& content) override;
  nlohmann::json Settings() const override;
  std::string Fingerprint() const override;
  bool RunTool(const std::vector<std::string>& args, std::string* error) override;
  void CheckState() override;

  void SetLink(const std::string& proc, Link link) override;
  int ResetConnections(const std::string& proc) override;
  void SetLatency(const std::string& proc, int64_t up_us, int64_t down_us,
                  int64_t jitter_us) override;
  uint64_t RoundTrips(const std::string& proc) const override;
  uint64_t ConnectionsOpened(const std::string& proc) const override;
  bool Crash(std::string* error) override;
  bool Shutdown(std::string* error) override;
  bool Start(int64_t* took_us, std::string* error) override;
  bool Running() const override;

 private:
  Engine* engine_;
  int index_;
  std::string kind_;
  Rng rng_;
};

class Engine {
 public:
  Engine(const ResolvedScenario& s, const Catalog& catalog, const EngineOptions& o,
         TraceWriter* trace)
      : s_(s), catalog_(catalog), o_(o), trace_(trace), lockstep_(s.mode == Mode::kLockstep),
        sut_(o.sut), host_(this),
        endpoints_(&processes_, o.sink_command, o.log_dir, s.step_timeout_ms) {}

  EngineResult Run();

  // --- operations offered to faults (through FaultCtx) ---
  int64_t T() const {
    return lockstep_ ? now_ - kSimEpochUs : base::MonotonicMicros() - start_mono_;
  }
  bool lockstep() const { return lockstep_; }
  void AddTimer(int64_t at, std::function<void()> fire) {
    timers_.push(Timer{at, timer_order_++, std::move(fire)});
  }
  // Ids of the processes of `role` ("": all), in set-up order.
  std::vector<std::string> ProcIds(std::string_view role) const {
    std::vector<std::string> ids;
    for (const Proc& p : procs_) {
      if (role.empty() || p.role == role) ids.push_back(p.id);
    }
    return ids;
  }
  Proc* Find(const std::string& id) {
    for (Proc& p : procs_) {
      if (p.id == id) return &p;
    }
    return nullptr;
  }
  bool IsAlive(const std::string& id) const {
    for (const Proc& p : procs_) {
      if (p.id == id) return p.alive;
    }
    return false;
  }
  bool Kill(const std::string& id, const std::string& by);
  bool Terminate(const std::string& id);
  void Restart(const std::string& id);
  void Stall(const std::string& id, int64_t until);
  void FaultLanded(int index, const std::string& kind, const nlohmann::json& details);
  void FaultSetupFailed(const std::string& why) {
    if (result_.error.empty()) result_.error = why;
  }
  const std::string& coord() const { return coord_; }
  bool external_sut() const {
    return capability::Unmet(capability::kReferenceAgents, sut_->Offers()) != 0;
  }
  const std::string& scratch() const { return o_.work_dir; }
  // The cluster configuration: every coordinator setting of the table.
  nlohmann::json Settings() const {
    nlohmann::json settings = GroupJson(s_, SettingGroup::kCoordinator);
    settings["schema_version"] = 1;
    return settings;
  }
  std::string ClusterFingerprint() const;
  bool RunTool(const std::vector<std::string>& args, std::string* error);
  std::string WriteScratch(const std::string& name, const std::string& content);
  // A state_check event now (after every kill, at the end, and for a fault).
  void StateCheck();
  bool LimitFiles(const std::string& id, int limit);
  // clock_step (sim/engine_wall_clock.cc): ClockControl::Steppable, Step.
  void MakeSteppable(const std::string& id);
  bool StepWall(const std::string& id, int64_t step_us);
  bool SetCollectorMode(CollectorMode mode);
  bool SetModelMode(CollectorMode mode);
  // --- the database server and the relay ("store": "postgres";
  // engine_database.cc) ---
  // Null when the run has no database server.
  NetRelay* relay() { return relay_; }
  PgServer* db() { return db_.get(); }
  // Lockstep, before every decision that lets a process run or reads the
  // state: the server has ended every connection whose process is gone
  // (NetRelay::Settle). False, the run ending as a harness error, if it did
  // not within step_timeout_ms.
  bool SettleDatabase();
  // Every client connection reset, then the server crashed or shut down.
  bool CrashDatabase(bool clean, std::string* error);
  bool StartDatabase(int64_t* took_us, std::string* error);
  // Lockstep network_latency: from now on `id`'s round trips cost simulated
  // time (Proc::latency_us); zeros end it.
  void SetLockstepLatency(const std::string& id, int64_t latency_us, int64_t jitter_us, Rng rng);
  // After a step of `p`: the delay its new round trips owe, added to its
  // sleep if it parked in one.
  void ChargeLatency(Proc& p);
  std::unique_ptr<Fault>& fault(int i) { return faults_[static_cast<size_t>(i)]; }
  FaultCtx& ctx(int i) { return *ctxs_[static_cast<size_t>(i)]; }

 private:
  // The system under test sets its directory up and names its processes.
  bool Setup();
  // "store": "postgres": the server (from the template cache) and the relay
  // with the tools' port, before the Sut prepares its directory.
  bool SetUpDatabase();
  // Each process's port on the relay, in its environment (PGHOST, PGPORT,
  // PGUSER, PGDATABASE).
  bool ConnectProcesses();
  // The end: the relay stops and the server is killed (its data directory
  // goes with the scratch directory).
  void TearDownDatabase();
  // Telemetry (docs/telemetry.md): on when the scenario asks for it or a
  // fault needs the collector. StartCollector starts the sink and sets the
  // processes' environment (the Sut's CollectorEnv).
  bool TelemetryWanted() const;
  bool StartCollector();
  // The stub model API (a second sink, coordinator/model_client.h): on when
  // a fault needs it; its endpoint goes to every agent (the Sut's ModelEnv).
  bool ModelWanted() const;
  bool StartModel();
  // The endpoints' end: what the collector received and the spools still hold.
  void EndpointsEnd();
  bool Spawn(Proc& p);
  // Lockstep with "own_state": "pass": the points of protocol::point::kOwnState
  // the run's processes pass without parking, those no fault of the scenario
  // names in its options; empty otherwise (docs/determinism.md).
  std::vector<std::string> PassedPoints() const;
  // --- work arrivals (engine_arrivals.cc) ---
  // Setup: one process per submitter of "work"/"arrivals", not started yet.
  bool SetupArrivals();
  // Start: a timer per submitter that starts it at its arrival time.
  void StartArrivals();
  // A submitter's start ended (exit or kill): agents that went idle before it
  // are started again.
  void OnSubmitterEnd();
  // Starts again every agent that exited 0 (idle) before the latest
  // submission ended, so that no arrived item waits for an agent that is
  // gone; returns how many. Nothing in a run without arrivals.
  int WakeIdleAgents();
  // Whether `p` keeps the run going: an agent, or a submitter.
  static bool Working(const Proc& p) { return p.role == "agent" || p.role == "submitter"; }
  // Freerun: what a steppable process's environment gets (the wall clock
  // library before the LD_PRELOAD it would have, and its step page).
  void AddWallClockEnv(const Proc& p, std::vector<std::pair<std::string, std::string>>* env) const;
  // Lockstep: waits until a started process parks at its hello.
  bool AwaitHello(Proc& p);
  void Emit(const std::string& proc, nlohmann::json event, int64_t t);
  void CountProbe(const std::string& name, bool hit) {
    ProbeCount& c = result_.probes[name];
    ++c.reached;
    c.hits += hit;
  }
  void Emit(const std::string& proc, nlohmann::json event) { Emit(proc, std::move(event), T()); }
  void OnExit(Proc& p, const ExitStatus& status);
  // `p`'s control channel reached end of file: it exited (OnExit), or it
  // closed the channel, or its write side, and runs on uncontrolled: a
  // harness error naming it, after step_timeout_ms, and it is killed.
  void OnClosed(Proc& p);
  // Lockstep: offers a death in `p`'s own step to the faults (Fault::OnDied);
  // true if one recorded it.
  bool OfferDeath(Proc& p);
  // Resource measurement (resources.jsonl, never the trace): what `p` uses
  // now, and its final figures once reaped.
  void SampleUsage(Proc& p);
  void SampleExit(const Proc& p, const ExitStatus& status);
  void DrainDead(Proc& p);
  void Snapshot();
  void FireDueTimers();
  EngineResult::End LockstepLoop();
  EngineResult::End FreerunLoop();
  bool Step(Proc& p);
  // Counts a step for the run's CPU placement (lockstep_cpu.h), which moves
  // the live processes of RunProcesses().
  void AfterStepPlacement();
  LockstepCpu::ForEachProcess RunProcesses();
  bool Collides(const Proc& p) const;
  std::string DeadlockReport() const;
  // A stop point (sim/stop_controller.h; engine_stop.cc): hands the stop
  // controller, if any, the state between two decisions. `next` is the
  // scheduler's pick (an index into procs_, then into the interposed
  // processes, as the lockstep loop numbers them), kNoPick once the loop has
  // ended. Returns the wall microseconds the controller held the run.
  static constexpr size_t kNoPick = SIZE_MAX;
  int64_t StopPoint(size_t next);
  void AddInterposedStops(size_t next, StopView* view) const;
  void StopAll();
  // --- lockstep inside the SUT's commands (engine_interposed.cc) ---
  // Setup: listens for the interposed processes and gives the adapters the
  // library and the socket. True without doing anything when the SUT runs
  // its commands whole.
  bool StartInterposition();
  // `p` parked saying "spawned": takes the command under control.
  bool AdoptCommand(Proc& p);
  // Whether `p`, parked kCommand, still has a live process in its command.
  bool CommandRunning(const Proc& p) const;
  // Appends the runnable interposed processes to `runnable`, as indices
  // procs_.size() + their creation order.
  void AddInterposedRunnable(std::vector<size_t>* runnable);
  // Offers the faults the interposed process `index` parks at, then steps
  // it. False on a harness error.
  bool StepInterposed(size_t index);
  // "a0/1.2" and the like: an interposed process's id (its adapter's id and
  // its name).
  bool IsInterposedId(const std::string& id) const { return id.find('/') != std::string::npos; }
  // crash_at inside a command: kills the command `id` belongs to, all of it.
  bool KillInterposed(const std::string& id, const std::string& by);
  // Kills what is left of `p`'s command, every live process of it where it
  // is parked (a sys_kill event each).
  void KillCommand(Proc& p, const std::string& by);
  // Ends every command past its timeout in simulated time, or past
  // limits.livelock_steps steps (its adapter then hears "timed_out").
  // False on a harness error.
  bool TimeOutCommands();
  // The earliest wake-up of an interposed process or command deadline; -1
  // if none.
  int64_t NextInterposedWake() const;
  std::string InterposedReport() const;
  std::string InterposedId(const std::string& name) const;
  std::string InterposedAt(const std::string& name) const;
  void RunEnd(EngineResult::End end);
  void ShowProgress(bool final_line);
  void CloseControl(Proc& p) {
    p.conn.reset();
    processes_.CloseControl(p.pid);
  }
  bool Fail(std::string error) {
    result_.error = std::move(error);
    return false;
  }
  bool Interrupted() const { return o_.interrupted && o_.interrupted->load(); }

  const ResolvedScenario& s_;
  const Catalog& catalog_;
  const EngineOptions& o_;
  TraceWriter* trace_;
  const bool lockstep_;
  std::string coord_;
  ProcessSet processes_;
  Sut* const sut_;  // not owned
  // What the Sut may ask of the engine (below).
  class Host final : public SutHost {
   public:
    explicit Host(Engine* engine) : e_(engine) {}
    int64_t SutClock() const override { return e_->lockstep_ ? e_->now_ : RealtimeMicros(); }
    void Emit(nlohmann::json event) override { e_->Emit("sim", std::move(event)); }
    bool RunProgram(const std::vector<std::string>& argv, const std::string& log_path,
                    ExitStatus* status, std::string* error) override;
    uint64_t AgentSeed(const std::string& id) const override {
      return Rng(e_->s_.seed).Split("agents/" + id).Next();
    }
    nlohmann::json Settings() const override { return e_->Settings(); }

   private:
    Engine* e_;
  } host_;
  std::vector<Proc> procs_;
  // Lockstep: where the run's processes run (lockstep_cpu.h); set while they do.
  std::optional<LockstepCpu> cpu_;
  Endpoints endpoints_;
  std::vector<std::pair<std::string, std::string>> model_env_;  // agents only
  // Telemetry settings every controlled process starts with (before the
  // faults' own variables, which win).
  std::vector<std::pair<std::string, std::string>> telemetry_env_ = {
      {"OTEL_SDK_DISABLED", "true"}};
  std::vector<std::unique_ptr<Fault>> faults_;
  std::vector<std::unique_ptr<FaultCtx>> ctxs_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  uint64_t timer_order_ = 0;
  int64_t now_ = kSimEpochUs;   // lockstep: absolute simulated microseconds
  int64_t start_mono_ = 0;
  int64_t last_snapshot_ = 0;
  int64_t last_progress_mono_ = 0;
  int completed_items_ = 0;
  // Events the processes sent; beyond limits.process_events the run ends as a
  // harness error (a flood would fill the disk and the checkers' memory).
  uint64_t process_events_ = 0;
  std::vector<BufferedEvent> buffered_;  // freerun
  uint64_t arrivals_ = 0;
  // Work arrivals: the order of starts and submission ends (Proc::start_order),
  // and the order of the latest submission's end (0: none yet).
  uint64_t lifecycle_ = 0;
  uint64_t last_submission_end_ = 0;
  std::string wall_clock_library_;  // freerun, once a process is steppable
  EngineResult result_;
  std::unique_ptr<InterposedProcesses> interposed_;  // "interleave": "syscalls" only
  std::map<std::string, size_t> command_owner_;      // interposed root -> index in procs_
  std::vector<std::string> interposed_names_;        // creation order: index - procs_.size()
  LivelockWatch livelock_{s_.livelock_steps};  // lockstep
  std::unique_ptr<PgServer> db_;    // "store": "postgres" only
  std::unique_ptr<NetRelay> own_relay_;  // when EngineOptions gave none
  NetRelay* relay_ = nullptr;            // in front of db_
  std::vector<std::pair<std::string, std::string>> tool_env_;  // programs the harness runs
};

}  // namespace faultline::engine_detail
