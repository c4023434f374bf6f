// The engine's process table: starting a system's processes under control,
// reading what a dead one wrote, recording exits, and what faults do to a
// process (kill, restart, hold, descriptor limits); resource samples.
#include "sim/engine_internal.h"

#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sim/protocol/control_protocol.h"

namespace faultline::engine_detail {

bool Engine::Host::RunProgram(const std::vector<std::string>& argv, const std::string& log_path,
                              ExitStatus* status, std::string* error) {
  SpawnSpec spec;
  spec.id = std::filesystem::path(argv.front()).filename().string();
  spec.argv = argv;
  spec.log_path = log_path;
  spec.control_channel = false;
  spec.env = e_->tool_env_;
  // What the program reads of the database is what the processes left.
  if (!e_->SettleDatabase()) {
    *error = e_->result_.error;
    return false;
  }
  auto child = e_->processes_.Spawn(spec);
  if (!child.ok()) {
    *error = child.status().message();
    return false;
  }
  // A program the harness runs itself is bounded like a step: one that
  // never exits (or a SIGTERM/SIGINT meanwhile) ends the wait, and it is
  // killed.
  const int64_t deadline = base::MonotonicMicros() + e_->s_.step_timeout_ms * 1000;
  for (;;) {
    if (std::optional<ExitStatus> done = e_->processes_.Poll(child->pid)) {
      *status = *done;
      return true;
    }
    const bool interrupted = e_->Interrupted();
    if (interrupted || base::MonotonicMicros() > deadline) {
      e_->processes_.Signal(child->pid, SIGKILL);
      e_->processes_.Wait(child->pid);
      *error = interrupted ? fmt::format("{} was interrupted (SIGINT/SIGTERM)", spec.id)
                           : fmt::format("{} did not exit within {} ms (limits.step_timeout_ms); "
                                         "it was killed",
                                         fmt::join(argv, " "), e_->s_.step_timeout_ms);
      return false;
    }
    const timespec pause{0, 2'000'000};
    nanosleep(&pause, nullptr);
  }
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

namespace {

// Whether `point` is a string anywhere in `options` (a fault that acts at a
// point names it in an option: crash_at's and power_loss's "point").
bool Names(const nlohmann::json& options, const std::string& point) {
  if (options.is_string()) return options.get_ref<const std::string&>() == point;
  if (!options.is_structured()) return false;
  for (const nlohmann::json& value : options) {
    if (Names(value, point)) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> Engine::PassedPoints() const {
  std::vector<std::string> passed;
  // The points are the reference coordinator's; another system's processes
  // park wherever they yield.
  if (!lockstep_ || s_.own_state != "pass" || external_sut()) return passed;
  for (const char* point : protocol::point::kOwnState) {
    const bool named = std::any_of(s_.faults.begin(), s_.faults.end(),
                                   [&](const FaultInstance& f) { return Names(f.options, point); });
    if (!named) passed.emplace_back(point);
  }
  return passed;
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
  if (!lockstep_ && p.step_page) AddWallClockEnv(p, &spec.env);
  if (const std::vector<std::string> passed = PassedPoints(); !passed.empty()) {
    spec.env.emplace_back(protocol::kPassPointsEnv, fmt::format("{}", fmt::join(passed, ",")));
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
  p.command.clear();
  p.started_at = T();
  p.sleeps = 0;
  p.clean_exit = false;
  p.start_order = ++lifecycle_;
  nlohmann::json spawn = {
      {"type", "spawn"}, {"agent", p.id}, {"role", p.role}, {"restart", p.starts > 0}};
  if (p.role == "submitter") spawn["items"] = p.arrival_items;
  Emit("sim", std::move(spawn));
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
      [&](nlohmann::json ev, int64_t) { Emit(p.id, std::move(ev)); }, &p.parked, &error,
      o_.interrupted);
  if (r == ControlConnection::Read::kParked && p.parked.kind == Parked::Kind::kHello) return true;
  // The run's loop sees the flag and ends the run as interrupted.
  if (r == ControlConnection::Read::kInterrupted) return true;
  if (r == ControlConnection::Read::kClosed) {
    OnClosed(p);
    return result_.error.empty();  // it exited at once (e.g. refused); the history says so
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

void Engine::SampleUsage(Proc& p) {
  if (o_.resources == nullptr) return;
  const Usage usage = p.usage.Read(p.pid);
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
  p.clean_exit = status.exited && status.code == 0;
  Emit("sim", std::move(ev));
  if (p.role == "submitter") OnSubmitterEnd();
}

void Engine::OnClosed(Proc& p) {
  // End of file comes a moment before the exit status can be reaped.
  const int64_t deadline = base::MonotonicMicros() + s_.step_timeout_ms * 1000;
  for (;;) {
    if (std::optional<ExitStatus> status = processes_.Poll(p.pid)) {
      OnExit(p, *status);
      return;
    }
    if (base::MonotonicMicros() > deadline) break;
    const timespec pause{0, 1'000'000};
    nanosleep(&pause, nullptr);
  }
  Fail(fmt::format("{} (pid {}) closed its control channel but did not exit within {} ms: it "
                   "would run uncontrolled; it was killed",
                   p.id, p.pid, s_.step_timeout_ms));
  processes_.Signal(p.pid, SIGKILL);
  OnExit(p, processes_.Wait(p.pid));
}

// A death in a process's own step that a fault's mechanism caused (a layer
// inside the process): the fault records it through Kill (Fault::OnDied).
bool Engine::OfferDeath(Proc& p) {
  for (size_t i = 0; i < faults_.size() && p.alive; ++i) {
    if (faults_[i]->OnDied(*ctxs_[i], p.id) && !p.alive) return true;
  }
  return !p.alive;
}

bool Engine::Kill(const std::string& id, const std::string& by) {
  if (IsInterposedId(id)) return KillInterposed(id, by);
  Proc* p = Find(id);
  if (p == nullptr || !p->alive) return false;
  // Its command's processes first, each where it is parked: the adapter's
  // death would have them killed at an unknown moment.
  if (p->parked.kind == Parked::Kind::kCommand) KillCommand(*p, by);
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
  if (p->role == "submitter") OnSubmitterEnd();
  return true;
}

bool Engine::Terminate(const std::string& id) {
  Proc* p = Find(id);
  if (p == nullptr || !p->alive) return false;
  processes_.Signal(p->pid, SIGTERM);
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

void Engine::StopAll() {
  // Every interposed process first (the destructor kills and reaps them),
  // before their adapters' deaths could.
  interposed_.reset();
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

}  // namespace faultline::engine_detail
