// kill_agent: SIGKILL a random live agent at a run time, `count` times
// `every_ms` apart, optionally restarting it under the same id. Stands for a
// worker crash (OOM kill, node loss): the runbooks' worker-crash and zombie
// modes, and the lease takeover that must follow.
#include <fmt/format.h>

#include "faults/process_faults.h"

namespace faultline::faults {
namespace {

class KillAgent final : public Fault {
 public:
  explicit KillAgent(const nlohmann::json& o)
      : at_ms_(o["at_ms"]), count_(o["count"]), every_ms_(o["every_ms"]),
        restart_after_ms_(o["restart_after_ms"]) {}

  void Start(FaultContext& ctx) override {
    for (int i = 0; i < count_; ++i) ctx.SetTimer((at_ms_ + i * every_ms_) * 1000, kKill);
  }

  void OnTimer(FaultContext& ctx, int tag) override {
    if (tag == kKill) {
      std::vector<std::string> alive;
      for (const std::string& a : ctx.Agents()) {
        if (ctx.Alive(a)) alive.push_back(a);
      }
      if (alive.empty()) return;  // nobody left to kill: this firing did not land
      const std::string victim = alive[ctx.rng().Index(alive.size())];
      if (!ctx.Kill(victim)) return;
      ctx.Landed({{"agent", victim}, {"at_us", ctx.Now()}});
      if (restart_after_ms_ >= 0) {
        pending_.push_back(victim);
        ctx.SetTimer(ctx.Now() + restart_after_ms_ * 1000, kRestart);
      }
    } else if (!pending_.empty()) {
      ctx.Restart(pending_.front());
      pending_.erase(pending_.begin());
    }
  }

 private:
  enum { kKill, kRestart };
  int64_t at_ms_;
  int count_;
  int64_t every_ms_;
  int64_t restart_after_ms_;
  std::vector<std::string> pending_;
};

}  // namespace

FaultKind KillAgentKind() {
  return {
      "kill_agent",
      "SIGKILL a random live agent at a run time (repeatable), optionally restart it",
      "worker crash, zombie worker, lease takeover",
      /*lockstep_only=*/false,
      {
          {"at_ms", OptionSpec::Type::kInt, true, nullptr, 0, 86'400'000, {},
           "run time of the first kill (ms)"},
          {"count", OptionSpec::Type::kInt, true, 1, 1, 1000, {}, "how many kills"},
          {"every_ms", OptionSpec::Type::kInt, true, 1000, 1, 86'400'000, {},
           "time between kills (ms)"},
          {"restart_after_ms", OptionSpec::Type::kInt, true, -1, -1, 86'400'000, {},
           "restart the killed agent under the same id after this long; -1: never"},
      },
      [](const nlohmann::json& o) { return std::make_unique<KillAgent>(o); },
  };
}

}  // namespace faultline::faults
