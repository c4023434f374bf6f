// Lockstep (DESIGN §3): one process runs at a time; when nothing can run the
// simulated clock jumps to the next wake-up, stall end or fault timer.
#include "sim/engine_internal.h"

#include <algorithm>
#include <cstdint>
#include <fmt/format.h>

#include "sim/protocol/control_protocol.h"
#include "sim/scheduler.h"

namespace faultline::engine_detail {

void Engine::FireDueTimers() {
  while (!timers_.empty() && timers_.top().at <= T()) {
    Timer t = timers_.top();
    timers_.pop();
    t.fire();
  }
}

// A process parked at a yield point on an item another live process is
// parked at too: two steps on the same item are both pending (a collision).
// A lock file's name counts as its item ("w7.lock" is "w7"): a process
// retrying a busy lock collides with the holder parked inside it.
bool Engine::Collides(const Proc& p) const {
  auto item_of = [](const std::string& item) {
    constexpr std::string_view kLock = ".lock";
    return item.size() > kLock.size() && item.ends_with(kLock)
               ? std::string_view(item).substr(0, item.size() - kLock.size())
               : std::string_view(item);
  };
  if (p.parked.kind != Parked::Kind::kYield || p.parked.item.empty()) return false;
  const std::string_view mine = item_of(p.parked.item);
  for (const Proc& q : procs_) {
    if (&q != &p && q.alive && q.parked.kind == Parked::Kind::kYield &&
        item_of(q.parked.item) == mine) {
      return true;
    }
  }
  return false;
}

// One lockstep step: lets `p` go and reads until it parks again or exits.
bool Engine::Step(Proc& p) {
  ++result_.steps;
  const Parked was = p.parked;
  const bool timed_out = was.kind == Parked::Kind::kCommand && p.command_timed_out;
  if (was.kind == Parked::Kind::kCommand) p.command.clear();  // its command has ended
  p.command_timed_out = false;
  const int64_t boot = p.ClockAt(now_, T());
  // The database server's clock is the simulated clock itself: a skewed
  // process's clock is off it, and a store that judges leases on the
  // server's clock reads it from the answer (docs/protocol.md).
  const int64_t server = db_ != nullptr ? now_ : boot;
  if (!p.conn->Go(boot + p.wall_step_us, boot, server, timed_out)) {
    OnClosed(p);
    return result_.error.empty();
  }
  std::string error;
  bool silenced = false;
  auto r = p.conn->AwaitPark(
      static_cast<int>(s_.step_timeout_ms),
      [&](nlohmann::json ev, int64_t) {
        Emit(p.id, std::move(ev));
        // Once the run has failed while `p` talks (e.g. it passed
        // limits.process_events), nothing more it says counts: the read
        // is abandoned, instead of waiting out the step timeout for a park
        // that a flood never sends. The run ends; its processes are killed.
        silenced = silenced || !result_.error.empty();
      },
      &p.parked, &error, o_.interrupted, &silenced);
  switch (r) {
    case ControlConnection::Read::kParked:
      if (Collides(p)) CountProbe(protocol::probe::kCollision, true);
      if (p.parked.kind == Parked::Kind::kSleep) {
        p.wake_at = now_ + p.SleepSpan(p.parked.sleep_us);
        ++p.sleeps;
        SampleUsage(p);
      }
      ChargeLatency(p);
      if (p.parked.kind == Parked::Kind::kCommand) return AdoptCommand(p);
      return true;
    case ControlConnection::Read::kClosed:
      if (!OfferDeath(p)) OnClosed(p);
      return result_.error.empty();
    case ControlConnection::Read::kTimeout:
      return Fail(fmt::format(
          "uncontrolled block: {} was resumed from {} and did not reach its next yield point "
          "within {} ms of wall time (it is blocked outside the control channel)",
          p.id,
          was.kind == Parked::Kind::kYield ? "yield point " + was.point + " (" + was.item + ")"
          : was.kind == Parked::Kind::kSleep   ? std::string("a sleep")
          : was.kind == Parked::Kind::kCommand ? std::string("the end of its command")
                                               : std::string("its start"),
          s_.step_timeout_ms));
    case ControlConnection::Read::kBadMessage:
      return Fail(fmt::format("{} broke the control protocol: {}", p.id, error));
    case ControlConnection::Read::kInterrupted:
      return true;  // the loop sees the flag next and ends the run as interrupted
    case ControlConnection::Read::kAbandoned:
      return false;  // the run failed while `p` talked; result_.error says why
  }
  return true;
}

LockstepCpu::ForEachProcess Engine::RunProcesses() {
  return [this](const std::function<void(pid_t)>& each) {
    for (const Proc& q : procs_) {
      if (q.alive && q.pid > 0) each(q.pid);
    }
  };
}

void Engine::AfterStepPlacement() {
  if (cpu_) cpu_->AfterStep(RunProcesses());
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
      case Parked::Kind::kCommand: out += "waits for its command " + p.command; break;
    }
    if (p.stalled_until > now_) out += " (stalled)";
  }
  out += InterposedReport();
  return out.empty() ? "no live process" : out;
}

EngineResult::End Engine::LockstepLoop() {
  std::unique_ptr<Scheduler> scheduler =
      s_.scheduler == "pct"
          ? MakePctScheduler(Rng(s_.seed).Split("scheduler"), s_.pct_depth,
                             int64_t{s_.items} * 12 + s_.agents * 4)
          : MakeRandomScheduler(Rng(s_.seed).Split("scheduler"));
  int64_t wall_deadline = start_mono_ + s_.wall_ms * 1000;  // moved on by stops
  const int64_t sim_deadline = kSimEpochUs + s_.sim_ms * 1000;
  std::vector<size_t> runnable;
  // A snapshot every kSnapshotEverySteps decisions, or every half as many
  // where the heartbeat's points are passed: fewer decisions then cover the
  // same work, and the snapshots must not get sparser for it (at most 32
  // steps on shared state between two; docs/determinism.md).
  const uint64_t snapshot_every =
      PassedPoints().empty() ? kSnapshotEverySteps : kSnapshotEverySteps / 2;
  for (;;) {
    if (Interrupted()) return EngineResult::End::kInterrupted;
    if (!result_.error.empty()) return EngineResult::End::kHarnessError;
    if (base::MonotonicMicros() > wall_deadline) return EngineResult::End::kWallLimit;
    if (!TimeOutCommands()) return EngineResult::End::kHarnessError;
    runnable.clear();
    bool agents_alive = false;
    for (size_t i = 0; i < procs_.size(); ++i) {
      const Proc& p = procs_[i];
      if (!p.alive) continue;
      agents_alive = agents_alive || Working(p);
      if (p.stalled_until > now_) continue;
      if (p.parked.kind == Parked::Kind::kSleep     ? p.wake_at <= now_
          : p.parked.kind == Parked::Kind::kCommand ? !CommandRunning(p)
                                                    : p.parked.kind != Parked::Kind::kNone) {
        runnable.push_back(i);
      }
    }
    AddInterposedRunnable(&runnable);
    if (!agents_alive && timers_.empty()) {
      // Agents that went idle before work arrived are started again.
      if (WakeIdleAgents() == 0) return EngineResult::End::kCompleted;
      continue;
    }
    if (runnable.empty()) {
      // Nothing can run now: jump the clock to the next thing that happens.
      int64_t next = INT64_MAX;
      for (const Proc& p : procs_) {
        if (!p.alive) continue;
        if (p.stalled_until > now_) next = std::min(next, p.stalled_until);
        else if (p.parked.kind == Parked::Kind::kSleep) next = std::min(next, p.wake_at);
      }
      if (!timers_.empty()) next = std::min(next, timers_.top().at + kSimEpochUs);
      if (const int64_t wake = NextInterposedWake(); wake >= 0) next = std::min(next, wake);
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
    const size_t picked = scheduler->Pick(runnable);
    if (picked >= procs_.size()) {
      wall_deadline += StopPoint(picked);
      if (!StepInterposed(picked)) return EngineResult::End::kHarnessError;
      AfterStepPlacement();
      if (result_.steps % snapshot_every == 0) Snapshot();
      continue;
    }
    Proc& p = procs_[picked];
    // No connection of a process that is gone still holds the database's locks.
    if (!SettleDatabase()) return EngineResult::End::kHarnessError;
    wall_deadline += StopPoint(picked);
    if (p.parked.kind == Parked::Kind::kYield) {
      bool taken = false;
      for (size_t i = 0; i < faults_.size() && !taken; ++i) {
        taken = faults_[i]->OnYield(*ctxs_[i], p.id, p.parked.point, p.parked.item);
      }
      if (taken) continue;
    }
    if (!Step(p)) return EngineResult::End::kHarnessError;
    AfterStepPlacement();
    const bool yielded = p.parked.kind == Parked::Kind::kYield;
    if (livelock_.OnStep(T(), static_cast<size_t>(&p - procs_.data()), p.id,
                         yielded ? p.parked.point : std::string(), p.parked.item)) {
      return EngineResult::End::kLivelock;
    }
    if (result_.steps % snapshot_every == 0) Snapshot();
  }
}

}  // namespace faultline::engine_detail
