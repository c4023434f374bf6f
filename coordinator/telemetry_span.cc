#include "coordinator/telemetry_span.h"

#include <fmt/format.h>

namespace swarm::telemetry {
namespace {

using nlohmann::json;

bool IsHex(std::string_view s, size_t len) {
  if (s.size() != len) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// OTLP AnyValue of a JSON scalar; 64-bit integers are strings in OTLP/JSON.
json AnyValue(const json& v) {
  if (v.is_boolean()) return {{"boolValue", v.get<bool>()}};
  if (v.is_number_integer()) return {{"intValue", std::to_string(v.get<int64_t>())}};
  if (v.is_number_float()) return {{"doubleValue", v.get<double>()}};
  if (v.is_string()) return {{"stringValue", v.get<std::string>()}};
  return {{"stringValue", v.dump()}};
}

json KeyValues(const json& object) {
  json out = json::array();
  for (auto it = object.begin(); it != object.end(); ++it) {
    out.push_back({{"key", it.key()}, {"value", AnyValue(it.value())}});
  }
  return out;
}

std::string Nanos(int64_t us) { return std::to_string(us) + "000"; }

}  // namespace

std::string Hex64(uint64_t v) { return fmt::format("{:016x}", v); }
std::string Hex128(uint64_t hi, uint64_t lo) { return Hex64(hi) + Hex64(lo); }

std::string ToSpoolLine(const Span& span) {
  json j = {{"trace_id", span.trace_id}, {"span_id", span.span_id}, {"name", span.name},
            {"start_us", span.start_us}, {"end_us", span.end_us},
            {"attributes", span.attributes}};
  if (!span.parent_span_id.empty()) j["parent_span_id"] = span.parent_span_id;
  if (!span.error.empty()) j["error"] = span.error;
  return j.dump();
}

Result<Span> FromSpoolLine(std::string_view line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  auto str = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (!j.is_object() || !j.value("start_us", json()).is_number_integer() ||
      !j.value("end_us", json()).is_number_integer()) {
    return Status::Corrupt("not a spooled span: " + std::string(line.substr(0, 80)));
  }
  Span s;
  s.trace_id = str("trace_id");
  s.span_id = str("span_id");
  s.parent_span_id = str("parent_span_id");
  s.name = str("name");
  s.error = str("error");
  s.start_us = j["start_us"].get<int64_t>();
  s.end_us = j["end_us"].get<int64_t>();
  if (auto it = j.find("attributes"); it != j.end() && it->is_object()) s.attributes = *it;
  if (!IsHex(s.trace_id, 32) || !IsHex(s.span_id, 16) || s.name.empty() ||
      !(s.parent_span_id.empty() || IsHex(s.parent_span_id, 16))) {
    return Status::Corrupt("not a spooled span (bad ids or name): " +
                           std::string(line.substr(0, 80)));
  }
  return s;
}

std::vector<Span> ParseSpoolText(std::string_view text, size_t* bad) {
  std::vector<Span> spans;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) break;  // torn last line: never acknowledged
    auto span = FromSpoolLine(text.substr(pos, nl - pos));
    if (span.ok()) {
      spans.push_back(std::move(*span));
    } else if (bad != nullptr) {
      ++*bad;
    }
    pos = nl + 1;
  }
  return spans;
}

std::string EncodeOtlpJson(const std::vector<Span>& spans, const Resource& resource) {
  json out = json::array();
  for (const Span& s : spans) {
    json span = {{"traceId", s.trace_id},
                 {"spanId", s.span_id},
                 {"name", s.name},
                 {"kind", 1},  // SPAN_KIND_INTERNAL
                 {"startTimeUnixNano", Nanos(s.start_us)},
                 {"endTimeUnixNano", Nanos(s.end_us)},
                 {"attributes", KeyValues(s.attributes)},
                 // STATUS_CODE_OK = 1, STATUS_CODE_ERROR = 2
                 {"status", s.error.empty() ? json{{"code", 1}}
                                            : json{{"code", 2}, {"message", s.error}}}};
    if (!s.parent_span_id.empty()) span["parentSpanId"] = s.parent_span_id;
    out.push_back(std::move(span));
  }
  json attrs = {{"service.name", resource.service_name}};
  if (!resource.instance.empty()) attrs["service.instance.id"] = resource.instance;
  json request = {
      {"resourceSpans",
       json::array({{{"resource", {{"attributes", KeyValues(attrs)}}},
                     {"scopeSpans",
                      json::array({{{"scope", {{"name", "swarm"}, {"version", "1"}}},
                                    {"spans", std::move(out)}}})}}})}};
  return request.dump();
}

}  // namespace swarm::telemetry
