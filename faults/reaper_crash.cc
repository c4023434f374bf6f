// reaper_crash: the janitor is SIGKILLed and restarted later. Stands for a
// supervisor crash (HAL-O-SWARM runbook): nothing may depend on the reaper
// being up, and a restarted reaper must pick up where the dead one left off.
#include "faults/kill_process.h"
#include "faults/kinds.h"

namespace faultline::faults {

FaultKind ReaperCrashKind() {
  return {
      "reaper_crash",
      "SIGKILL the reaper at a run time and restart it later",
      "supervisor / janitor crash",
      /*lockstep_only=*/false,
      {
          {"at_ms", OptionSpec::Type::kInt, true, nullptr, 0, 86'400'000, {},
           "run time of the first crash (ms)"},
          {"count", OptionSpec::Type::kInt, true, 1, 1, 1000, {}, "how many crashes"},
          {"every_ms", OptionSpec::Type::kInt, true, 2000, 1, 86'400'000, {},
           "time between crashes (ms)"},
          {"restart_after_ms", OptionSpec::Type::kInt, true, 1000, -1, 86'400'000, {},
           "restart after this long; -1: never"},
      },
      [](const nlohmann::json& o) { return std::make_unique<KillProcess>(o, "reaper"); },
      /*needs=*/capability::kProcesses,
  };
}

}  // namespace faultline::faults
