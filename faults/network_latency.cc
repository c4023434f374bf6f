// network_latency: from `at_ms` for `duration_ms`, the links of `count` live
// agents to the database server are slow: each request takes up_ms to
// reach the server and each answer down_ms to come back, plus a uniform
// draw of up to jitter_ms. Stands for a slow or congested network between
// the agents' hosts and the database.
//
// Freerun: the relay delays every chunk by that much (order kept per
// direction). Lockstep: simulated time does not pass while a process runs,
// so the delay is paid in simulated time instead: the engine adds (up_ms +
// down_ms + a jitter draw) per round trip to the slowed agent's next sleep,
// so its events keep their order while its lease runs out and other agents
// go on. The draws come from a stream split from the fault's, the round
// trips from the relay: the same in every run of a seed.
//
// Landed at the end of the slow window (or of the run) with the round
// trips that were slowed; nothing slowed: not landed.
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
        start_[a] = net.RoundTrips(a);
        net.SetLatency(a, up_ms_ * 1000, down_ms_ * 1000, jitter_ms_ * 1000);
      }
      active_ = !victims_.empty();
      ctx.SetTimer(ctx.Now() + duration_ms_ * 1000, kNormal);
    } else if (active_) {
      End(ctx);
    }
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
      net.SetLatency(a, 0, 0, 0);
    }
    if (slowed == 0) return;
    nlohmann::json details = {{"agents", victims_}, {"round_trips", slowed},
                              {"up_ms", up_ms_}, {"down_ms", down_ms_},
                              {"jitter_ms", jitter_ms_}};
    ctx.Landed(details);
  }

  int64_t at_ms_, duration_ms_;
  int count_;
  int64_t up_ms_, down_ms_, jitter_ms_;
  std::vector<std::string> victims_;
  std::map<std::string, uint64_t> start_;
  bool active_ = false;
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
