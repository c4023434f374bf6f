#include "sim/engine.h"

#include <algorithm>
#include <cstdio>
#include <fmt/format.h>
#include <fstream>

#include "sim/engine_internal.h"
#include "sim/protocol/control_protocol.h"

namespace faultline::engine_detail {

void Engine::Emit(const std::string& proc, nlohmann::json event, int64_t t) {
  const auto limit = static_cast<uint64_t>(s_.process_events);
  if (proc != "sim" && ++process_events_ > limit) {
    if (process_events_ == limit + 1) {
      Fail(fmt::format("{} sent event number {} of this run; a run takes at most {} events from "
                       "its processes (limits.process_events; is it flooding the control "
                       "channel?)",
                       proc, process_events_, limit));
    }
    return;
  }
  // A probe is counted for the verdict, never traced (control_protocol.h).
  if (const auto type = event.find("type");
      type != event.end() && *type == protocol::kProbeEvent && event.contains("name") &&
      event["name"].is_string()) {
    return CountProbe(event["name"].get<std::string>(), event.value("hit", true));
  }
  if (event.value("type", "") == "complete_ok") ++completed_items_;
  if (lockstep_) {
    trace_->Append(t, proc, std::move(event));
  } else {
    buffered_.push_back({t, arrivals_++, proc, std::move(event)});
  }
}

bool Engine::RunTool(const std::vector<std::string>& args, std::string* error) {
  return sut_->RunTool(host_, args, error);
}

std::string Engine::WriteScratch(const std::string& name, const std::string& content) {
  std::string path = o_.work_dir + "/" + name;
  std::ofstream(path) << content;
  return path;
}

bool Engine::Setup() {
  coord_ = sut_->Dir();
  if (!SetUpDatabase()) return false;
  if (!sut_->Prepare(host_, &result_.error)) return false;
  std::vector<SutProcessSpec> processes;
  if (!sut_->Processes(host_, &processes, &result_.error)) return false;
  for (SutProcessSpec& sp : processes) {
    Proc p;
    p.id = std::move(sp.id);
    p.role = std::move(sp.role);
    p.argv = std::move(sp.argv);
    p.env = std::move(sp.env);
    p.cwd = std::move(sp.cwd);
    procs_.push_back(std::move(p));
  }
  if (!SetupArrivals() || !ConnectProcesses()) return false;
  return StartInterposition();
}

void Engine::FaultLanded(int index, const std::string& kind, const nlohmann::json& details) {
  FaultRecord& r = result_.faults[static_cast<size_t>(index)];
  if (r.landed++ == 0) r.first = details;
  CountProbe(protocol::probe::kFaultLandedPrefix + kind + protocol::probe::kFaultLandedSuffix,
             true);
  nlohmann::json ev = details;
  ev["type"] = "fault";
  ev["kind"] = kind;
  ev["index"] = index;
  Emit("sim", std::move(ev));
}

void Engine::Snapshot() {
  int live = 0;
  for (const Proc& p : procs_) live += p.alive;
  nlohmann::json counts = sut_->Snapshot();
  counts["type"] = "snapshot";
  counts["live_procs"] = live;
  Emit("sim", std::move(counts));
}

std::string Engine::ClusterFingerprint() const { return sut_->ClusterFingerprint(); }

// Every state file read the way a recovering process would: after a crash
// each must still parse (no torn writes).
void Engine::StateCheck() {
  nlohmann::json check = sut_->StateCheck();
  check["type"] = "state_check";
  Emit("sim", std::move(check));
}

void Engine::RunEnd(EngineResult::End end) {
  // The end state is read from a server that is up: one a fault left down
  // recovers first (what it acknowledged must be there).
  if (db_ != nullptr && !db_->running()) {
    int64_t took_us = 0;
    std::string error;
    if (!StartDatabase(&took_us, &error)) Fail("the database server did not recover: " + error);
  }
  nlohmann::json state = sut_->EndState(host_);
  state["type"] = "run_end";
  state["end"] = Name(end);
  state["deadlock"] = end == EngineResult::End::kDeadlock ? DeadlockReport() : "";
  // Only in a livelocked run's history, so that every other trace stays as it was.
  if (end == EngineResult::End::kLivelock) state["livelock"] = livelock_.Report();
  Emit("sim", std::move(state));
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
  // Every coordinator setting of the table, and the SLO as "slo".
  nlohmann::json run_start = GroupJson(s_, SettingGroup::kCoordinator);
  run_start.update({{"type", "run_start"},
                    {"cluster_fingerprint", ClusterFingerprint()},
                    {"scenario", s_.name},
                    {"seed", s_.seed},
                    {"mode", lockstep_ ? "lockstep" : "freerun"},
                    {"slo", s_.SloJson()},
                    {"agents", s_.agents},
                    {"items", s_.items}});
  if (interposed_) run_start["interleave"] = "syscalls";
  // The trace says which points were passed: a run with other passed points
  // takes other steps, and its trace differs from here on.
  if (const std::vector<std::string> passed = PassedPoints(); !passed.empty()) {
    run_start["passed_points"] = passed;
  }
  Emit("sim", std::move(run_start));
  if (set_up) {
    // Before any process runs, so that every claim can be judged against
    // what it names.
    nlohmann::json submitted = sut_->Submitted();
    submitted["type"] = "submit";
    submitted["items"] = s_.items;
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
    // Submitters start at their arrival times (StartArrivals).
    for (Proc& p : procs_) started = started && (p.role == "submitter" || Spawn(p));
    for (Proc& p : procs_) started = started && AwaitHello(p);
    result_.started_us = base::MonotonicMicros() - start_mono_;
    if (started) {
      // Where the run's processes run from now on (lockstep_cpu.h); the
      // collector and the model server are never moved.
      if (lockstep_) cpu_.emplace(RunProcesses());
      for (size_t i = 0; i < faults_.size(); ++i) faults_[i]->Start(*ctxs_[i]);
      StartArrivals();
      const int64_t loop_start = base::MonotonicMicros();
      end = lockstep_ ? LockstepLoop() : FreerunLoop();
      if (lockstep_) StopPoint(kNoPick);
      result_.loop_wall_us = base::MonotonicMicros() - loop_start;
    }
    cpu_.reset();
  }
  // A SIGINT/SIGTERM cuts short whatever was under way (a program the
  // harness ran, a start-up): the run was interrupted, not broken.
  if (Interrupted()) {
    end = EngineResult::End::kInterrupted;
  } else if (!result_.error.empty()) {
    end = EngineResult::End::kHarnessError;
  }
  StopAll();
  // What the stopped processes last sent has reached the relay (and the
  // server) before the faults read their evidence.
  SettleDatabase();
  for (size_t i = 0; i < faults_.size(); ++i) faults_[i]->Finish(*ctxs_[i]);
  Snapshot();
  StateCheck();
  EndpointsEnd();
  RunEnd(end);
  TearDownDatabase();
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

}  // namespace faultline::engine_detail

namespace faultline {
std::string_view Name(EngineResult::End end) {
  switch (end) {
    case EngineResult::End::kCompleted: return "completed";
    case EngineResult::End::kSimLimit: return "sim_limit";
    case EngineResult::End::kWallLimit: return "wall_limit";
    case EngineResult::End::kDeadlock: return "deadlock";
    case EngineResult::End::kLivelock: return "livelock";
    case EngineResult::End::kHarnessError: return "harness_error";
    case EngineResult::End::kInterrupted: return "interrupted";
  }
  return "?";
}

EngineResult RunEngine(const ResolvedScenario& scenario, const Catalog& catalog,
                       const EngineOptions& options, TraceWriter* trace) {
  if (options.sut == nullptr) {
    EngineResult r;
    r.end = EngineResult::End::kHarnessError;
    r.error = "the engine was given no system under test (EngineOptions::sut)";
    return r;
  }
  engine_detail::Engine engine(scenario, catalog, options, trace);
  return engine.Run();
}

}  // namespace faultline
