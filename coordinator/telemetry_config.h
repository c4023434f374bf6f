// The telemetry settings of a coordinator process, read from the standard
// OpenTelemetry environment variables plus two of swarm's own for the spool.
//
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  full URL of the traces endpoint, used as is
//                                       (http:// only; for TLS run a local collector)
//   OTEL_EXPORTER_OTLP_ENDPOINT         base URL; "/v1/traces" is appended
//   OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT milliseconds per export (default 10000)
//   OTEL_EXPORTER_OTLP_[TRACES_]HEADERS "key=value,key2=value2" (values %-decoded)
//   OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL only "http/json" is spoken; anything else is an error
//   OTEL_SERVICE_NAME                   service.name of the resource (default "swarm")
//   OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none   telemetry off
//   OTEL_BSP_MAX_EXPORT_BATCH_SIZE      spans per export (default 64)
//   OTEL_BSP_SCHEDULE_DELAY             ms a partial batch waits before export (default 1000)
//   SWARM_SPOOL_MAX_SPANS               spool bound in spans (default 10000)
//   SWARM_SPOOL_MAX_BYTES               spool bound in bytes (default 16 MiB)
//   SWARM_OTLP_RETRY_INITIAL_MS / SWARM_OTLP_RETRY_MAX_MS  backoff after a failed
//                                       export, doubling with jitter (default 500 / 8000)
//
// Without an endpoint telemetry is off and costs the coordinator one branch
// per span site.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/status.h"

namespace swarm::telemetry {

struct Config {
  bool enabled = false;
  std::string traces_url;  // e.g. http://127.0.0.1:4318/v1/traces
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timeout_ms = 10'000;
  std::string service_name = "swarm";
  size_t batch_spans = 64;
  int64_t schedule_delay_ms = 1000;
  size_t spool_max_spans = 10'000;
  size_t spool_max_bytes = 16u << 20;
  int64_t retry_initial_ms = 500;
  int64_t retry_max_ms = 8000;
};

// Reads the variables above through `getenv` (std::getenv by default, a map
// in tests). Bad numbers are reported in *warnings and replaced by the
// default, as OpenTelemetry SDKs do; an endpoint that is not http(s)://, or a
// protocol other than http/json, is an InvalidArgument error naming the
// variable.
using GetEnv = std::function<const char*(const char*)>;
Result<Config> ConfigFromEnvironment(std::vector<std::string>* warnings, const GetEnv& getenv = nullptr);

// "http://host[:port][/path]" (IPv6 hosts in brackets; port 80 and path "/"
// by default). InvalidArgument for anything else, https:// included: the
// exporter speaks plain HTTP (docs/telemetry.md says why).
struct Url {
  std::string host;
  std::string port;
  std::string path;
};
Result<Url> ParseUrl(const std::string& url);

}  // namespace swarm::telemetry
