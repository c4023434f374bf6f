// The process faults of DESIGN §5: each is one file; this header declares
// their kinds for the registry.
#pragma once

#include "sim/fault.h"

namespace faultline::faults {

FaultKind KillAgentKind();    // kill_agent.cc
FaultKind CrashAtKind();      // crash_at.cc
FaultKind StallAgentKind();   // stall_agent.cc
FaultKind ReaperCrashKind();  // reaper_crash.cc

}  // namespace faultline::faults
