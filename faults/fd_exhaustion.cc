// fd_exhaustion: an agent runs with a tiny RLIMIT_NOFILE — from its start
// (at_ms -1) or lowered on the live process with prlimit at at_ms — and gets
// it back after restore_after_ms. Its opens fail with EMFILE; it must fail
// cleanly, keep nothing half-written, and its claims must be taken over.
// Stands for FD exhaustion (worker runbook).
#include "faults/kinds.h"

namespace faultline::faults {
namespace {

class FdExhaustion final : public Fault {
 public:
  explicit FdExhaustion(const nlohmann::json& o)
      : agents_(o["agents"]), limit_(o["limit"]), at_ms_(o["at_ms"]),
        restore_after_ms_(o["restore_after_ms"]) {}

  void Prepare(FaultContext& ctx) override {
    if (at_ms_ < 0) Squeeze(ctx);
  }

  void Start(FaultContext& ctx) override {
    if (at_ms_ >= 0) ctx.SetTimer(at_ms_ * 1000, kSqueeze);
  }

  void OnTimer(FaultContext& ctx, int tag) override {
    if (tag == kSqueeze) {
      Squeeze(ctx);
      return;
    }
    for (const std::string& a : victims_) {
      if (ctx.processes().LimitFiles(a, kRestoredLimit)) {
        ctx.Landed({{"agent", a}, {"restored", kRestoredLimit}, {"at_us", ctx.Now()}});
      }
    }
  }

 private:
  enum { kSqueeze, kRestore };
  static constexpr int kRestoredLimit = 1024;

  void Squeeze(FaultContext& ctx) {
    ProcessControl& procs = ctx.processes();
    std::vector<std::string> pool;
    for (const std::string& a : procs.List("agent")) {
      if (at_ms_ < 0 || procs.Alive(a)) pool.push_back(a);
    }
    for (int i = 0; i < agents_ && !pool.empty(); ++i) {
      size_t pick = ctx.rng().Index(pool.size());
      const std::string agent = pool[pick];
      pool.erase(pool.begin() + static_cast<long>(pick));
      if (!procs.LimitFiles(agent, limit_)) continue;
      victims_.push_back(agent);
      ctx.Landed({{"agent", agent}, {"limit", limit_}, {"at_us", at_ms_ < 0 ? 0 : ctx.Now()}});
    }
    if (restore_after_ms_ >= 0 && !victims_.empty()) {
      ctx.SetTimer((at_ms_ < 0 ? 0 : ctx.Now()) + restore_after_ms_ * 1000, kRestore);
    }
  }

  int agents_;
  int limit_;
  int64_t at_ms_;
  int64_t restore_after_ms_;
  std::vector<std::string> victims_;
};

}  // namespace

FaultKind FdExhaustionKind() {
  return {
      "fd_exhaustion",
      "lower RLIMIT_NOFILE of agents, at their start or live (prlimit), and restore it later",
      "FD exhaustion (worker crash runbook)",
      /*lockstep_only=*/false,
      {
          {"agents", OptionSpec::Type::kInt, true, 1, 1, 1024, {}, "how many agents"},
          {"limit", OptionSpec::Type::kInt, true, 6, 4, 1024, {},
           "the descriptor limit (4 = stdio and the control channel only)"},
          {"at_ms", OptionSpec::Type::kInt, true, -1, -1, 86'400'000, {},
           "when to lower it; -1: from the agent's start"},
          {"restore_after_ms", OptionSpec::Type::kInt, true, 1000, -1, 86'400'000, {},
           "restore the limit (1024) after this long; -1: never"},
      },
      [](const nlohmann::json& o) { return std::make_unique<FdExhaustion>(o); },
      /*needs=*/capability::kProcesses,
  };
}

}  // namespace faultline::faults
