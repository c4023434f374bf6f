// The environment that points a system's agents at the run's collector and
// stub model API (docs/telemetry.md): every standard OTEL_* variable that
// could point them elsewhere is set, so that the harness's own environment
// cannot leak into a run, plus the reference coordinator's own knobs (SWARM_*),
// which other systems ignore. Pure functions.
#pragma once

#include <string>

#include "sim/sut.h"

namespace faultline::sut {

EnvList CollectorEnvFor(const std::string& endpoint, const ResolvedScenario::Telemetry& t);
EnvList ModelEnvFor(const std::string& endpoint);

}  // namespace faultline::sut
