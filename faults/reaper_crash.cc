// reaper_crash: the janitor is SIGKILLed and restarted later. Stands for a
// supervisor crash (HAL-O-SWARM runbook): nothing may depend on the reaper
// being up, and a restarted reaper must pick up where the dead one left off.
#include "faults/process_faults.h"

namespace faultline::faults {
namespace {

class ReaperCrash final : public Fault {
 public:
  explicit ReaperCrash(const nlohmann::json& o)
      : at_ms_(o["at_ms"]), count_(o["count"]), every_ms_(o["every_ms"]),
        restart_after_ms_(o["restart_after_ms"]) {}

  void Start(FaultContext& ctx) override {
    for (int i = 0; i < count_; ++i) ctx.SetTimer((at_ms_ + i * every_ms_) * 1000, kKill);
  }

  void OnTimer(FaultContext& ctx, int tag) override {
    if (tag == kRestart) {
      ctx.Restart("reaper");
      return;
    }
    if (!ctx.Kill("reaper")) return;
    ctx.Landed({{"agent", "reaper"}, {"at_us", ctx.Now()}});
    if (restart_after_ms_ >= 0) ctx.SetTimer(ctx.Now() + restart_after_ms_ * 1000, kRestart);
  }

 private:
  enum { kKill, kRestart };
  int64_t at_ms_;
  int count_;
  int64_t every_ms_;
  int64_t restart_after_ms_;
};

}  // namespace

FaultKind ReaperCrashKind() {
  return {
      "reaper_crash",
      "SIGKILL the reaper at a run time and restart it later",
      "supervisor / janitor crash",
      /*lockstep_only=*/false,
      {
          {"at_ms", OptionSpec::Type::kInt, true, nullptr, 0, 86'400'000, {},
           "run time of the first crash (ms)"},
          {"count", OptionSpec::Type::kInt, true, 1, 1, 1000, {}, "how many crashes"},
          {"every_ms", OptionSpec::Type::kInt, true, 2000, 1, 86'400'000, {},
           "time between crashes (ms)"},
          {"restart_after_ms", OptionSpec::Type::kInt, true, 1000, -1, 86'400'000, {},
           "restart after this long; -1: never"},
      },
      [](const nlohmann::json& o) { return std::make_unique<ReaperCrash>(o); },
  };
}

}  // namespace faultline::faults
