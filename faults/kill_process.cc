#include "faults/kill_process.h"

namespace faultline::faults {

namespace {
// How often a restart looks again whether a SIGTERMed victim has exited.
constexpr int64_t kShutdownPollUs = 50'000;
}  // namespace

KillProcess::KillProcess(const nlohmann::json& o, std::string victim)
    : at_ms_(o["at_ms"]),
      count_(o["count"]),
      every_ms_(o["every_ms"]),
      restart_after_ms_(o["restart_after_ms"]),
      terminate_(o.value("signal", "SIGKILL") == "SIGTERM"),
      victim_(std::move(victim)) {}

void KillProcess::Start(FaultContext& ctx) {
  for (int i = 0; i < count_; ++i) ctx.SetTimer((at_ms_ + i * every_ms_) * 1000, kKill);
}

std::string KillProcess::Choose(FaultContext& ctx) const {
  if (!victim_.empty()) return victim_;
  ProcessControl& procs = ctx.processes();
  std::vector<std::string> alive;
  for (const std::string& a : procs.List("agent")) {
    if (procs.Alive(a)) alive.push_back(a);
  }
  return alive.empty() ? "" : alive[ctx.rng().Index(alive.size())];
}

void KillProcess::OnTimer(FaultContext& ctx, int tag) {
  if (tag == kRestart) {
    if (pending_restarts_.empty()) return;
    // A SIGTERMed victim may still be shutting down: its restart waits.
    if (ctx.processes().Alive(pending_restarts_.front())) {
      ctx.SetTimer(ctx.Now() + kShutdownPollUs, kRestart);
      return;
    }
    ctx.processes().Restart(pending_restarts_.front());
    pending_restarts_.erase(pending_restarts_.begin());
    return;
  }
  const std::string victim = Choose(ctx);
  // Nobody to kill (all gone, or the named process is down): this firing
  // did not land.
  if (terminate_) {
    if (victim.empty() || !ctx.processes().Terminate(victim)) return;
    ctx.Landed({{"agent", victim}, {"at_us", ctx.Now()}, {"signal", "SIGTERM"}});
  } else {
    if (victim.empty() || !ctx.processes().Kill(victim)) return;
    ctx.Landed({{"agent", victim}, {"at_us", ctx.Now()}});
  }
  if (restart_after_ms_ >= 0) {
    pending_restarts_.push_back(victim);
    ctx.SetTimer(ctx.Now() + restart_after_ms_ * 1000, kRestart);
  }
}

}  // namespace faultline::faults
