// network_partition: `count` live agents are cut off from the database
// server at `at_ms` for `duration_ms`, then the partition heals. "blackhole":
// nothing passes either way (a client waiting on it has its connection reset
// after the relay's hang time, as its TCP timeout would; the server ends a
// silent session after `server_timeout_ms`, as its keepalive would, which
// aborts its transaction and frees its row locks); "reset": every connection
// is reset at once and new ones are refused until the heal. Stands for split
// brain: a holder that cannot reach the database while its lease runs out.
//
// Landed once per agent when it is cut off (agent, mode, until_us: the
// shape of stall_agent, so eventual_lock_release holds the database to
// freeing its grants within the lease), then at the heal with what the
// cut-off agents tried meanwhile, and at the end with what each did after
// the heal (reconnects_after_partition judges it).
#include <map>

#include "faults/kinds.h"
#include "faults/pick_agents.h"

namespace faultline::faults {
namespace {

enum Tag { kCut, kServerTimeout, kHeal };

class NetworkPartition final : public Fault {
 public:
  explicit NetworkPartition(const nlohmann::json& o)
      : at_ms_(o["at_ms"]), duration_ms_(o["duration_ms"]), count_(o["count"]),
        server_timeout_ms_(o["server_timeout_ms"]),
        link_(o["mode"] == "reset" ? Link::kReset : Link::kBlackhole) {}

  void Start(FaultContext& ctx) override { ctx.SetTimer(at_ms_ * 1000, kCut); }

  void OnTimer(FaultContext& ctx, int tag) override {
    NetworkControl& net = ctx.network();
    if (tag == kCut) {
      victims_ = PickLiveAgents(ctx, count_);
      if (victims_.empty()) return;
      until_ = ctx.Now() + duration_ms_ * 1000;
      for (const std::string& a : victims_) {
        before_[a] = Activity(net, a);
        net.SetLink(a, link_);
        ctx.Landed({{"phase", "cut"}, {"agent", a}, {"mode", Name(link_)}, {"until_us", until_}});
      }
      if (link_ == Link::kBlackhole && server_timeout_ms_ > 0 &&
          server_timeout_ms_ < duration_ms_) {
        ctx.SetTimer(ctx.Now() + server_timeout_ms_ * 1000, kServerTimeout);
      }
      ctx.SetTimer(until_, kHeal);
    } else if (tag == kServerTimeout && !healed_) {
      int ended = 0;
      for (const std::string& a : victims_) ended += net.ResetConnections(a);
      ctx.Landed({{"phase", "server_timeout"}, {"agents", victims_}, {"sessions_ended", ended}});
    } else if (tag == kHeal && !healed_) {
      Heal(ctx);
    }
  }

  void Finish(FaultContext& ctx) override {
    if (victims_.empty()) return;
    if (!healed_) Heal(ctx);
    nlohmann::json after = nlohmann::json::array();
    for (const std::string& a : victims_) {
      const Counts now = Activity(ctx.network(), a);
      after.push_back({{"agent", a},
                       {"round_trips", now.round_trips - at_heal_[a].round_trips},
                       {"connections", now.connections - at_heal_[a].connections}});
    }
    ctx.Landed({{"phase", "end"}, {"healed_at_us", healed_at_}, {"after_heal", after}});
  }

 private:
  struct Counts {
    uint64_t round_trips = 0;
    uint64_t connections = 0;
  };
  static Counts Activity(NetworkControl& net, const std::string& a) {
    return {net.RoundTrips(a), net.ConnectionsOpened(a)};
  }

  void Heal(FaultContext& ctx) {
    healed_ = true;
    healed_at_ = ctx.Now();
    NetworkControl& net = ctx.network();
    nlohmann::json tried = nlohmann::json::array();
    for (const std::string& a : victims_) {
      net.SetLink(a, Link::kUp);
      at_heal_[a] = Activity(net, a);
      tried.push_back({{"agent", a},
                       {"round_trips", at_heal_[a].round_trips - before_[a].round_trips},
                       {"connections", at_heal_[a].connections - before_[a].connections}});
    }
    ctx.Landed({{"phase", "healed"}, {"during", tried}});
  }

  int64_t at_ms_;
  int64_t duration_ms_;
  int count_;
  int64_t server_timeout_ms_;
  Link link_;
  std::vector<std::string> victims_;
  int64_t until_ = 0;
  bool healed_ = false;
  int64_t healed_at_ = 0;
  std::map<std::string, Counts> before_, at_heal_;
};

}  // namespace

FaultKind NetworkPartitionKind() {
  return {
      "network_partition",
      "live agents are cut off from the database server (blackhole or reset) for a while, then "
      "the partition heals",
      "split brain: a holder cut off from the database while its lease runs out",
      /*lockstep_only=*/false,
      {
          {"at_ms", OptionSpec::Type::kInt, true, 1000, 0, 86'400'000, {},
           "run time of the cut (ms)"},
          {"duration_ms", OptionSpec::Type::kInt, true, 8000, 1, 86'400'000, {},
           "how long the partition lasts (ms)"},
          {"count", OptionSpec::Type::kInt, true, 1, 1, 1024, {}, "how many agents are cut off"},
          {"mode", OptionSpec::Type::kString, false, "blackhole", 0, 0, {"blackhole", "reset"},
           "blackhole: nothing passes, held until the heal; reset: connections reset, new ones "
           "refused"},
          {"server_timeout_ms", OptionSpec::Type::kInt, true, 3000, 0, 86'400'000, {},
           "blackhole: the server ends a cut-off session after this long (its keepalive; 0: "
           "never)"},
      },
      [](const nlohmann::json& o) { return std::make_unique<NetworkPartition>(o); },
      /*needs=*/capability::kProcesses | capability::kNetwork,
  };
}

}  // namespace faultline::faults
