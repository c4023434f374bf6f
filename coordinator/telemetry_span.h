// A finished span of the reference coordinator, and its two encodings: one
// JSON line in an agent's spool (telemetry_spool.h), and OTLP/HTTP JSON
// (opentelemetry-proto ExportTraceServiceRequest) for the collector.
//
// Value types; everything here is pure and deterministic.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/status.h"

namespace swarm::telemetry {

struct Span {
  std::string trace_id;        // 32 lower-case hex digits
  std::string span_id;         // 16 lower-case hex digits
  std::string parent_span_id;  // "" for a root span
  std::string name;            // "claim_work", "complete_work", "heartbeat", ...
  int64_t start_us = 0;        // the process's clock (simulated under lockstep)
  int64_t end_us = 0;
  std::string error;           // "" = ok; else the status message of an error span
  // Flat object of string, integer or boolean values ("swarm.item": "w7").
  nlohmann::json attributes = nlohmann::json::object();
};

// Who sent a batch: becomes the OTLP resource (service.name,
// service.instance.id).
struct Resource {
  std::string service_name = "swarm";
  std::string instance;  // the agent's id
};

// One compact JSON line, without the newline.
std::string ToSpoolLine(const Span& span);
// Corrupt when the line is not a span written by ToSpoolLine.
Result<Span> FromSpoolLine(std::string_view line);
// Every complete line of `text` ('\n'-terminated). A last line without its
// newline (a write cut short by a crash) is ignored; any other line that is
// not a span is counted in *bad (may be null).
std::vector<Span> ParseSpoolText(std::string_view text, size_t* bad);

// The OTLP/HTTP JSON body for POST /v1/traces: ids in hex, times in
// nanoseconds as decimal strings, 64-bit integers as strings.
std::string EncodeOtlpJson(const std::vector<Span>& spans, const Resource& resource);

// 16 or 32 hex digits of one or two 64-bit numbers.
std::string Hex64(uint64_t v);
std::string Hex128(uint64_t hi, uint64_t lo);

}  // namespace swarm::telemetry
