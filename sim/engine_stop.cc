// The engine's one hook for stopping a lockstep run between decisions
// (sim/stop_controller.h). It only reads the process table and the
// interposed processes' table; nothing it does reaches the scheduler, the
// processes or the trace, so a run with a stop controller writes the same
// history as one without.
#include <filesystem>

#include "sim/engine_internal.h"

namespace faultline::engine_detail {

// The live interposed processes follow the run's own, in creation order:
// the scheduler's index space is procs_ then interposed_names_, and `next`
// is an index into it.
void Engine::AddInterposedStops(size_t next, StopView* view) const {
  if (!interposed_) return;
  for (size_t i = 0; i < interposed_names_.size(); ++i) {
    const InterposedProcess* ip = interposed_->Find(interposed_names_[i]);
    if (ip == nullptr || ip->state == InterposedProcess::State::kExited) continue;
    if (next == procs_.size() + i) view->next = static_cast<int>(view->processes.size());
    StopProcess sp;
    sp.id = InterposedId(ip->name);
    sp.role = "command";
    // The harness's pid: a debugger attaches from outside the run's PID
    // namespace, where the process's own pid names someone else.
    sp.pid = ip->host_pid != 0 ? ip->host_pid : ip->pid;
    sp.alive = true;
    sp.starts = 1;
    sp.command = ip->name;
    sp.owner = sp.id.substr(0, sp.id.find('/'));
    sp.program = std::filesystem::path(ip->argv0).filename().string();
    sp.state = ToString(ip->state);
    sp.at = InterposedAt(ip->name);
    if (ip->state == InterposedProcess::State::kParked) {
      sp.parked.kind = Parked::Kind::kYield;
      sp.parked.point = ip->point;
      sp.parked.item = sp.at.size() > ip->point.size() ? sp.at.substr(ip->point.size() + 1) : "";
    }
    if (ip->state == InterposedProcess::State::kSleeping) sp.wakes_at_us = ip->wake_us - kSimEpochUs;
    view->processes.push_back(std::move(sp));
  }
}

int64_t Engine::StopPoint(size_t next) {
  if (o_.stop == nullptr) return 0;
  StopView view;
  view.lines = trace_->lines();
  view.steps = result_.steps;
  view.t_us = T();
  view.coord = coord_;
  view.ending = next == kNoPick;
  for (size_t i = 0; i < procs_.size(); ++i) {
    const Proc& p = procs_[i];
    if (i == next) view.next = static_cast<int>(view.processes.size());
    StopProcess sp;
    sp.id = p.id;
    sp.role = p.role;
    sp.pid = p.pid;
    sp.alive = p.alive;
    sp.starts = p.starts;
    if (p.alive) {
      sp.parked = p.parked;
      if (p.parked.kind == Parked::Kind::kSleep) sp.wakes_at_us = p.wake_at - kSimEpochUs;
      if (p.stalled_until > now_) sp.stalled_until_us = p.stalled_until - kSimEpochUs;
    }
    view.processes.push_back(std::move(sp));
  }
  AddInterposedStops(next, &view);
  // Whatever the processes wrote so far is on disk for whoever looks.
  trace_->Flush();
  const int64_t before = base::MonotonicMicros();
  o_.stop->Between(view);
  return base::MonotonicMicros() - before;
}

}  // namespace faultline::engine_detail
