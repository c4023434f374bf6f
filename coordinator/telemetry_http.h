// The production Transport: OTLP/HTTP JSON over a plain POSIX socket, one
// connection per request (no keep-alive, so no state survives between
// exports). One deadline, the export timeout (OTEL_EXPORTER_OTLP_TIMEOUT),
// bounds the whole request: resolving aside, connecting, sending and waiting
// for the answer's status line all share it.
//
// Why not cpp-httplib (which the collector, faultline sink, uses): Debian's
// build links OpenSSL, zlib and brotli, which cost every swarm process about
// 10 ms at exec even with telemetry off — more than the claim work itself
// (bench/telemetry_bench.cc). Plain HTTP only, so: TLS is a local
// collector's job.
//
// Outcomes (OTLP/HTTP spec): 2xx accepted; 429, 502, 503, 504 and transport
// failures retryable; every other status rejected.
#pragma once

#include <memory>

#include "coordinator/telemetry_config.h"
#include "coordinator/telemetry_exporter.h"

namespace swarm::telemetry {

// REQUIRES: config.enabled (traces_url is a valid http:// URL). Sends with
// MSG_NOSIGNAL: a collector that hangs up never raises SIGPIPE.
std::unique_ptr<Transport> MakeHttpTransport(const Config& config);

}  // namespace swarm::telemetry
