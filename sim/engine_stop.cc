// The engine's one hook for stopping a lockstep run between decisions
// (sim/stop_controller.h). It only reads the process table; nothing it does
// reaches the scheduler, the processes or the trace, so a run with a stop
// controller writes the same history as one without.
#include "sim/engine_internal.h"

namespace faultline::engine_detail {

int64_t Engine::StopPoint(const Proc* next) {
  if (o_.stop == nullptr) return 0;
  StopView view;
  view.lines = trace_->lines();
  view.steps = result_.steps;
  view.t_us = T();
  view.coord = coord_;
  view.ending = next == nullptr;
  for (const Proc& p : procs_) {
    if (&p == next) view.next = static_cast<int>(view.processes.size());
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
  // Whatever the processes wrote so far is on disk for whoever looks.
  trace_->Flush();
  const int64_t before = base::MonotonicMicros();
  o_.stop->Between(view);
  return base::MonotonicMicros() - before;
}

}  // namespace faultline::engine_detail
