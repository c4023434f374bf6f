// connection_reset: at `at_ms` (then `count` - 1 more times, `every_ms`
// apart) the open connections of a random live process to the database
// server are reset, as a middlebox or a server-side kill would; the process
// learns at its next use and must reconnect. Stands for a flaky network path
// or an administrator's pg_terminate_backend.
//
// The reset happens from a timer: in lockstep every process is parked, so
// no request is in flight and what the process finds is the same every run.
// Landed each time a connection was actually reset (process, connections).
#include "faults/kinds.h"

namespace faultline::faults {
namespace {

class ConnectionReset final : public Fault {
 public:
  explicit ConnectionReset(const nlohmann::json& o)
      : at_ms_(o["at_ms"]), count_(o["count"]), every_ms_(o["every_ms"]),
        role_(o["role"].get<std::string>()) {}

  void Start(FaultContext& ctx) override {
    for (int i = 0; i < count_; ++i) ctx.SetTimer((at_ms_ + i * every_ms_) * 1000, 0);
  }

  void OnTimer(FaultContext& ctx, int) override {
    ProcessControl& procs = ctx.processes();
    std::vector<std::string> alive;
    for (const std::string& p : procs.List(role_ == "any" ? "" : role_)) {
      if (procs.Alive(p)) alive.push_back(p);
    }
    if (alive.empty()) return;
    const std::string victim = alive[ctx.rng().Index(alive.size())];
    const int n = ctx.network().ResetConnections(victim);
    if (n > 0) ctx.Landed({{"proc", victim}, {"connections", n}});
  }

 private:
  int64_t at_ms_;
  int count_;
  int64_t every_ms_;
  std::string role_;
};

}  // namespace

FaultKind ConnectionResetKind() {
  return {
      "connection_reset",
      "a random live process's connections to the database server are reset",
      "flaky network path, middlebox or server-side session kill",
      /*lockstep_only=*/false,
      {
          {"at_ms", OptionSpec::Type::kInt, true, 1000, 0, 86'400'000, {},
           "run time of the first reset (ms)"},
          {"count", OptionSpec::Type::kInt, true, 3, 1, 1000, {}, "how many resets"},
          {"every_ms", OptionSpec::Type::kInt, true, 1000, 1, 86'400'000, {},
           "time between resets (ms)"},
          {"role", OptionSpec::Type::kString, false, "agent", 0, 0, {"agent", "reaper", "any"},
           "whose connections: an agent's, the reaper's, or any process's"},
      },
      [](const nlohmann::json& o) { return std::make_unique<ConnectionReset>(o); },
      /*needs=*/capability::kProcesses | capability::kNetwork,
  };
}

}  // namespace faultline::faults
