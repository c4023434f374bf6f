#include "tests/faults/fake_fault_context.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "faults/registry.h"

namespace faultline::testing {

namespace {

// The stream the engine gives the first fault of a scenario.
Rng StreamFor(uint64_t seed, const std::string& kind) {
  return Rng(seed).Split(fmt::format("faults/{}/{}", 0, kind));
}

// `given` with every option of `kind` it lacks at its default.
nlohmann::json Resolved(const FaultKind& kind, nlohmann::json given) {
  if (given.is_null()) given = nlohmann::json::object();
  for (const auto& [key, value] : given.items()) {
    const bool known = std::any_of(kind.options.begin(), kind.options.end(),
                                   [&](const OptionSpec& spec) { return spec.name == key; });
    if (!known) ADD_FAILURE() << kind.name << " has no option " << key;
  }
  for (const OptionSpec& spec : kind.options) {
    if (given.contains(spec.name)) continue;
    if (spec.default_value.is_null()) {
      ADD_FAILURE() << kind.name << " needs option " << spec.name << " (no default)";
      continue;
    }
    given[spec.name] = spec.default_value;
  }
  return given;
}

}  // namespace

FakeFaultContext::FakeFaultContext(const FaultKind& kind, nlohmann::json options, FakeRun run)
    : kind_(kind), run_(run), initial_rng_(StreamFor(run.seed, kind.name)), rng_(initial_rng_) {
  settings_ = {{"schema_version", 1},      {"lease_ms", 5000},         {"heartbeat_ms", 1000},
               {"reap_interval_ms", 1000}, {"agent_timeout_ms", 5000}, {"max_attempts", 3},
               {"clock_skew_ms", 0}};
  std::filesystem::create_directories(Path());
  if (run_.reaper) {
    order_.push_back("reaper");
    procs_["reaper"].role = "reaper";
  }
  for (int i = 0; i < run_.agents; ++i) {
    const std::string id = fmt::format("a{}", i);
    order_.push_back(id);
    procs_[id].role = "agent";
  }
  if (run_.collector) endpoint_modes_[Endpoint::kCollector] = CollectorMode::kUp;
  if (run_.model) endpoint_modes_[Endpoint::kModel] = CollectorMode::kUp;
  fault_ = kind_.make(Resolved(kind_, std::move(options)));
}

FakeFaultContext::~FakeFaultContext() {
  // Before the scratch directory goes: a fault may hold files of it.
  fault_.reset();
}

void FakeFaultContext::Prepare() {
  EXPECT_EQ(phase_, Phase::kNew) << "Prepare twice";
  phase_ = Phase::kPrepare;
  fault_->Prepare(*this);
  phase_ = Phase::kPrepared;
}

void FakeFaultContext::Start() {
  if (phase_ == Phase::kNew) Prepare();
  EXPECT_EQ(phase_, Phase::kPrepared) << "Start twice";
  phase_ = Phase::kRunning;
  fault_->Start(*this);
}

int FakeFaultContext::RunUntil(int64_t until) {
  EXPECT_EQ(phase_, Phase::kRunning) << "timers fire between Start and Finish";
  int fired = 0;
  for (;;) {
    auto next = std::min_element(pending_.begin(), pending_.end(),
                                 [](const PendingTimer& a, const PendingTimer& b) {
                                   return a.at != b.at ? a.at < b.at : a.order < b.order;
                                 });
    if (next == pending_.end() || next->at > until) break;
    const PendingTimer timer = *next;
    pending_.erase(next);
    now_ = std::max(now_, timer.at);
    fault_->OnTimer(*this, timer.tag);
    ++fired;
  }
  now_ = std::max(now_, until);
  return fired;
}

bool FakeFaultContext::Yield(const std::string& proc, std::string_view point,
                             std::string_view item) {
  EXPECT_EQ(phase_, Phase::kRunning) << "yields come between Start and Finish";
  EXPECT_TRUE(Alive(proc)) << proc << " cannot park: it is not alive";
  return fault_->OnYield(*this, proc, point, item);
}

void FakeFaultContext::Finish() {
  phase_ = Phase::kFinished;
  for (auto& [id, p] : procs_) p.alive = false;  // the engine stops everything first
  fault_->Finish(*this);
}

void FakeFaultContext::SetAlive(const std::string& proc, bool alive) {
  if (Process* p = Find(proc)) p->alive = alive;
}

const FakeFaultContext::Process& FakeFaultContext::process(const std::string& id) const {
  static const Process kNone;
  auto it = procs_.find(id);
  if (it == procs_.end()) {
    ADD_FAILURE() << "no process " << id;
    return kNone;
  }
  return it->second;
}

std::string FakeFaultContext::env(const std::string& proc, const std::string& key) const {
  std::string value;
  for (const auto& [k, v] : process(proc).env) {
    if (k == key) value = v;
  }
  return value;
}

void FakeFaultContext::Require(unsigned bits, const char* what) const {
  if ((kind_.needs & bits) != bits) {
    ADD_FAILURE() << kind_.name << " uses " << what << " but its kind does not declare it "
                  << "(needs " << kind_.needs << ", missing " << (bits & ~kind_.needs) << ")";
  }
}

void FakeFaultContext::RequirePrepare(const char* what) const {
  if (phase_ != Phase::kPrepare)
    ADD_FAILURE() << kind_.name << " calls " << what << " outside Prepare";
}

FakeFaultContext::Process* FakeFaultContext::Find(const std::string& id) {
  auto it = procs_.find(id);
  return it == procs_.end() ? nullptr : &it->second;
}

// --- FaultContext -----------------------------------------------------------

void FakeFaultContext::SetTimer(int64_t at, int tag) {
  if (at < now_) ADD_FAILURE() << kind_.name << " set a timer in the past: " << at << " < " << now_;
  timers_set_.push_back({at, tag});
  pending_.push_back({at, timer_order_++, tag});
}

void FakeFaultContext::Landed(const nlohmann::json& details) {
  landings_.push_back({now_, details});
}

void FakeFaultContext::SetupFailed(const std::string& why) {
  RequirePrepare("SetupFailed");
  setup_failures_.push_back(why);
}

ProcessControl& FakeFaultContext::processes() {
  Require(capability::kProcesses, "processes()");
  return *this;
}
ClockControl& FakeFaultContext::clocks() {
  Require(capability::kClocks, "clocks()");
  return *this;
}
EndpointControl& FakeFaultContext::endpoints() {
  Require(capability::kEndpoints, "endpoints()");
  return *this;
}
CoordinationDirectory& FakeFaultContext::directory() {
  Require(capability::kDirectory, "directory()");
  return *this;
}
NetworkControl& FakeFaultContext::network() {
  Require(capability::kNetwork, "network()");
  return server_store_;
}
DatabaseControl& FakeFaultContext::database() {
  Require(capability::kDatabase, "database()");
  return server_store_;
}

// --- ProcessControl ---------------------------------------------------------

std::vector<std::string> FakeFaultContext::List(std::string_view role) const {
  std::vector<std::string> ids;
  for (const std::string& id : order_) {
    if (role.empty() || procs_.at(id).role == role) ids.push_back(id);
  }
  return ids;
}

bool FakeFaultContext::Alive(const std::string& proc) const {
  auto it = procs_.find(proc);
  return it != procs_.end() && it->second.alive;
}

bool FakeFaultContext::Kill(const std::string& proc) {
  Process* p = Find(proc);
  if (p == nullptr || !p->alive) return false;
  p->alive = false;
  kills_.push_back({proc, now_});
  return true;
}

bool FakeFaultContext::Terminate(const std::string& proc) {
  Process* p = Find(proc);
  if (p == nullptr || !p->alive) return false;
  terminations_.push_back({proc, now_});
  return true;
}

void FakeFaultContext::Restart(const std::string& proc) {
  Process* p = Find(proc);
  if (p == nullptr || p->alive) return;
  p->alive = true;
  ++p->starts;
  restarts_.push_back({proc, now_});
}

void FakeFaultContext::Hold(const std::string& proc, int64_t until) {
  Process* p = Find(proc);
  if (p == nullptr || !p->alive) return;
  holds_.push_back({proc, now_, until});
}

void FakeFaultContext::AddArgs(const std::string& agent, const std::vector<std::string>& args) {
  RequirePrepare("AddArgs");
  if (Process* p = Find(agent)) p->args.insert(p->args.end(), args.begin(), args.end());
}

void FakeFaultContext::AddEnv(const std::string& proc, const std::string& key,
                              const std::string& value) {
  RequirePrepare("AddEnv");
  if (Process* p = Find(proc)) p->env.emplace_back(key, value);
}

bool FakeFaultContext::LimitFiles(const std::string& proc, int limit) {
  Process* p = Find(proc);
  if (p == nullptr || limit_fails_.count(proc) > 0) return false;
  p->nofile_limit = limit;
  limits_.push_back({proc, limit, now_, phase_ == Phase::kPrepare});
  return true;
}

// --- ClockControl -----------------------------------------------------------

void FakeFaultContext::Skew(const std::string& proc, int64_t offset_us, int64_t drift_ppm) {
  RequirePrepare("Skew");
  if (Process* p = Find(proc)) {
    p->skew_offset_us = offset_us;
    p->skew_drift_ppm = drift_ppm;
  }
}

void FakeFaultContext::Steppable(const std::string& proc) {
  RequirePrepare("Steppable");
  if (Process* p = Find(proc)) p->steppable = true;
}

bool FakeFaultContext::Step(const std::string& proc, int64_t step_us) {
  Process* p = Find(proc);
  if (p == nullptr || !p->steppable) return false;
  p->wall_step_us += step_us;
  steps_.push_back({proc, step_us, now_});
  return true;
}

// --- EndpointControl --------------------------------------------------------

bool FakeFaultContext::Switch(Endpoint endpoint, CollectorMode mode) {
  auto it = endpoint_modes_.find(endpoint);
  if (it == endpoint_modes_.end()) return false;
  it->second = mode;
  switches_.push_back({endpoint, mode, now_});
  return true;
}

// --- CoordinationDirectory --------------------------------------------------

std::string FakeFaultContext::WriteScratchFile(const std::string& name,
                                               const std::string& content) {
  const std::string path = dir_ / ("fault0-" + name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::string FakeFaultContext::Fingerprint() const {
  Require(capability::kReferenceFiles, "Fingerprint()");
  return fingerprint_;
}

bool FakeFaultContext::RunTool(const std::vector<std::string>& args, std::string* error) {
  Require(capability::kReferenceTool, "RunTool()");
  tool_runs_.push_back(args);
  return tool_ ? tool_(args, error) : true;
}

void FakeFaultContext::CheckState() {
  Require(capability::kDirectory, "CheckState()");
  state_checks_.push_back(now_);
}

const FaultKind& KindNamed(const std::string& name) {
  static const std::vector<FaultKind> kinds = faults::AllFaults();
  for (const FaultKind& kind : kinds) {
    if (kind.name == name) return kind;
  }
  ADD_FAILURE() << "no fault kind " << name;
  static const FaultKind kNone;
  return kNone;
}

}  // namespace faultline::testing
