// The sink's receiver side: what it reads from an OTLP/HTTP JSON
// ExportTraceServiceRequest (POST /v1/traces). Only the span identities are
// kept; attributes, events and timings are not the sink's business.
#pragma once

#include <string>
#include <vector>

namespace faultline {

struct ReceivedSpan {
  std::string span_id;   // 16 hex digits, lower case
  std::string trace_id;  // 32 hex digits, as sent
  std::string name;
  std::string instance;  // the resource's service.instance.id, if any
};

// Appends the spans of `body` to *out, in request order, and counts in
// *rejected the spans without a valid traceId/spanId (hex of the right
// length). Reads "scopeSpans" and the older "instrumentationLibrarySpans".
// False when the body is not such a request at all (nothing appended).
bool ParseOtlpExport(const std::string& body, std::vector<ReceivedSpan>* out, size_t* rejected);

}  // namespace faultline
