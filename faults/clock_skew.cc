// clock_skew: some agents' clocks run ahead of (or behind) the others', by a
// fixed offset and optionally a drift, from their start on (lockstep: the
// simulator skews the "now" it sends; freerun: the process skews its real
// clock). Leases and heartbeats are stamped with these clocks, so an agent
// ahead takes over leases early and a reaper behind declares agents dead
// late. Stands for lease safety under clock skew: the coordinator must keep
// single ownership as long as the skew stays within its clock_skew_ms.
#include <cstdlib>

#include "faults/kinds.h"

namespace faultline::faults {
namespace {

class ClockSkew final : public Fault {
 public:
  explicit ClockSkew(const nlohmann::json& o)
      : agents_(o["agents"]), offset_ms_(o["offset_ms"]), drift_ppm_(o["drift_ppm"]),
        spread_(o["spread"]), reaper_(o["reaper"]) {}

  void Prepare(FaultContext& ctx) override {
    std::vector<std::string> pool = ctx.processes().List("agent");
    std::vector<std::string> victims;
    for (int i = 0; i < agents_ && !pool.empty(); ++i) {
      const size_t pick = ctx.rng().Index(pool.size());
      victims.push_back(pool[pick]);
      pool.erase(pool.begin() + static_cast<long>(pick));
    }
    if (reaper_) victims.push_back("reaper");
    for (const std::string& proc : victims) {
      // "spread": each victim draws its own offset in [-|offset|, |offset|];
      // otherwise every victim is off by exactly offset_ms.
      const int64_t offset_us =
          spread_ ? ctx.rng().Between(-std::llabs(offset_ms_), std::llabs(offset_ms_)) * 1000
                  : offset_ms_ * 1000;
      ctx.clocks().Skew(proc, offset_us, drift_ppm_);
      ctx.Landed({{"agent", proc}, {"offset_us", offset_us}, {"drift_ppm", drift_ppm_}});
    }
  }

  void Start(FaultContext&) override {}

 private:
  int agents_;
  int64_t offset_ms_;
  int64_t drift_ppm_;
  bool spread_;
  bool reaper_;
};

}  // namespace

FaultKind ClockSkewKind() {
  return {
      "clock_skew",
      "chosen agents' clocks run off by an offset (and drift) from their start, in both modes",
      "lease safety under clock skew",
      /*lockstep_only=*/false,
      {
          {"agents", OptionSpec::Type::kInt, true, 1, 0, 1024, {},
           "how many agents (chosen from the seed) get a skewed clock"},
          {"offset_ms", OptionSpec::Type::kInt, true, 500, -86'400'000, 86'400'000, {},
           "how far ahead (negative: behind) their clocks are (ms)"},
          {"drift_ppm", OptionSpec::Type::kInt, true, 0, -500'000, 500'000, {},
           "how fast their clocks drift further (µs per second of run time)"},
          {"spread", OptionSpec::Type::kBool, false, false, 0, 0, {},
           "each victim draws its own offset in [-|offset_ms|, |offset_ms|]"},
          {"reaper", OptionSpec::Type::kBool, false, false, 0, 0, {},
           "skew the reaper's clock by offset_ms too"},
      },
      [](const nlohmann::json& o) { return std::make_unique<ClockSkew>(o); },
      /*needs=*/capability::kProcesses | capability::kClocks,
  };
}

}  // namespace faultline::faults
