// network_latency: from `at_ms` for `duration_ms`, the links of `count` live
// agents to the database server are slow: each request takes up_ms to
// reach the server and each answer down_ms to come back, plus a uniform
// draw of up to jitter_ms. Stands for a slow or congested network between
// the agents' hosts and the database.
//
// Freerun: the relay delays every chunk by that much (order kept per
// direction). Lockstep: simulated time does not pass while a process runs,
// so the delay is paid in simulated time instead: when a slowed agent next
// parks at a yield point, it is held for (up_ms + down_ms + a jitter draw)
// per round trip it made since — other agents run and leases run out
// meanwhile. The draws come from the fault's stream, the round trips from
// the relay: the same in every run of a seed.
//
// Landed at the end of the slow window (or of the run) with the round
// trips that were slowed and, in lockstep, the simulated delay added;
// nothing slowed: not landed.
#include <map>

#include "faults/kinds.h"
#include "faults/pick_agents.h"

namespace faultline::faults {
namespace {

enum Tag { kSlow, kNormal };

class NetworkLatency final : public Fault {
 public:
  explicit NetworkLatency(const nlohmann::json& o)
      : at_ms_(o["at_ms"]), duration_ms_(o["duration_ms"]), count_(o["count"]),
        up_ms_(o["up_ms"]), down_ms_(o["down_ms"]), jitter_ms_(o["jitter_ms"]) {}

  void Start(FaultContext& ctx) override { ctx.SetTimer(at_ms_ * 1000, kSlow); }

  void OnTimer(FaultContext& ctx, int tag) override {
    NetworkControl& net = ctx.network();
    if (tag == kSlow) {
      victims_ = PickLiveAgents(ctx, count_);
      for (const std::string& a : victims_) {
        seen_[a] = start_[a] = net.RoundTrips(a);
        if (!ctx.Lockstep()) net.SetLatency(a, up_ms_ * 1000, down_ms_ * 1000, jitter_ms_ * 1000);
      }
      active_ = !victims_.empty();
      ctx.SetTimer(ctx.Now() + duration_ms_ * 1000, kNormal);
    } else if (active_) {
      End(ctx);
    }
  }

  bool OnYield(FaultContext& ctx, const std::string& proc, std::string_view point,
               std::string_view item) override {
    (void)point, (void)item;
    if (!active_ || !ctx.Lockstep()) return false;
    const auto it = seen_.find(proc);
    if (it == seen_.end()) return false;
    const uint64_t now_trips = ctx.network().RoundTrips(proc);
    const uint64_t trips = now_trips - it->second;
    it->second = now_trips;
    if (trips == 0) return false;
    int64_t delay_us = 0;
    for (uint64_t i = 0; i < trips; ++i) {
      delay_us += (up_ms_ + down_ms_) * 1000;
      if (jitter_ms_ > 0) delay_us += ctx.rng().Between(0, jitter_ms_ * 1000);
    }
    added_us_ += delay_us;
    // Held where it parked: it goes on once its answers have "arrived".
    ctx.processes().Hold(proc, ctx.Now() + delay_us);
    return true;
  }

  void Finish(FaultContext& ctx) override {
    if (active_) End(ctx);
  }

 private:
  void End(FaultContext& ctx) {
    active_ = false;
    NetworkControl& net = ctx.network();
    uint64_t slowed = 0;
    for (const std::string& a : victims_) {
      slowed += net.RoundTrips(a) - start_[a];
      if (!ctx.Lockstep()) net.SetLatency(a, 0, 0, 0);
    }
    if (slowed == 0) return;
    nlohmann::json details = {{"agents", victims_}, {"round_trips", slowed},
                              {"up_ms", up_ms_}, {"down_ms", down_ms_},
                              {"jitter_ms", jitter_ms_}};
    if (ctx.Lockstep()) details["added_us"] = added_us_;
    ctx.Landed(details);
  }

  int64_t at_ms_, duration_ms_;
  int count_;
  int64_t up_ms_, down_ms_, jitter_ms_;
  std::vector<std::string> victims_;
  std::map<std::string, uint64_t> seen_, start_;
  bool active_ = false;
  int64_t added_us_ = 0;
};

}  // namespace

FaultKind NetworkLatencyKind() {
  return {
      "network_latency",
      "live agents' links to the database server are slow for a while (delay per direction, "
      "jitter)",
      "slow or congested network between agents and the database",
      /*lockstep_only=*/false,
      {
          {"at_ms", OptionSpec::Type::kInt, true, 0, 0, 86'400'000, {},
           "run time the links become slow (ms)"},
          {"duration_ms", OptionSpec::Type::kInt, true, 10'000, 1, 86'400'000, {},
           "how long they stay slow (ms)"},
          {"count", OptionSpec::Type::kInt, true, 1, 1, 1024, {}, "how many agents"},
          {"up_ms", OptionSpec::Type::kInt, true, 50, 0, 60'000, {},
           "delay of each request to the server (ms)"},
          {"down_ms", OptionSpec::Type::kInt, true, 50, 0, 60'000, {},
           "delay of each answer (ms)"},
          {"jitter_ms", OptionSpec::Type::kInt, true, 0, 0, 60'000, {},
           "plus a uniform draw of up to this much, per round trip (ms)"},
      },
      [](const nlohmann::json& o) { return std::make_unique<NetworkLatency>(o); },
      /*needs=*/capability::kProcesses | capability::kNetwork,
  };
}

}  // namespace faultline::faults
