// kill_agent: SIGKILL a random live agent at a run time, `count` times
// `every_ms` apart, optionally restarting it under the same id. Stands for a
// worker crash (OOM kill, node loss): the runbooks' worker-crash and zombie
// modes, and the lease takeover that must follow. With "signal": "SIGTERM" it
// stands for an orderly stop (a deploy, a scale-down): the agent gives its
// item back and exits by itself.
#include "faults/kill_process.h"
#include "faults/kinds.h"

namespace faultline::faults {

FaultKind KillAgentKind() {
  return {
      "kill_agent",
      "SIGKILL (or SIGTERM) a random live agent at a run time (repeatable), optionally restart it",
      "worker crash, zombie worker, lease takeover",
      /*lockstep_only=*/false,
      {
          {"at_ms", OptionSpec::Type::kInt, true, nullptr, 0, 86'400'000, {},
           "run time of the first kill (ms)"},
          {"count", OptionSpec::Type::kInt, true, 1, 1, 1000, {}, "how many kills"},
          {"every_ms", OptionSpec::Type::kInt, true, 1000, 1, 86'400'000, {},
           "time between kills (ms)"},
          {"restart_after_ms", OptionSpec::Type::kInt, true, -1, -1, 86'400'000, {},
           "restart the killed agent under the same id after this long; -1: never"},
          {"signal", OptionSpec::Type::kString, false, "SIGKILL", 0, 0, {"SIGKILL", "SIGTERM"},
           "SIGKILL, or SIGTERM: the agent stops in order (gives its item back) by itself"},
      },
      [](const nlohmann::json& o) { return std::make_unique<KillProcess>(o, ""); },
      /*needs=*/capability::kProcesses,
  };
}

}  // namespace faultline::faults
