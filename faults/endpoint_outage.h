// The schedule both endpoint outages share (collector_outage, model_outage):
// `count` outages of one mode, the first at `at_ms`, one every `every_ms`,
// each healed `duration_ms` later (-1: never), of one of the run's endpoints,
// which the fault asks the run for (NeedsCollector, NeedsModel). The switch happens from a timer, which in lockstep
// fires while every controlled process is parked: no request is in flight,
// so the outcome of every request is decided by the mode alone.
#pragma once

#include <string>
#include <vector>

#include "faults/kinds.h"

namespace faultline::faults {

// The options of an outage: its mode (`default_mode`; `mode_help` says what
// each mode does to the endpoint) and its schedule.
inline std::vector<OptionSpec> OutageOptions(const char* default_mode, const char* mode_help) {
  return {
      {"mode", OptionSpec::Type::kString, false, default_mode, 0, 0,
       {"down", "503", "blackhole"}, mode_help},
      {"at_ms", OptionSpec::Type::kInt, true, nullptr, 0, 86'400'000, {},
       "run time the outage begins (ms)"},
      {"duration_ms", OptionSpec::Type::kInt, true, 2000, -1, 86'400'000, {},
       "how long it lasts (ms); -1: never heals"},
      {"count", OptionSpec::Type::kInt, true, 1, 1, 1000, {}, "how many outages"},
      {"every_ms", OptionSpec::Type::kInt, true, 5000, 1, 86'400'000, {},
       "time between the starts of outages (ms)"},
  };
}

class EndpointOutage : public Fault {
 public:
  EndpointOutage(const nlohmann::json& o, Endpoint endpoint)
      : endpoint_(endpoint),
        mode_(*ParseCollectorMode(o["mode"].get<std::string>())),
        at_ms_(o["at_ms"]),
        duration_ms_(o["duration_ms"]),
        count_(o["count"]),
        every_ms_(o["every_ms"]) {}

  bool NeedsCollector() const override { return endpoint_ == Endpoint::kCollector; }
  bool NeedsModel() const override { return endpoint_ == Endpoint::kModel; }

  void Start(FaultContext& ctx) override {
    for (int i = 0; i < count_; ++i) ctx.SetTimer((at_ms_ + i * every_ms_) * 1000, kBreak);
  }

  void OnTimer(FaultContext& ctx, int tag) override {
    if (tag == kHeal) {
      if (ctx.endpoints().Switch(endpoint_, CollectorMode::kUp)) {
        ctx.Landed({{"healed", true}, {"at_us", ctx.Now()}});
      }
      return;
    }
    if (!ctx.endpoints().Switch(endpoint_, mode_)) return;
    nlohmann::json landed = {{"mode", Name(mode_)}, {"at_us", ctx.Now()}};
    if (duration_ms_ >= 0) {
      landed["until_us"] = ctx.Now() + duration_ms_ * 1000;
      ctx.SetTimer(ctx.Now() + duration_ms_ * 1000, kHeal);
    }
    ctx.Landed(landed);
  }

 private:
  enum { kBreak, kHeal };
  Endpoint endpoint_;
  CollectorMode mode_;
  int64_t at_ms_;
  int64_t duration_ms_;
  int count_;
  int64_t every_ms_;
};

}  // namespace faultline::faults
