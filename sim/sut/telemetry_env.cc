#include "sim/sut/telemetry_env.h"

namespace faultline::sut {

EnvList CollectorEnvFor(const std::string& endpoint, const ResolvedScenario::Telemetry& t) {
  const std::string timeout = std::to_string(t.timeout_ms);
  return {{"OTEL_SDK_DISABLED", "false"},
          {"OTEL_TRACES_EXPORTER", "otlp"},
          {"OTEL_EXPORTER_OTLP_ENDPOINT", endpoint},
          {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint + "/v1/traces"},
          {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
          {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"},
          {"OTEL_EXPORTER_OTLP_TIMEOUT", timeout},
          {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", timeout},
          {"OTEL_EXPORTER_OTLP_HEADERS", ""},
          {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", ""},
          {"OTEL_SERVICE_NAME", "swarm"},
          {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", std::to_string(t.batch_spans)},
          {"OTEL_BSP_SCHEDULE_DELAY", std::to_string(t.schedule_delay_ms)},
          {"SWARM_SPOOL_MAX_SPANS", std::to_string(t.spool_max_spans)},
          {"SWARM_SPOOL_MAX_BYTES", std::to_string(16 << 20)},
          {"SWARM_OTLP_RETRY_INITIAL_MS", std::to_string(t.retry_initial_ms)},
          {"SWARM_OTLP_RETRY_MAX_MS", std::to_string(t.retry_max_ms)}};
}

EnvList ModelEnvFor(const std::string& endpoint) { return {{"SWARM_MODEL_ENDPOINT", endpoint}}; }

}  // namespace faultline::sut
