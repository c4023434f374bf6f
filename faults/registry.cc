#include "faults/registry.h"

#include "faults/kinds.h"

namespace faultline::faults {

std::vector<FaultKind> AllFaults() {
  return {KillAgentKind(),   CrashAtKind(),      StallAgentKind(),      ReaperCrashKind(),
          ConfigDriftKind(), FdExhaustionKind(), DiskFullKind(),        CorruptFileKind(),
          ClockSkewKind(),   ClockStepKind(),    ClaimStormKind(),      IoErrorKind(),
          CollectorOutageKind(), ModelOutageKind(), PowerLossKind(),
          NetworkPartitionKind(), NetworkLatencyKind(), ConnectionResetKind(), ConnectionLimitKind(),
          DbCrashKind(),     DbRestartKind()};
}

}  // namespace faultline::faults
