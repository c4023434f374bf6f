// The one table of fault kinds (STYLE.md 3: explicit, like ninja's tool
// table; no static self-registration). The CLI hands it to the engine.
#pragma once

#include <vector>

#include "sim/fault.h"

namespace faultline::faults {

std::vector<FaultKind> AllFaults();

}  // namespace faultline::faults
