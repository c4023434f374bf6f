// clock_step: at a run time, the wall clock of every process (or of some)
// jumps forward or back, as NTP or `date -s` steps a host's clock. Only the
// wall clock moves (CLOCK_REALTIME); the boot clock does not (ClockControl:
// lockstep, the simulator's "now" jumps and the process is also sent the
// unstepped boot clock; freerun, a preloaded library adds the step to what
// libc's wall-clock calls return). A coordinator that judges leases or
// deaths on the wall clock then expires healthy leases, declares live agents
// dead (forward), or stretches a dead holder's lease (back). Stands for
// lease safety under a wall-clock step.
#include "faults/kinds.h"

namespace faultline::faults {
namespace {

class ClockStep final : public Fault {
 public:
  explicit ClockStep(const nlohmann::json& o)
      : at_ms_(o["at_ms"]), step_ms_(o["step_ms"]), targets_(o["targets"]), count_(o["count"]) {}

  void Prepare(FaultContext& ctx) override {
    std::vector<std::string> pool = ctx.processes().List(targets_ == "agents"   ? "agent"
                                                         : targets_ == "reaper" ? "reaper"
                                                                                : "");
    if (count_ < 0) {
      victims_ = pool;
    } else {
      for (int i = 0; i < count_ && !pool.empty(); ++i) {
        const size_t pick = ctx.rng().Index(pool.size());
        victims_.push_back(pool[pick]);
        pool.erase(pool.begin() + static_cast<long>(pick));
      }
    }
    for (const std::string& proc : victims_) ctx.clocks().Steppable(proc);
  }

  void Start(FaultContext& ctx) override {
    if (!victims_.empty()) ctx.SetTimer(at_ms_ * 1000, 0);
  }

  void OnTimer(FaultContext& ctx, int) override {
    nlohmann::json stepped = nlohmann::json::array();
    for (const std::string& proc : victims_) {
      if (ctx.clocks().Step(proc, step_ms_ * 1000)) stepped.push_back(proc);
    }
    // One landing for the step; a stepped process that is dead at the time
    // reads the stepped clock when it starts again.
    if (!stepped.empty()) ctx.Landed({{"procs", stepped}, {"step_us", step_ms_ * 1000}});
  }

 private:
  int64_t at_ms_;
  int64_t step_ms_;
  std::string targets_;
  int count_;
  std::vector<std::string> victims_;
};

}  // namespace

FaultKind ClockStepKind() {
  return {
      "clock_step",
      "at a run time the wall clock of all or some processes steps forward or back, in both "
      "modes (the boot clock does not)",
      "lease safety under a wall-clock step (NTP, date -s)",
      /*lockstep_only=*/false,
      {
          {"at_ms",
           OptionSpec::Type::kInt,
           true,
           nullptr,
           0,
           86'400'000,
           {},
           "run time of the step (ms)"},
          {"step_ms",
           OptionSpec::Type::kInt,
           true,
           nullptr,
           -86'400'000,
           86'400'000,
           {},
           "how far the wall clock jumps (ms; negative: back)"},
          {"targets",
           OptionSpec::Type::kString,
           false,
           "all",
           0,
           0,
           {"all", "agents", "reaper"},
           "whose wall clock steps: every process, the agents, or the reaper"},
          {"count",
           OptionSpec::Type::kInt,
           true,
           -1,
           -1,
           1024,
           {},
           "how many of the targets (chosen from the seed); -1: all of them"},
      },
      [](const nlohmann::json& o) { return std::make_unique<ClockStep>(o); },
      /*needs=*/capability::kProcesses | capability::kClocks,
  };
}

}  // namespace faultline::faults
