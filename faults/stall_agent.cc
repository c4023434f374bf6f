// stall_agent: an agent stops making progress for a while and then carries
// on, unaware (lockstep: not scheduled; freerun: SIGSTOP, then SIGCONT).
// Stands for a GC pause, a swapped-out or stalled worker, a lease overrun.
#include "faults/kinds.h"

namespace faultline::faults {
namespace {

class StallAgent final : public Fault {
 public:
  explicit StallAgent(const nlohmann::json& o)
      : at_ms_(o["at_ms"]), duration_ms_(o["duration_ms"]), count_(o["count"]),
        every_ms_(o["every_ms"]) {}

  void Start(FaultContext& ctx) override {
    for (int i = 0; i < count_; ++i) ctx.SetTimer((at_ms_ + i * every_ms_) * 1000, 0);
  }

  void OnTimer(FaultContext& ctx, int) override {
    ProcessControl& procs = ctx.processes();
    std::vector<std::string> alive;
    for (const std::string& a : procs.List("agent")) {
      if (procs.Alive(a)) alive.push_back(a);
    }
    if (alive.empty()) return;
    const std::string victim = alive[ctx.rng().Index(alive.size())];
    const int64_t until = ctx.Now() + duration_ms_ * 1000;
    procs.Hold(victim, until);
    ctx.Landed({{"agent", victim}, {"at_us", ctx.Now()}, {"until_us", until}});
  }

 private:
  int64_t at_ms_;
  int64_t duration_ms_;
  int count_;
  int64_t every_ms_;
};

}  // namespace

FaultKind StallAgentKind() {
  return {
      "stall_agent",
      "a random live agent is not scheduled (lockstep) or SIGSTOPped (freerun) for a while",
      "stalled worker, GC pause, lease overrun",
      /*lockstep_only=*/false,
      {
          {"at_ms", OptionSpec::Type::kInt, true, nullptr, 0, 86'400'000, {},
           "run time of the first stall (ms)"},
          {"duration_ms", OptionSpec::Type::kInt, true, 2000, 1, 86'400'000, {},
           "how long the agent stalls (ms)"},
          {"count", OptionSpec::Type::kInt, true, 1, 1, 1000, {}, "how many stalls"},
          {"every_ms", OptionSpec::Type::kInt, true, 1000, 1, 86'400'000, {},
           "time between stalls (ms)"},
      },
      [](const nlohmann::json& o) { return std::make_unique<StallAgent>(o); },
      /*needs=*/capability::kProcesses,
  };
}

}  // namespace faultline::faults
