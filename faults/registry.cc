#include "faults/registry.h"

#include "faults/process_faults.h"

namespace faultline::faults {

std::vector<FaultKind> AllFaults() {
  return {KillAgentKind(), CrashAtKind(), StallAgentKind(), ReaperCrashKind()};
}

}  // namespace faultline::faults
