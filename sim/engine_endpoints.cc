// The run's collector and stub model (sim/endpoints.h), as the engine starts,
// switches and ends them.
#include "sim/engine_internal.h"

#include <algorithm>

namespace faultline::engine_detail {

bool Engine::TelemetryWanted() const {
  if (s_.telemetry.enabled) return true;
  return std::any_of(faults_.begin(), faults_.end(),
                     [](const std::unique_ptr<Fault>& f) { return f->NeedsCollector(); });
}

bool Engine::StartCollector() {
  if (!endpoints_.StartCollector(&result_.error)) return false;
  telemetry_env_ = sut_->CollectorEnv(endpoints_.CollectorEndpoint(), s_.telemetry);
  return true;
}

bool Engine::SetCollectorMode(CollectorMode mode) {
  std::string error;
  if (!endpoints_.SetCollectorMode(mode, &error)) return Fail(error);
  return true;
}

bool Engine::ModelWanted() const {
  return std::any_of(faults_.begin(), faults_.end(),
                     [](const std::unique_ptr<Fault>& f) { return f->NeedsModel(); });
}

bool Engine::StartModel() {
  if (!endpoints_.StartModel(&result_.error)) return false;
  model_env_ = sut_->ModelEnv(endpoints_.ModelEndpoint());
  return true;
}

bool Engine::SetModelMode(CollectorMode mode) {
  std::string error;
  if (!endpoints_.SetModelMode(mode, &error)) return Fail(error);
  return true;
}

void Engine::EndpointsEnd() {
  const std::vector<SpoolLeft> left =
      endpoints_.has_collector() ? sut_->SpansLeft() : std::vector<SpoolLeft>();
  for (nlohmann::json& event : endpoints_.End(left)) Emit("sim", std::move(event));
}

}  // namespace faultline::engine_detail
