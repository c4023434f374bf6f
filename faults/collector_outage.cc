// collector_outage: the run's collector (faultline sink) goes down — killed
// ("down"), answering 503, or accepting and never answering ("blackhole") —
// at `at_ms`, and is healed `duration_ms` later (restarted on the same port
// when it was killed). Stands for silent OTEL span loss (RPN 192): the agents
// must spool what they cannot export and count, never hide, what they drop.
//
// The switch happens from a timer, which in lockstep fires while every
// controlled process is parked: no export is in flight, so the outcome of
// every export is decided by the mode alone.
#include "faults/kinds.h"

namespace faultline::faults {
namespace {

class CollectorOutage final : public Fault {
 public:
  explicit CollectorOutage(const nlohmann::json& o)
      : mode_(*ParseCollectorMode(o["mode"].get<std::string>())),
        at_ms_(o["at_ms"]),
        duration_ms_(o["duration_ms"]),
        count_(o["count"]),
        every_ms_(o["every_ms"]) {}

  bool NeedsCollector() const override { return true; }

  void Start(FaultContext& ctx) override {
    for (int i = 0; i < count_; ++i) ctx.SetTimer((at_ms_ + i * every_ms_) * 1000, kBreak);
  }

  void OnTimer(FaultContext& ctx, int tag) override {
    if (tag == kHeal) {
      if (ctx.SetCollectorMode(CollectorMode::kUp)) {
        ctx.Landed({{"healed", true}, {"at_us", ctx.Now()}});
      }
      return;
    }
    if (!ctx.SetCollectorMode(mode_)) return;
    nlohmann::json landed = {{"mode", Name(mode_)}, {"at_us", ctx.Now()}};
    if (duration_ms_ >= 0) {
      landed["until_us"] = ctx.Now() + duration_ms_ * 1000;
      ctx.SetTimer(ctx.Now() + duration_ms_ * 1000, kHeal);
    }
    ctx.Landed(landed);
  }

 private:
  enum { kBreak, kHeal };
  CollectorMode mode_;
  int64_t at_ms_;
  int64_t duration_ms_;
  int count_;
  int64_t every_ms_;
};

}  // namespace

FaultKind CollectorOutageKind() {
  return {
      "collector_outage",
      "the collector (faultline sink) is killed, answers 503, or blackholes requests, then heals",
      "silent OTEL span loss (RPN 192)",
      /*lockstep_only=*/false,
      {
          {"mode", OptionSpec::Type::kString, false, "down", 0, 0,
           {"down", "503", "blackhole"},
           "down: the sink is killed (connection refused) and restarted on the same port to "
           "heal; 503: it answers 503 Service Unavailable; blackhole: it accepts and never "
           "answers (exports time out)"},
          {"at_ms", OptionSpec::Type::kInt, true, nullptr, 0, 86'400'000, {},
           "run time the outage begins (ms)"},
          {"duration_ms", OptionSpec::Type::kInt, true, 2000, -1, 86'400'000, {},
           "how long it lasts (ms); -1: never heals"},
          {"count", OptionSpec::Type::kInt, true, 1, 1, 1000, {}, "how many outages"},
          {"every_ms", OptionSpec::Type::kInt, true, 5000, 1, 86'400'000, {},
           "time between the starts of outages (ms)"},
      },
      [](const nlohmann::json& o) { return std::make_unique<CollectorOutage>(o); },
  };
}

}  // namespace faultline::faults
