// config_drift: agents whose settings differ from the cluster's. Two forms:
//   "agent"   — `agents` agents start with a config file in which `setting`
//               is `value` (a different fingerprint): they must be refused
//               (exit 78) and never claim.
//   "cluster" — at `at_ms` the cluster's settings change (`swarm configure`):
//               running agents must notice at their next heartbeat and stop
//               claiming; `restart_after_ms` later the stopped agents are
//               started again and adopt the new settings.
// Stands for config inconsistency across agents (RPN 48) and HAL-O-SWARM's
// config validation.
#include <fmt/format.h>

#include "faults/kinds.h"

namespace faultline::faults {
namespace {

class ConfigDrift final : public Fault {
 public:
  explicit ConfigDrift(const nlohmann::json& o)
      : mode_(o["mode"]), setting_(o["setting"]), value_(o["value"]), agents_(o["agents"]),
        at_ms_(o["at_ms"]), restart_after_ms_(o["restart_after_ms"]) {}

  void Prepare(FaultContext& ctx) override {
    if (mode_ != "agent") return;
    nlohmann::json config = ctx.directory().Settings();
    if (config.value(setting_, int64_t{0}) == value_) return;  // no drift: never lands
    config[setting_] = value_;
    std::vector<std::string> pool = ctx.processes().List("agent");
    for (int i = 0; i < agents_ && !pool.empty(); ++i) {
      size_t pick = ctx.rng().Index(pool.size());
      const std::string agent = pool[pick];
      pool.erase(pool.begin() + static_cast<long>(pick));
      std::string file = ctx.directory().WriteScratchFile(agent + ".json", config.dump());
      ctx.processes().AddArgs(agent, {"--config", file});
      ctx.Landed({{"agent", agent}, {"setting", setting_}, {"value", value_}});
    }
  }

  void Start(FaultContext& ctx) override {
    if (mode_ == "cluster") ctx.SetTimer(at_ms_ * 1000, kDrift);
  }

  void OnTimer(FaultContext& ctx, int tag) override {
    if (tag == kRestart) {
      ProcessControl& procs = ctx.processes();
      for (const std::string& a : procs.List("agent")) {
        if (!procs.Alive(a)) procs.Restart(a);
      }
      return;
    }
    CoordinationDirectory& dir = ctx.directory();
    std::string error;
    if (!dir.RunTool({"configure", dir.Path(), "--set", fmt::format("{}={}", setting_, value_)},
                     &error)) {
      return;  // did not land; the run is vacuous and the tool's log says why
    }
    ctx.Landed({{"setting", setting_},
                {"value", value_},
                {"cluster_fingerprint", dir.Fingerprint()},
                {"at_us", ctx.Now()}});
    if (restart_after_ms_ >= 0) ctx.SetTimer(ctx.Now() + restart_after_ms_ * 1000, kRestart);
  }

 private:
  enum { kDrift, kRestart };
  std::string mode_;
  std::string setting_;
  int64_t value_;
  int agents_;
  int64_t at_ms_;
  int64_t restart_after_ms_;
};

}  // namespace

FaultKind ConfigDriftKind() {
  return {
      "config_drift",
      "agents start with a mutated config, or the cluster's config changes mid-run",
      "config inconsistency across agents (RPN 48), config validation",
      /*lockstep_only=*/false,
      {
          {"mode", OptionSpec::Type::kString, false, "agent", 0, 0, {"agent", "cluster"},
           "agent: some agents start drifted; cluster: cluster.json changes at at_ms"},
          {"setting", OptionSpec::Type::kString, false, "lease_ms",
           0, 0,
           {"lease_ms", "heartbeat_ms", "reap_interval_ms", "agent_timeout_ms", "max_attempts",
            "schema_version"},
           "the setting that differs"},
          {"value", OptionSpec::Type::kInt, true, nullptr, 1, 86'400'000, {},
           "its drifted value (must differ from the cluster's to land)"},
          {"agents", OptionSpec::Type::kInt, true, 1, 1, 1024, {},
           "agent mode: how many agents start drifted"},
          {"at_ms", OptionSpec::Type::kInt, true, 1000, 0, 86'400'000, {},
           "cluster mode: when cluster.json changes"},
          {"restart_after_ms", OptionSpec::Type::kInt, true, 500, -1, 86'400'000, {},
           "cluster mode: restart the agents that stopped, after this long; -1: never"},
      },
      [](const nlohmann::json& o) { return std::make_unique<ConfigDrift>(o); },
      /*needs=*/capability::kProcesses | capability::kDirectory | capability::kReferenceTool |
          capability::kReferenceFiles | capability::kReferenceAgents,
  };
}

}  // namespace faultline::faults
