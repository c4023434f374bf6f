// The fault kinds of DESIGN §5, one file each; this header declares them
// for the registry.
#pragma once

#include "sim/fault.h"

namespace faultline::faults {

FaultKind KillAgentKind();    // kill_agent.cc
FaultKind CrashAtKind();      // crash_at.cc
FaultKind StallAgentKind();   // stall_agent.cc
FaultKind ReaperCrashKind();  // reaper_crash.cc
FaultKind ConfigDriftKind();  // config_drift.cc
FaultKind FdExhaustionKind(); // fd_exhaustion.cc
FaultKind DiskFullKind();     // disk_full.cc
FaultKind CorruptFileKind();  // corrupt_file.cc
FaultKind IoErrorKind();      // io_error.cc
FaultKind ClockSkewKind();    // clock_skew.cc
FaultKind ClockStepKind();    // clock_step.cc
FaultKind ClaimStormKind();   // claim_storm.cc
FaultKind CollectorOutageKind();  // collector_outage.cc
FaultKind ModelOutageKind();      // model_outage.cc
FaultKind PowerLossKind();        // power_loss.cc
FaultKind NetworkPartitionKind();  // network_partition.cc
FaultKind NetworkLatencyKind();    // network_latency.cc
FaultKind ConnectionResetKind();   // connection_reset.cc
FaultKind ConnectionLimitKind();   // connection_limit.cc
FaultKind DbCrashKind();           // db_crash.cc
FaultKind DbRestartKind();         // db_restart.cc

}  // namespace faultline::faults
