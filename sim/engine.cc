#include "sim/engine.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <optional>
#include <queue>

#include "base/monotonic_clock.h"
#include "sim/control_connection.h"
#include "sim/process_set.h"
#include "sim/protocol/control_protocol.h"
#include "sim/scheduler.h"
#include "sim/skills.h"
#include "sim/sut/external_sut.h"
#include "sim/sink_process.h"

namespace faultline {
namespace {

namespace stdfs = std::filesystem;

// The simulated clock starts at 1 s, so that no time a process reads is 0
// (which the coordinator uses for "never").
constexpr int64_t kSimEpochUs = 1'000'000;
constexpr uint64_t kSnapshotEverySteps = 64;
constexpr int64_t kFreerunSnapshotUs = 50'000;

size_t CountEntries(const std::string& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = stdfs::directory_iterator(dir, ec); !ec && it != stdfs::directory_iterator();
       it.increment(ec)) {
    ++n;
  }
  return n;
}

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
  int64_t started_at = 0;  // run time of the latest start
  int64_t sleeps = 0;      // sleeps parked in since the latest start (resources.jsonl)
  std::optional<std::vector<std::string>> skills;  // agents of a scenario with skills

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
};

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
                       CoordinationDirectory {
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

  std::vector<std::string> List(std::string_view role) const override;
  bool Alive(const std::string& proc) const override;
  bool Kill(const std::string& proc) override;
  void Restart(const std::string& proc) override;
  void Hold(const std::string& proc, int64_t until) override;
  void AddArgs(const std::string& agent, const std::vector<std::string>& args) override;
  void AddEnv(const std::string& proc, const std::string& key, const std::string& value) override;
  bool LimitFiles(const std::string& proc, int limit) override;

  void Skew(const std::string& proc, int64_t offset_us, int64_t drift_ppm) override;

  bool Switch(Endpoint endpoint, CollectorMode mode) override;

  std::string Path() const override;
  std::string ScratchDir() const override;
  std::string WriteScratchFile(const std::string& name, const std::string& content) override;
  nlohmann::json Settings() const override;
  std::string Fingerprint() const override;
  bool RunTool(const std::vector<std::string>& args, std::string* error) override;

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
      : s_(s), catalog_(catalog), o_(o), trace_(trace), lockstep_(s.mode == Mode::kLockstep) {}

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
  void Restart(const std::string& id);
  void Stall(const std::string& id, int64_t until);
  void FaultLanded(int index, const std::string& kind, const nlohmann::json& details);
  void FaultSetupFailed(const std::string& why) {
    if (result_.error.empty()) result_.error = why;
  }
  const std::string& coord() const { return coord_; }
  bool external_sut() const { return sut_ != nullptr; }
  const std::string& scratch() const { return o_.work_dir; }
  nlohmann::json Settings() const {
    return {{"schema_version", 1},
            {"lease_ms", s_.lease_ms},
            {"heartbeat_ms", s_.heartbeat_ms},
            {"reap_interval_ms", s_.reap_interval_ms},
            {"agent_timeout_ms", s_.agent_timeout_ms},
            {"max_attempts", s_.max_attempts},
            {"clock_skew_ms", s_.clock_skew_ms}};
  }
  std::string ClusterFingerprint() const;
  bool RunTool(const std::vector<std::string>& args, std::string* error);
  std::string WriteScratch(const std::string& name, const std::string& content);
  bool LimitFiles(const std::string& id, int limit);
  bool SetCollectorMode(CollectorMode mode);
  bool SetModelMode(CollectorMode mode);
  std::unique_ptr<Fault>& fault(int i) { return faults_[static_cast<size_t>(i)]; }
  FaultCtx& ctx(int i) { return *ctxs_[static_cast<size_t>(i)]; }

 private:
  bool Setup();
  // Setup for an external system under test (sim/sut/external_sut.h).
  bool SetupSut();
  // Telemetry (docs/telemetry.md): on when the scenario asks for it or a
  // fault needs the collector. StartCollector starts the sink and sets the
  // agents' OTEL_* environment; CollectorEnd records what the sink received
  // and what the spools still hold.
  bool TelemetryWanted() const;
  bool StartCollector();
  void CollectorEnd();
  // The stub model API (a second sink, coordinator/model_client.h): on when
  // a fault needs it; its endpoint goes to every agent (SWARM_MODEL_ENDPOINT).
  bool ModelWanted() const;
  bool StartModel();
  bool RunSwarm(const std::vector<std::string>& args, const std::string& log);
  // swarm submit of the scenario's items: one call, or with skills
  // (sim/skills.h) one call per skill over a file of ids.
  bool SubmitItems();
  // Each agent's skills by id, for run_start (scenarios with skills).
  nlohmann::json AgentSkillMap() const {
    std::map<std::string, std::vector<std::string>> by_agent;
    for (const Proc& p : procs_) {
      if (p.skills) by_agent[p.id] = *p.skills;
    }
    return by_agent;
  }
  bool Spawn(Proc& p);
  // Lockstep: waits until a started process parks at its hello.
  bool AwaitHello(Proc& p);
  void Emit(const std::string& proc, nlohmann::json event, int64_t t);
  void Emit(const std::string& proc, nlohmann::json event) { Emit(proc, std::move(event), T()); }
  void OnExit(Proc& p, const ExitStatus& status);
  // Resource measurement (resources.jsonl, never the trace): what `p` uses
  // now, and its final figures once reaped.
  void SampleUsage(const Proc& p);
  void SampleExit(const Proc& p, const ExitStatus& status);
  void DrainDead(Proc& p);
  void Snapshot();
  void StateCheck();
  void FireDueTimers();
  EngineResult::End LockstepLoop();
  EngineResult::End FreerunLoop();
  bool Step(Proc& p);
  std::string DeadlockReport() const;
  void StopAll();
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
  std::unique_ptr<sut::ExternalSut> sut_;  // null: the reference coordinator
  // The clock an external SUT's commands read: simulated in lockstep.
  int64_t SutNow() const { return lockstep_ ? now_ : sut::RealtimeMicros(); }
  std::vector<Proc> procs_;
  std::unique_ptr<SinkProcess> sink_;
  std::unique_ptr<SinkProcess> model_;
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
  std::vector<BufferedEvent> buffered_;  // freerun
  uint64_t arrivals_ = 0;
  int tool_runs_ = 0;
  // The items that need a skill, by skill (the submit event lists them).
  std::map<std::string, std::vector<std::string>> item_skills_;
  EngineResult result_;
};

// ---------------------------------------------------------------------------

int64_t FaultCtx::Now() const { return engine_->T(); }
bool FaultCtx::Lockstep() const { return engine_->lockstep(); }
void FaultCtx::SetTimer(int64_t at, int tag) {
  Engine* e = engine_;
  int i = index_;
  e->AddTimer(at, [e, i, tag] { e->fault(i)->OnTimer(e->ctx(i), tag); });
}
void FaultCtx::Landed(const nlohmann::json& details) {
  engine_->FaultLanded(index_, kind_, details);
}
void FaultCtx::SetupFailed(const std::string& why) {
  engine_->FaultSetupFailed("fault " + kind_ + ": " + why);
}

std::vector<std::string> FaultCtx::List(std::string_view role) const {
  return engine_->ProcIds(role);
}
bool FaultCtx::Alive(const std::string& proc) const { return engine_->IsAlive(proc); }
bool FaultCtx::Kill(const std::string& proc) { return engine_->Kill(proc, kind_); }
void FaultCtx::Restart(const std::string& proc) { engine_->Restart(proc); }
void FaultCtx::Hold(const std::string& proc, int64_t until) { engine_->Stall(proc, until); }
void FaultCtx::AddArgs(const std::string& agent, const std::vector<std::string>& args) {
  // These are flags of `swarm agent`; an external SUT's agents take their own.
  if (engine_->external_sut()) return;
  if (Proc* p = engine_->Find(agent)) p->argv.insert(p->argv.end(), args.begin(), args.end());
}
void FaultCtx::AddEnv(const std::string& proc, const std::string& key, const std::string& value) {
  if (Proc* p = engine_->Find(proc)) p->env.emplace_back(key, value);
}
bool FaultCtx::LimitFiles(const std::string& proc, int limit) {
  return engine_->LimitFiles(proc, limit);
}

void FaultCtx::Skew(const std::string& proc, int64_t offset_us, int64_t drift_ppm) {
  if (Proc* p = engine_->Find(proc)) {
    p->skew_offset_us = offset_us;
    p->skew_drift_ppm = drift_ppm;
  }
}

bool FaultCtx::Switch(Endpoint endpoint, CollectorMode mode) {
  return endpoint == Endpoint::kCollector ? engine_->SetCollectorMode(mode)
                                          : engine_->SetModelMode(mode);
}

std::string FaultCtx::Path() const { return engine_->coord(); }
std::string FaultCtx::ScratchDir() const { return engine_->scratch(); }
std::string FaultCtx::WriteScratchFile(const std::string& name, const std::string& content) {
  return engine_->WriteScratch(fmt::format("fault{}-{}", index_, name), content);
}
nlohmann::json FaultCtx::Settings() const { return engine_->Settings(); }
std::string FaultCtx::Fingerprint() const { return engine_->ClusterFingerprint(); }
bool FaultCtx::RunTool(const std::vector<std::string>& args, std::string* error) {
  return engine_->RunTool(args, error);
}

// ---------------------------------------------------------------------------

void Engine::Emit(const std::string& proc, nlohmann::json event, int64_t t) {
  if (event.value("type", "") == "complete_ok") ++completed_items_;
  if (lockstep_) {
    trace_->Append(t, proc, std::move(event));
  } else {
    buffered_.push_back({t, arrivals_++, proc, std::move(event)});
  }
}

bool Engine::RunSwarm(const std::vector<std::string>& args, const std::string& log) {
  SpawnSpec spec;
  spec.id = args.front();
  spec.argv = {o_.swarm_bin};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.log_path = o_.log_dir + "/" + log;
  spec.control_channel = false;
  auto child = processes_.Spawn(spec);
  if (!child.ok()) return Fail("cannot start " + o_.swarm_bin + ": " + child.status().message());
  ExitStatus st = processes_.Wait(child->pid);
  if (!st.exited || st.code != 0) {
    std::ifstream in(spec.log_path);
    std::string first;
    std::getline(in, first);
    return Fail(fmt::format("`swarm {}` failed ({}): {}", args.front(), st.ToString(), first));
  }
  return true;
}

bool Engine::RunTool(const std::vector<std::string>& args, std::string* error) {
  std::string saved = std::move(result_.error);
  result_.error.clear();
  bool ok = RunSwarm(args, fmt::format("tool-{}.log", ++tool_runs_));
  *error = std::move(result_.error);
  result_.error = std::move(saved);
  return ok;
}

std::string Engine::WriteScratch(const std::string& name, const std::string& content) {
  std::string path = o_.work_dir + "/" + name;
  std::ofstream(path) << content;
  return path;
}

bool Engine::LimitFiles(const std::string& id, int limit) {
  Proc* p = Find(id);
  if (p == nullptr) return false;
  // Remembered for the process's next start too (a restart keeps the limit
  // in force; a restore while it is down applies at its restart).
  p->nofile_limit = limit;
  if (p->starts == 0 || !p->alive) return true;
  // The soft limit only (raising a hard limit needs CAP_SYS_RESOURCE).
  rlimit rl{};
  if (prlimit(p->pid, RLIMIT_NOFILE, nullptr, &rl) != 0) return false;
  rl.rlim_cur = std::min(static_cast<rlim_t>(limit), rl.rlim_max);
  return prlimit(p->pid, RLIMIT_NOFILE, &rl, nullptr) == 0;
}

bool Engine::TelemetryWanted() const {
  if (s_.telemetry.enabled) return true;
  return std::any_of(faults_.begin(), faults_.end(),
                     [](const std::unique_ptr<Fault>& f) { return f->NeedsCollector(); });
}

bool Engine::StartCollector() {
  if (o_.sink_command.empty()) {
    return Fail("this scenario exports telemetry, but the engine was given no collector command "
                "(EngineOptions::sink_command)");
  }
  sink_ = std::make_unique<SinkProcess>(&processes_, o_.sink_command,
                                        o_.log_dir + "/collector-spans.jsonl",
                                        o_.log_dir + "/sink.log", s_.step_timeout_ms);
  if (base::Status st = sink_->Start(); !st.ok()) return Fail(st.message());
  const auto& t = s_.telemetry;
  const std::string endpoint = sink_->Endpoint();
  const std::string timeout = std::to_string(t.timeout_ms);
  // Every standard variable that could point the agents elsewhere is set, so
  // that the harness's own environment cannot leak into a run.
  telemetry_env_ = {{"OTEL_SDK_DISABLED", "false"},
                    {"OTEL_TRACES_EXPORTER", "otlp"},
                    {"OTEL_EXPORTER_OTLP_ENDPOINT", endpoint},
                    {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint + "/v1/traces"},
                    {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
                    {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"},
                    {"OTEL_EXPORTER_OTLP_TIMEOUT", timeout},
                    {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", timeout},
                    {"OTEL_EXPORTER_OTLP_HEADERS", ""},
                    {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", ""},
                    {"OTEL_SERVICE_NAME", "swarm"},
                    {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", std::to_string(t.batch_spans)},
                    {"OTEL_BSP_SCHEDULE_DELAY", std::to_string(t.schedule_delay_ms)},
                    {"SWARM_SPOOL_MAX_SPANS", std::to_string(t.spool_max_spans)},
                    {"SWARM_SPOOL_MAX_BYTES", std::to_string(16 << 20)},
                    {"SWARM_OTLP_RETRY_INITIAL_MS", std::to_string(t.retry_initial_ms)},
                    {"SWARM_OTLP_RETRY_MAX_MS", std::to_string(t.retry_max_ms)}};
  return true;
}

bool Engine::SetCollectorMode(CollectorMode mode) {
  if (!sink_) return Fail("a fault switched the collector, but this run has none");
  if (base::Status st = sink_->SetMode(mode); !st.ok()) return Fail(st.message());
  return true;
}

bool Engine::ModelWanted() const {
  return std::any_of(faults_.begin(), faults_.end(),
                     [](const std::unique_ptr<Fault>& f) { return f->NeedsModel(); });
}

bool Engine::StartModel() {
  if (o_.sink_command.empty()) {
    return Fail("this scenario needs the stub model API, but the engine was given no sink "
                "command (EngineOptions::sink_command)");
  }
  model_ = std::make_unique<SinkProcess>(&processes_, o_.sink_command,
                                         o_.log_dir + "/model-stub-record.jsonl",
                                         o_.log_dir + "/model-stub.log", s_.step_timeout_ms);
  if (base::Status st = model_->Start(); !st.ok()) return Fail("stub model: " + st.message());
  model_env_ = {{"SWARM_MODEL_ENDPOINT", model_->Endpoint()}};
  return true;
}

bool Engine::SetModelMode(CollectorMode mode) {
  if (!model_) return Fail("a fault switched the stub model, but this run has none");
  if (base::Status st = model_->SetMode(mode); !st.ok()) {
    return Fail("stub model: " + st.message());
  }
  return true;
}

void Engine::CollectorEnd() {
  if (!sink_) return;
  sink_->Stop();
  // What the spools still hold: accounted for, not lost (docs/telemetry.md).
  for (const SpoolLeft& left : ReadSpoolLeft(coord_)) {
    Emit("sim", {{"type", "spool_left"}, {"agent", left.agent}, {"count", left.spans.size()},
                 {"spans", left.spans}});
  }
  // What the collector took, sorted, in parts of a bounded size.
  constexpr size_t kPart = 1000;
  auto received = ReadSinkRecord(sink_->record_path());
  if (!received.ok() && received.status().code() != base::Status::Code::kNotFound) {
    Emit("sim", {{"type", "sink_received"}, {"error", received.status().message()},
                 {"total", 0}, {"part", 0}, {"parts", 1}, {"spans", nlohmann::json::array()}});
    return;
  }
  const std::vector<std::string> ids = received.ok() ? *received : std::vector<std::string>();
  const size_t parts = std::max<size_t>(1, (ids.size() + kPart - 1) / kPart);
  for (size_t part = 0; part < parts; ++part) {
    const auto first = ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), part * kPart));
    const auto last =
        ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), (part + 1) * kPart));
    Emit("sim", {{"type", "sink_received"}, {"total", ids.size()}, {"part", part},
                 {"parts", parts}, {"spans", std::vector<std::string>(first, last)}});
  }
}

bool Engine::Setup() {
  if (!s_.sut.is_null()) return SetupSut();
  coord_ = o_.work_dir + "/coord";
  std::string config = o_.work_dir + "/cluster-config.json";
  std::ofstream(config) << Settings().dump();
  if (!RunSwarm({"init", coord_, "--config", config}, "init.log")) return false;
  if (!SubmitItems()) return false;
  Rng seeds(s_.seed);
  if (s_.reaper) {
    Proc r;
    r.id = "reaper";
    r.role = "reaper";
    r.argv = {o_.swarm_bin, "reaper", coord_};
    procs_.push_back(std::move(r));
  }
  for (int i = 0; i < s_.agents; ++i) {
    Proc a;
    a.id = fmt::format("a{}", i);
    a.role = "agent";
    a.argv = {o_.swarm_bin,
              "agent",
              coord_,
              "--id",
              a.id,
              "--exit-when-idle",
              "--work-ms",
              fmt::format("{}:{}", s_.work_min_ms, s_.work_max_ms),
              "--seed",
              std::to_string(seeds.Split("agents/" + a.id).Next())};
    if (!s_.agent_skills.is_null()) {
      a.skills = skills::AgentSkills(s_.agent_skills, s_.seed, i);
      if (!a.skills->empty()) a.argv.insert(a.argv.end(), {"--skills", skills::Joined(*a.skills)});
    }
    procs_.push_back(std::move(a));
  }
  return true;
}

bool Engine::SubmitItems() {
  if (s_.item_skills.is_null()) {
    return RunSwarm({"submit", coord_, "--items", std::to_string(s_.items)}, "submit.log");
  }
  // The ids and payloads `submit --items` would give, grouped by skill.
  std::map<std::string, std::string> files;  // skill ("" = none) -> lines
  for (int i = 1; i <= s_.items; ++i) {
    const std::string id = fmt::format("w{:06}", i);
    const std::string skill = skills::ItemSkill(s_.item_skills, s_.seed, i);
    files[skill] += fmt::format("{}\tpayload of {}\n", id, id);
    if (!skill.empty()) item_skills_[skill].push_back(id);
  }
  int part = 0;
  for (const auto& [skill, lines] : files) {
    const std::string path = WriteScratch(fmt::format("items-{}.tsv", part++), lines);
    std::vector<std::string> args = {"submit", coord_, "--file", path};
    if (!skill.empty()) args.insert(args.end(), {"--skill", skill});
    if (!RunSwarm(args, fmt::format("submit-{}.log", part))) return false;
  }
  return true;
}

bool Engine::SetupSut() {
  coord_ = o_.work_dir + "/coord";
  sut::RunSettings rs;
  rs.dir = coord_;
  rs.work_dir = o_.work_dir;
  rs.log_dir = o_.log_dir;
  rs.adapter_bin = o_.adapter_bin;
  rs.lockstep = lockstep_;
  rs.seed = s_.seed;
  rs.items = s_.items;
  rs.agents = s_.agents;
  rs.reaper = s_.reaper;
  rs.lease_ms = s_.lease_ms;
  rs.heartbeat_ms = s_.heartbeat_ms;
  rs.reap_interval_ms = s_.reap_interval_ms;
  rs.agent_timeout_ms = s_.agent_timeout_ms;
  rs.max_attempts = s_.max_attempts;
  rs.work_min_ms = s_.work_min_ms;
  rs.work_max_ms = s_.work_max_ms;
  sut_ = std::make_unique<sut::ExternalSut>(
      s_.sut, rs, [this](nlohmann::json event) { Emit("sim", std::move(event)); });
  if (!sut_->Prepare(SutNow(), &result_.error)) return false;
  Rng seeds(s_.seed);
  std::vector<sut::SutProcess> processes;
  auto agent_seed = [&](const std::string& id) { return seeds.Split("agents/" + id).Next(); };
  if (!sut_->Processes(agent_seed, &processes, &result_.error)) return false;
  for (sut::SutProcess& sp : processes) {
    Proc p;
    p.id = sp.id;
    p.role = sp.role;
    p.argv = std::move(sp.argv);
    p.env = std::move(sp.env);
    p.cwd = sp.cwd;
    procs_.push_back(std::move(p));
  }
  return true;
}

bool Engine::Spawn(Proc& p) {
  SpawnSpec spec;
  spec.id = p.id;
  spec.argv = p.argv;
  spec.cwd = p.cwd;
  spec.env = {{"FAULTLINE_MODE", lockstep_ ? "lockstep" : "freerun"}};
  spec.env.insert(spec.env.end(), telemetry_env_.begin(), telemetry_env_.end());
  if (p.role == "agent") spec.env.insert(spec.env.end(), model_env_.begin(), model_env_.end());
  spec.env.insert(spec.env.end(), p.env.begin(), p.env.end());
  if (!lockstep_ && p.skewed()) {
    spec.env.emplace_back(protocol::kClockSkewEnv,
                          fmt::format("{}:{}", p.skew_offset_us, p.skew_drift_ppm));
  }
  spec.log_path = o_.log_dir + "/" + p.id + ".log";
  spec.control_channel = true;
  spec.nofile_limit = p.nofile_limit;
  auto child = processes_.Spawn(spec);
  if (!child.ok()) return Fail("cannot start " + p.id + ": " + child.status().message());
  p.pid = child->pid;
  p.conn = std::make_unique<ControlConnection>(child->ctl_fd);
  p.alive = true;
  p.parked = Parked{};
  p.wake_at = 0;
  p.stalled_until = 0;
  p.started_at = T();
  p.sleeps = 0;
  Emit("sim", {{"type", "spawn"}, {"agent", p.id}, {"role", p.role}, {"restart", p.starts > 0}});
  ++p.starts;
  return true;
}

bool Engine::AwaitHello(Proc& p) {
  if (!lockstep_ || !p.alive) return true;
  // Wait for the hello: until then the process runs uncontrolled (exec and
  // start-up), touching no shared state.
  std::string error;
  auto r = p.conn->AwaitPark(
      static_cast<int>(s_.step_timeout_ms),
      [&](nlohmann::json ev, int64_t) { Emit(p.id, std::move(ev)); }, &p.parked, &error);
  if (r == ControlConnection::Read::kParked && p.parked.kind == Parked::Kind::kHello) return true;
  if (r == ControlConnection::Read::kClosed) {
    OnExit(p, processes_.Wait(p.pid));
    return true;  // it exited at once (e.g. refused); the history says so
  }
  return Fail(fmt::format("{} did not say hello on its control channel within {} ms ({})", p.id,
                          s_.step_timeout_ms, error.empty() ? "timeout" : error));
}

// Freerun: what a dead process wrote before it died is still in its socket.
// Called after the process is reaped, so it can write no more: read to EOF.
void Engine::DrainDead(Proc& p) {
  if (lockstep_ || !p.conn) return;
  std::string error;
  p.conn->Drain(
      [&](nlohmann::json ev, int64_t mono) {
        Emit(p.id, std::move(ev), mono ? mono - start_mono_ : T());
      },
      &error);
}

void Engine::SampleUsage(const Proc& p) {
  if (o_.resources == nullptr) return;
  const Usage usage = ReadUsage(p.pid);
  ResourceSample sample;
  sample.proc = p.id;
  sample.role = p.role;
  sample.start = p.starts;
  sample.t = T();
  sample.sleeps = lockstep_ ? p.sleeps : -1;
  sample.trace_lines = lockstep_ ? static_cast<int64_t>(trace_->lines()) : -1;
  sample.rss_kb = usage.rss_kb;
  sample.cpu_us = usage.cpu_us;
  o_.resources->Add(sample);
}

void Engine::SampleExit(const Proc& p, const ExitStatus& status) {
  if (o_.resources == nullptr || status.max_rss_kb < 0) return;
  ResourceSample sample;
  sample.kind = ResourceSample::Kind::kExit;
  sample.proc = p.id;
  sample.role = p.role;
  sample.start = p.starts;
  sample.t = T();
  sample.max_rss_kb = status.max_rss_kb;
  sample.user_us = status.user_us;
  sample.sys_us = status.sys_us;
  sample.cpu_us = status.user_us + status.sys_us;
  o_.resources->Add(sample);
}

void Engine::OnExit(Proc& p, const ExitStatus& status) {
  SampleExit(p, status);
  p.alive = false;
  CloseControl(p);
  nlohmann::json ev = {{"type", "exit"}, {"agent", p.id}, {"role", p.role}};
  if (status.exited) {
    ev["code"] = status.code;
  } else {
    ev["signal"] = status.signal;
  }
  Emit("sim", std::move(ev));
}

bool Engine::Kill(const std::string& id, const std::string& by) {
  Proc* p = Find(id);
  if (p == nullptr || !p->alive) return false;
  processes_.Signal(p->pid, SIGKILL);
  ExitStatus st = processes_.Wait(p->pid);
  SampleExit(*p, st);
  DrainDead(*p);
  p->alive = false;
  CloseControl(*p);
  Emit("sim", {{"type", "exit"}, {"agent", p->id}, {"role", p->role}, {"signal", st.signal},
               {"by", by}});
  ++result_.kills;
  StateCheck();
  return true;
}

void Engine::Restart(const std::string& id) {
  Proc* p = Find(id);
  if (p == nullptr || p->alive) return;
  if (!Spawn(*p) || !AwaitHello(*p)) result_.end = EngineResult::End::kHarnessError;
}

void Engine::Stall(const std::string& id, int64_t until) {
  Proc* p = Find(id);
  if (p == nullptr || !p->alive) return;
  if (lockstep_) {
    p->stalled_until = std::max(p->stalled_until, until + kSimEpochUs);
    return;
  }
  processes_.Signal(p->pid, SIGSTOP);
  pid_t pid = p->pid;
  AddTimer(until, [this, pid] { processes_.Signal(pid, SIGCONT); });
}

void Engine::FaultLanded(int index, const std::string& kind, const nlohmann::json& details) {
  FaultRecord& r = result_.faults[static_cast<size_t>(index)];
  if (r.landed++ == 0) r.first = details;
  nlohmann::json ev = details;
  ev["type"] = "fault";
  ev["kind"] = kind;
  ev["index"] = index;
  Emit("sim", std::move(ev));
}

void Engine::Snapshot() {
  int live = 0;
  for (const Proc& p : procs_) live += p.alive;
  if (sut_) {
    nlohmann::json counts = sut_->Snapshot();
    counts["type"] = "snapshot";
    counts["live_procs"] = live;
    return Emit("sim", std::move(counts));
  }
  Emit("sim", {{"type", "snapshot"},
               {"locks", CountEntries(coord_ + "/locks")},
               {"temps", CountEntries(coord_ + "/tmp")},
               {"claims", CountEntries(coord_ + "/claims")},
               {"live_procs", live}});
}

std::string Engine::ClusterFingerprint() const {
  std::ifstream in(coord_ + "/cluster.json");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() ? j.value("fingerprint", "") : "";
}

// Reads every state file the way a recovering process would: after a crash
// each must still parse (no torn writes).
void Engine::StateCheck() {
  if (sut_) {
    nlohmann::json check = sut_->StateCheck();
    check["type"] = "state_check";
    return Emit("sim", std::move(check));
  }
  size_t files = 0;
  nlohmann::json unparsable = nlohmann::json::array();
  auto check = [&](const std::string& rel) {
    ++files;
    std::ifstream in(coord_ + "/" + rel);
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_object()) unparsable.push_back(rel);
  };
  check("cluster.json");
  for (const char* sub : {"items", "agents", "ledger"}) {
    std::vector<std::string> names;
    std::error_code ec;
    for (auto it = stdfs::directory_iterator(coord_ + "/" + sub, ec);
         !ec && it != stdfs::directory_iterator(); it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) check(std::string(sub) + "/" + n);
  }
  Emit("sim", {{"type", "state_check"}, {"files", files}, {"unparsable", std::move(unparsable)}});
}

void Engine::FireDueTimers() {
  while (!timers_.empty() && timers_.top().at <= T()) {
    Timer t = timers_.top();
    timers_.pop();
    t.fire();
  }
}

// One lockstep step: lets `p` go and reads until it parks again or exits.
bool Engine::Step(Proc& p) {
  ++result_.steps;
  const Parked was = p.parked;
  if (!p.conn->Go(p.ClockAt(now_, T()))) {
    OnExit(p, processes_.Wait(p.pid));
    return true;
  }
  std::string error;
  auto r = p.conn->AwaitPark(
      static_cast<int>(s_.step_timeout_ms),
      [&](nlohmann::json ev, int64_t) { Emit(p.id, std::move(ev)); }, &p.parked, &error);
  switch (r) {
    case ControlConnection::Read::kParked:
      if (p.parked.kind == Parked::Kind::kSleep) {
        p.wake_at = now_ + p.SleepSpan(p.parked.sleep_us);
        ++p.sleeps;
        SampleUsage(p);
      }
      return true;
    case ControlConnection::Read::kClosed:
      OnExit(p, processes_.Wait(p.pid));
      return true;
    case ControlConnection::Read::kTimeout:
      return Fail(fmt::format(
          "uncontrolled block: {} was resumed from {} and did not reach its next yield point "
          "within {} ms of wall time (it is blocked outside the control channel)",
          p.id,
          was.kind == Parked::Kind::kYield ? "yield point " + was.point + " (" + was.item + ")"
          : was.kind == Parked::Kind::kSleep ? std::string("a sleep")
                                             : std::string("its start"),
          s_.step_timeout_ms));
    case ControlConnection::Read::kBadMessage:
      return Fail(fmt::format("{} broke the control protocol: {}", p.id, error));
  }
  return true;
}

std::string Engine::DeadlockReport() const {
  std::string out;
  for (const Proc& p : procs_) {
    if (!p.alive) continue;
    out += fmt::format("{}{} ", out.empty() ? "" : "; ", p.id);
    switch (p.parked.kind) {
      case Parked::Kind::kYield: out += "waits at " + p.parked.point + " " + p.parked.item; break;
      case Parked::Kind::kSleep: out += "sleeps"; break;
      case Parked::Kind::kHello: out += "waits to start"; break;
      case Parked::Kind::kNone: out += "runs"; break;
    }
    if (p.stalled_until > now_) out += " (stalled)";
  }
  return out.empty() ? "no live process" : out;
}

EngineResult::End Engine::LockstepLoop() {
  std::unique_ptr<Scheduler> scheduler =
      s_.scheduler == "pct"
          ? MakePctScheduler(Rng(s_.seed).Split("scheduler"), s_.pct_depth,
                             int64_t{s_.items} * 12 + s_.agents * 4)
          : MakeRandomScheduler(Rng(s_.seed).Split("scheduler"));
  const int64_t wall_deadline = start_mono_ + s_.wall_ms * 1000;
  const int64_t sim_deadline = kSimEpochUs + s_.sim_ms * 1000;
  std::vector<size_t> runnable;
  for (;;) {
    if (Interrupted()) return EngineResult::End::kInterrupted;
    if (!result_.error.empty()) return EngineResult::End::kHarnessError;
    if (base::MonotonicMicros() > wall_deadline) return EngineResult::End::kWallLimit;
    runnable.clear();
    bool agents_alive = false;
    for (size_t i = 0; i < procs_.size(); ++i) {
      const Proc& p = procs_[i];
      if (!p.alive) continue;
      agents_alive = agents_alive || p.role == "agent";
      if (p.stalled_until > now_) continue;
      if (p.parked.kind == Parked::Kind::kSleep ? p.wake_at <= now_
                                                : p.parked.kind != Parked::Kind::kNone) {
        runnable.push_back(i);
      }
    }
    if (!agents_alive && timers_.empty()) return EngineResult::End::kCompleted;
    if (runnable.empty()) {
      // Nothing can run now: jump the clock to the next thing that happens.
      int64_t next = INT64_MAX;
      for (const Proc& p : procs_) {
        if (!p.alive) continue;
        if (p.stalled_until > now_) next = std::min(next, p.stalled_until);
        else if (p.parked.kind == Parked::Kind::kSleep) next = std::min(next, p.wake_at);
      }
      if (!timers_.empty()) next = std::min(next, timers_.top().at + kSimEpochUs);
      if (next == INT64_MAX) return EngineResult::End::kDeadlock;
      if (next > sim_deadline) {
        now_ = sim_deadline;
        return EngineResult::End::kSimLimit;
      }
      now_ = std::max(now_, next);
      trace_->Flush();
      FireDueTimers();
      ShowProgress(false);
      continue;
    }
    Proc& p = procs_[scheduler->Pick(runnable)];
    if (p.parked.kind == Parked::Kind::kYield) {
      bool taken = false;
      for (size_t i = 0; i < faults_.size() && !taken; ++i) {
        taken = faults_[i]->OnYield(*ctxs_[i], p.id, p.parked.point, p.parked.item);
      }
      if (taken) continue;
    }
    if (!Step(p)) return EngineResult::End::kHarnessError;
    if (result_.steps % kSnapshotEverySteps == 0) Snapshot();
  }
}

EngineResult::End Engine::FreerunLoop() {
  const int64_t wall_deadline = s_.wall_ms * 1000;
  std::vector<pollfd> fds;
  std::vector<Proc*> owners;
  for (;;) {
    if (Interrupted()) return EngineResult::End::kInterrupted;
    if (!result_.error.empty()) return EngineResult::End::kHarnessError;
    if (T() > wall_deadline) return EngineResult::End::kWallLimit;
    bool agents_alive = false;
    fds.clear();
    owners.clear();
    for (Proc& p : procs_) {
      if (!p.alive) continue;
      agents_alive = agents_alive || p.role == "agent";
      fds.push_back({p.conn->fd(), POLLIN, 0});
      owners.push_back(&p);
    }
    if (!agents_alive && timers_.empty()) return EngineResult::End::kCompleted;
    int64_t wait_us = 20'000;
    if (!timers_.empty()) wait_us = std::clamp<int64_t>(timers_.top().at - T(), 0, wait_us);
    int rc = poll(fds.data(), fds.size(), static_cast<int>((wait_us + 999) / 1000));
    if (rc < 0 && errno != EINTR) {
      Fail(fmt::format("poll: {}", strerror(errno)));
      return EngineResult::End::kHarnessError;
    }
    for (size_t i = 0; rc > 0 && i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Proc& p = *owners[i];
      std::string error;
      auto r = p.conn->Drain(
          [&](nlohmann::json ev, int64_t mono) {
            Emit(p.id, std::move(ev), mono ? mono - start_mono_ : T());
          },
          &error);
      if (r == ControlConnection::Read::kClosed) OnExit(p, processes_.Wait(p.pid));
      if (r == ControlConnection::Read::kBadMessage) {
        Fail(fmt::format("{} broke the control protocol: {}", p.id, error));
      }
    }
    FireDueTimers();
    if (T() - last_snapshot_ >= kFreerunSnapshotUs) {
      last_snapshot_ = T();
      Snapshot();
      for (const Proc& p : procs_) {
        if (p.alive) SampleUsage(p);
      }
    }
    ShowProgress(false);
  }
}

void Engine::StopAll() {
  for (Proc& p : procs_) {
    if (!p.alive) continue;
    processes_.Signal(p.pid, SIGKILL);
    SampleExit(p, processes_.Wait(p.pid));
    DrainDead(p);
    p.alive = false;
    CloseControl(p);
    Emit("sim", {{"type", "stop"}, {"agent", p.id}, {"role", p.role}});
  }
}

void Engine::RunEnd(EngineResult::End end) {
  if (sut_) {
    nlohmann::json state = sut_->EndState(SutNow());
    state["type"] = "run_end";
    state["end"] = Name(end);
    state["deadlock"] = end == EngineResult::End::kDeadlock ? DeadlockReport() : "";
    return Emit("sim", std::move(state));
  }
  nlohmann::json items = nlohmann::json::array();
  bool completed = true;
  std::vector<std::string> names;
  std::error_code ec;
  for (auto it = stdfs::directory_iterator(coord_ + "/items", ec);
       !ec && it != stdfs::directory_iterator(); it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    std::string id = name.substr(0, name.size() - 5);
    std::ifstream in(coord_ + "/items/" + name);
    nlohmann::json state = nlohmann::json::parse(in, nullptr, false);
    std::string status = state.is_object() ? state.value("status", "?") : "unreadable";
    std::string reason = state.is_object() ? state.value("reason", "") : "";
    completed = completed && (status == "done" || status == "dead" || status == "quarantined");
    items.push_back({{"id", id},
                     {"status", status},
                     {"reason", reason},
                     {"effect", stdfs::exists(coord_ + "/ledger/" + id + ".json")}});
  }
  Emit("sim", {{"type", "run_end"},
               {"end", Name(end)},
               {"completed", completed},
               {"locks", CountEntries(coord_ + "/locks")},
               {"temps", CountEntries(coord_ + "/tmp")},
               {"ledger", CountEntries(coord_ + "/ledger")},
               {"items", std::move(items)},
               {"deadlock", end == EngineResult::End::kDeadlock ? DeadlockReport() : ""}});
}

void Engine::ShowProgress(bool final_line) {
  if (!o_.progress) return;
  int64_t mono = base::MonotonicMicros();
  if (!final_line && mono - last_progress_mono_ < 500'000) return;
  last_progress_mono_ = mono;
  std::fprintf(stderr, "\r%s seed %llu: %s %.1f s, %llu steps, %d/%d items done%s", s_.name.c_str(),
               static_cast<unsigned long long>(s_.seed), lockstep_ ? "sim" : "wall",
               static_cast<double>(T()) / 1e6, static_cast<unsigned long long>(result_.steps),
               completed_items_, s_.items, final_line ? "\n" : "   ");
}

EngineResult Engine::Run() {
  start_mono_ = base::MonotonicMicros();
  result_.faults.resize(s_.faults.size());
  for (size_t i = 0; i < s_.faults.size(); ++i) {
    result_.faults[i].kind = s_.faults[i].kind;
    result_.faults[i].index = static_cast<int>(i);
  }
  EngineResult::End end = EngineResult::End::kHarnessError;
  const bool set_up = Setup();
  Emit("sim", {{"type", "run_start"},
               {"cluster_fingerprint", ClusterFingerprint()},
               {"scenario", s_.name},
               {"seed", s_.seed},
               {"mode", lockstep_ ? "lockstep" : "freerun"},
               {"lease_ms", s_.lease_ms},
               {"heartbeat_ms", s_.heartbeat_ms},
               {"reap_interval_ms", s_.reap_interval_ms},
               {"agent_timeout_ms", s_.agent_timeout_ms},
               {"max_attempts", s_.max_attempts},
               {"clock_skew_ms", s_.clock_skew_ms},
               {"slo", s_.SloJson()},
               {"agents", s_.agents},
               {"items", s_.items}});
  if (set_up) {
    nlohmann::json submitted = {{"type", "submit"}, {"items", s_.items}};
    if (!s_.item_skills.is_null()) submitted["skills"] = item_skills_;
    // Before any process runs, so that every claim can be judged against them
    // (in freerun an agent may claim before its spawn event is stamped).
    if (!s_.agent_skills.is_null()) submitted["agent_skills"] = AgentSkillMap();
    Emit("sim", std::move(submitted));
    for (size_t i = 0; i < s_.faults.size(); ++i) {
      const FaultKind* kind = catalog_.FindFault(s_.faults[i].kind);
      faults_.push_back(kind->make(s_.faults[i].options));
      ctxs_.push_back(std::make_unique<FaultCtx>(
          this, static_cast<int>(i), s_.faults[i].kind,
          Rng(s_.seed).Split(fmt::format("faults/{}/{}", i, s_.faults[i].kind))));
    }
    for (size_t i = 0; i < faults_.size(); ++i) faults_[i]->Prepare(*ctxs_[i]);
    // All processes start at once; their hellos are then collected in order,
    // so start-up costs overlap and the order stays deterministic.
    bool started = result_.error.empty();  // a fault that cannot be set up starts nothing
    if (started && TelemetryWanted()) started = StartCollector();
    if (started && ModelWanted()) started = StartModel();
    for (Proc& p : procs_) started = started && Spawn(p);
    for (Proc& p : procs_) started = started && AwaitHello(p);
    result_.started_us = base::MonotonicMicros() - start_mono_;
    if (started) {
      for (size_t i = 0; i < faults_.size(); ++i) faults_[i]->Start(*ctxs_[i]);
      const int64_t loop_start = base::MonotonicMicros();
      end = lockstep_ ? LockstepLoop() : FreerunLoop();
      result_.loop_wall_us = base::MonotonicMicros() - loop_start;
    }
  }
  if (!result_.error.empty()) end = EngineResult::End::kHarnessError;
  StopAll();
  for (size_t i = 0; i < faults_.size(); ++i) faults_[i]->Finish(*ctxs_[i]);
  Snapshot();
  StateCheck();
  CollectorEnd();
  if (model_) model_->Stop();
  RunEnd(end);
  if (!lockstep_) {
    std::stable_sort(buffered_.begin(), buffered_.end(),
                     [](const BufferedEvent& a, const BufferedEvent& b) { return a.t < b.t; });
    for (BufferedEvent& e : buffered_) trace_->Append(e.t, e.proc, std::move(e.event));
  }
  ShowProgress(true);
  result_.end = end;
  result_.sim_us = T();
  result_.wall_us = base::MonotonicMicros() - start_mono_;
  result_.events = trace_->lines();
  result_.trace_sha256 = trace_->Finish();
  return result_;
}

}  // namespace

std::string_view Name(EngineResult::End end) {
  switch (end) {
    case EngineResult::End::kCompleted: return "completed";
    case EngineResult::End::kSimLimit: return "sim_limit";
    case EngineResult::End::kWallLimit: return "wall_limit";
    case EngineResult::End::kDeadlock: return "deadlock";
    case EngineResult::End::kHarnessError: return "harness_error";
    case EngineResult::End::kInterrupted: return "interrupted";
  }
  return "?";
}

EngineResult RunEngine(const ResolvedScenario& scenario, const Catalog& catalog,
                       const EngineOptions& options, TraceWriter* trace) {
  Engine engine(scenario, catalog, options, trace);
  return engine.Run();
}

}  // namespace faultline
