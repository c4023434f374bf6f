// Lockstep inside an external SUT's commands ("interleave": "syscalls",
// docs/interposition.md): the engine's side of InterposedProcesses.
//
// The command adapter starts each command under libfaultline_interpose.so
// and says "spawned" with its pid in the middle of its step; the engine
// adopts the pid and parks the adapter (Parked::kCommand) until every
// process of that command has exited. Meanwhile the scheduler picks among
// the agents and the interposed processes alike, each interposed step is a
// trace event, and crash_at may kill an interposed process where it parks.
// One clock: the interposed processes read the engine's simulated clock
// (CLOCK_REALTIME = the run's absolute simulated microseconds, as
// FAULTLINE_NOW_MS), and each interposed step moves it by 1 µs. A command's
// timeout counts in that clock too, so that a command that never ends is
// ended at the same step of every run, never by the wall clock.
#include <fmt/format.h>

#include <filesystem>

#include "sim/engine_internal.h"
#include "sim/protocol/interpose_protocol.h"

namespace faultline::engine_detail {

namespace {

// A point's item as the trace shows it: the path relative to the
// coordination directory for sys.*, the program's name (not where it is
// installed, which differs between machines) for proc.*.
std::string ShownItem(const InterposedProcess& p) {
  if (p.point.rfind("proc.", 0) == 0) {
    return std::filesystem::path(p.item).filename().string();
  }
  return p.item;
}

// The part of an interposed name before the first '.': its root.
std::string RootOf(const std::string& name) { return name.substr(0, name.find('.')); }

}  // namespace

bool Engine::StartInterposition() {
  const std::string library = sut_->InterposeLibrary();
  if (library.empty() || !lockstep_) return true;
  std::error_code ec;
  const std::string dir = std::filesystem::canonical(coord_, ec).string();
  if (ec)
    return Fail(
        fmt::format("cannot resolve the coordination directory {}: {}", coord_, ec.message()));
  InterposedProcesses::Options o;
  o.library = library;
  o.coordination_dir = dir;
  // In the run's scratch directory when the path fits a socket address.
  const std::string socket = o_.work_dir + "/interpose.sock";
  if (!o_.work_dir.empty() && socket.size() < 100) o.socket_path = socket;
  // One clock: CLOCK_REALTIME inside reads the absolute simulated clock,
  // which is also what the adapter's commands get as FAULTLINE_NOW_MS.
  o.epoch_us = 0;
  o.start_us = now_;
  o.step_us = 1;
  o.step_timeout_ms = static_cast<int>(s_.step_timeout_ms);
  auto listening = InterposedProcesses::Listen(o);
  if (!listening.ok()) return Fail("interposition: " + listening.status().message());
  interposed_ = std::move(*listening);
  for (const auto& [key, value] : interposed_->Environment()) {
    if (key == "LD_PRELOAD") continue;  // the adapter adds it to its commands only
    for (Proc& p : procs_) p.env.emplace_back(key, value);
  }
  for (Proc& p : procs_) p.env.emplace_back(FL_IP_LIB_ENV, library);
  return true;
}

std::string Engine::InterposedId(const std::string& name) const {
  auto owner = command_owner_.find(RootOf(name));
  return (owner == command_owner_.end() ? std::string("?") : procs_[owner->second].id) + "/" + name;
}

std::string Engine::InterposedAt(const std::string& name) const {
  const InterposedProcess* p = interposed_->Find(name);
  if (p == nullptr || p->state != InterposedProcess::State::kParked) {
    return interposed_->Describe(name).substr(name.size() + 1);
  }
  std::string at = p->point;
  const std::string item = ShownItem(*p);
  if (!item.empty()) at += " " + item;
  if (!p->to.empty()) at += " -> " + p->to;
  return at;
}

bool Engine::AdoptCommand(Proc& p) {
  if (!interposed_) {
    return Fail(
        fmt::format("{} said \"spawned\", but this run does not interleave system calls "
                    "(\"sut\": \"interleave\": \"syscalls\")",
                    p.id));
  }
  auto name = interposed_->Adopt(static_cast<pid_t>(p.parked.pid));
  if (!name.ok()) return Fail(fmt::format("{}'s command: {}", p.id, name.status().message()));
  p.command = *name;
  p.command_deadline = p.parked.timeout_ms > 0 ? now_ + p.parked.timeout_ms * 1000 : -1;
  p.command_steps = 0;
  p.command_timed_out = false;
  command_owner_[*name] = static_cast<size_t>(&p - procs_.data());
  Emit(p.id, {{"type", "sys_spawn"},
              {"process", InterposedId(*name)},
              {"program", ShownItem(*interposed_->Find(*name))}});
  return true;
}

bool Engine::CommandRunning(const Proc& p) const {
  if (!interposed_ || p.command.empty()) return false;
  for (const InterposedProcess* ip : interposed_->Processes()) {
    if (RootOf(ip->name) == p.command && ip->state != InterposedProcess::State::kExited) {
      return true;
    }
  }
  return false;
}

void Engine::AddInterposedRunnable(std::vector<size_t>* runnable) {
  if (!interposed_) return;
  const auto all = interposed_->Processes();
  for (size_t i = interposed_names_.size(); i < all.size(); ++i) {
    interposed_names_.push_back(all[i]->name);
  }
  interposed_->SetClock(now_);
  size_t at = 0;
  for (const std::string& name : interposed_->Runnable()) {
    while (interposed_names_[at] != name) ++at;  // both in creation order
    runnable->push_back(procs_.size() + at);
  }
}

bool Engine::StepInterposed(size_t index) {
  const std::string& name = interposed_names_[index - procs_.size()];
  const InterposedProcess* ip = interposed_->Find(name);
  const std::string id = InterposedId(name);
  if (ip->state == InterposedProcess::State::kParked && ip->point.rfind("sys.", 0) == 0) {
    bool taken = false;
    for (size_t i = 0; i < faults_.size() && !taken; ++i) {
      taken = faults_[i]->OnYield(*ctxs_[i], id, ip->point, ip->item);
    }
    if (taken) return result_.error.empty();
  }
  ++result_.steps;
  if (auto owner = command_owner_.find(RootOf(name)); owner != command_owner_.end()) {
    procs_[owner->second].command_steps++;
  }
  Emit(id, {{"type", "sys_step"}, {"at", InterposedAt(name)}});
  interposed_->SetClock(now_);
  base::Status stepped = interposed_->Step(name);
  now_ = std::max(now_, interposed_->now_us());
  if (!stepped.ok()) return Fail(stepped.message());
  return true;
}

// A crash at a point inside a command: the whole command dies there, every
// process of it where it is parked. Killing only the parked process would
// let its shell go on past the failed call, which no crash does.
bool Engine::KillInterposed(const std::string& id, const std::string& by) {
  if (!interposed_) return false;
  const std::string name = id.substr(id.find('/') + 1);
  const InterposedProcess* ip = interposed_->Find(name);
  auto owner = command_owner_.find(RootOf(name));
  if (ip == nullptr || ip->state == InterposedProcess::State::kExited ||
      owner == command_owner_.end()) {
    return false;
  }
  Proc& p = procs_[owner->second];
  if (p.command != RootOf(name)) return false;
  KillCommand(p, by);
  ++result_.kills;
  StateCheck();
  return result_.error.empty();
}

void Engine::KillCommand(Proc& p, const std::string& by) {
  if (!interposed_ || p.command.empty()) return;
  for (const InterposedProcess* ip : interposed_->Processes()) {
    if (RootOf(ip->name) != p.command || ip->state == InterposedProcess::State::kExited) continue;
    const std::string at = InterposedAt(ip->name);
    base::Status killed = interposed_->Kill(ip->name);
    if (!killed.ok()) {
      Fail(killed.message());
      return;
    }
    Emit("sim",
         {{"type", "sys_kill"}, {"process", InterposedId(ip->name)}, {"at", at}, {"by", by}});
  }
  p.command.clear();
  p.command_deadline = -1;
}

// A step budget besides the deadline: each interposed step moves the clock
// by 1 µs only, so a command polling in a loop without sleeping would take
// millions of steps (minutes of wall time) to reach a timeout of seconds.
// A command that takes as many steps as the engine allows at one instant
// before calling a livelock is as hung as one past its deadline.
bool Engine::TimeOutCommands() {
  if (!interposed_) return true;
  for (Proc& p : procs_) {
    if (!p.alive || p.parked.kind != Parked::Kind::kCommand || !CommandRunning(p)) continue;
    const bool late = p.command_deadline >= 0 && now_ >= p.command_deadline;
    if (!late && p.command_steps < s_.livelock_steps) continue;
    const int64_t timeout_ms = p.parked.timeout_ms;
    Emit(p.id, {{"type", "sys_timeout"},
                {"process", InterposedId(p.command)},
                {"timeout_ms", timeout_ms},
                {"steps", p.command_steps},
                {"why", late ? "timeout" : "steps"}});
    KillCommand(p, "timeout");
    if (!result_.error.empty()) return false;
    p.command_timed_out = true;
  }
  return true;
}

int64_t Engine::NextInterposedWake() const {
  if (!interposed_) return -1;
  int64_t next = interposed_->NextWakeUs();
  for (const Proc& p : procs_) {
    if (p.alive && p.parked.kind == Parked::Kind::kCommand && p.command_deadline >= 0 &&
        CommandRunning(p) && (next < 0 || p.command_deadline < next)) {
      next = p.command_deadline;
    }
  }
  return next;
}

std::string Engine::InterposedReport() const {
  std::string out;
  if (!interposed_) return out;
  for (const InterposedProcess* ip : interposed_->Processes()) {
    if (ip->state == InterposedProcess::State::kExited) continue;
    out += fmt::format("; {} {}", InterposedId(ip->name), InterposedAt(ip->name));
  }
  return out;
}

}  // namespace faultline::engine_detail
