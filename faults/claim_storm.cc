// claim_storm: N agents are held at a barrier and released at the same
// instant onto the same items, K times. The storm agents search for work in
// FIFO order (swarm agent --claim-order fifo), so every one of them races for
// the oldest open item first. The barrier is a stall of every storm agent
// until one release time. Freerun: SIGSTOP now, SIGCONT of all of them at
// the release; real kernel interleavings decide. Lockstep: none is scheduled
// before the release; then each storm agent, at its first claim lock after
// it, is held there for a moment so that the others run into the lock it
// holds — the pile-up a real storm makes, made certain — while the scheduler
// (PCT recommended) orders everything else. The trace shows the overlap as
// claim_race_lost events. Stands for the race in work claiming (RPN 225).
#include <algorithm>
#include <string_view>

#include "faults/kinds.h"

namespace faultline::faults {
namespace {

class ClaimStorm final : public Fault {
 public:
  explicit ClaimStorm(const nlohmann::json& o)
      : agents_(o["agents"]), at_ms_(o["at_ms"]), repeat_(o["repeat"]),
        every_ms_(o["every_ms"]), hold_ms_(o["hold_ms"]) {}

  void Prepare(FaultContext& ctx) override {
    std::vector<std::string> pool = ctx.processes().List("agent");
    const size_t n = agents_ == 0 ? pool.size() : std::min<size_t>(agents_, pool.size());
    while (storm_.size() < n) {
      const size_t pick = ctx.rng().Index(pool.size());
      storm_.push_back(pool[pick]);
      pool.erase(pool.begin() + static_cast<long>(pick));
    }
    std::sort(storm_.begin(), storm_.end());
    for (const std::string& a : storm_) ctx.processes().AddArgs(a, {"--claim-order", "fifo"});
  }

  void Start(FaultContext& ctx) override {
    for (int k = 0; k < repeat_; ++k) ctx.SetTimer((at_ms_ + k * every_ms_) * 1000, k);
  }

  // Gathers the storm agents alive now behind one release time.
  void OnTimer(FaultContext& ctx, int storm) override {
    ProcessControl& procs = ctx.processes();
    std::vector<std::string> held;
    const int64_t release = ctx.Now() + hold_ms_ * 1000;
    for (const std::string& a : storm_) {
      if (!procs.Alive(a)) continue;
      procs.Hold(a, release);
      held.push_back(a);
    }
    // One agent alone is no storm.
    if (held.size() < 2) return;
    pile_up_ = held;
    pile_from_ = release;
    ctx.Landed({{"storm", storm}, {"agents", held}, {"at_us", ctx.Now()}, {"release_us", release}});
  }

  bool OnYield(FaultContext& ctx, const std::string& proc, std::string_view point,
               std::string_view) override {
    if (point != kClaimLocked || ctx.Now() < pile_from_) return false;
    auto it = std::find(pile_up_.begin(), pile_up_.end(), proc);
    if (it == pile_up_.end()) return false;
    pile_up_.erase(it);  // once per agent and storm
    ctx.processes().Hold(proc, ctx.Now() + kPileUpUs);
    return false;
  }

 private:
  int agents_;
  int64_t at_ms_;
  int repeat_;
  int64_t every_ms_;
  int64_t hold_ms_;
  static constexpr std::string_view kClaimLocked = "claim.locked";
  static constexpr int64_t kPileUpUs = 1000;
  std::vector<std::string> storm_;    // sorted
  std::vector<std::string> pile_up_;  // lockstep: storm agents not yet held at a claim lock
  int64_t pile_from_ = 0;
};

}  // namespace

FaultKind ClaimStormKind() {
  return {
      "claim_storm",
      "agents held at a barrier and released at one instant onto the same (oldest) items",
      "race in work claiming (RPN 225)",
      /*lockstep_only=*/false,
      {
          {"agents", OptionSpec::Type::kInt, true, 0, 0, 1024, {},
           "how many agents storm (chosen from the seed; 0: all of them)"},
          {"at_ms", OptionSpec::Type::kInt, true, 100, 0, 86'400'000, {},
           "run time of the first storm (ms)"},
          {"repeat", OptionSpec::Type::kInt, true, 3, 1, 1000, {}, "how many storms"},
          {"every_ms", OptionSpec::Type::kInt, true, 1000, 1, 86'400'000, {},
           "time between storms (ms)"},
          {"hold_ms", OptionSpec::Type::kInt, true, 200, 1, 86'400'000, {},
           "how long the barrier holds the agents before releasing them together (ms); keep "
           "it below the lease"},
      },
      [](const nlohmann::json& o) { return std::make_unique<ClaimStorm>(o); },
      /*needs=*/capability::kProcesses,
  };
}

}  // namespace faultline::faults
