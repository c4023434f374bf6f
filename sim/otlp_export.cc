#include "sim/otlp_export.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace faultline {
namespace {

using nlohmann::json;

bool IsHex(const std::string& s, size_t len) {
  return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

}  // namespace

bool ParseOtlpExport(const std::string& body, std::vector<ReceivedSpan>* out, size_t* rejected) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  auto rs = j.find("resourceSpans");
  if (rs == j.end() || !rs->is_array()) return false;
  for (const json& resource : *rs) {
    std::string instance;
    if (resource.contains("resource") && resource["resource"].contains("attributes")) {
      for (const json& kv : resource["resource"]["attributes"]) {
        if (kv.value("key", "") == "service.instance.id" && kv.contains("value")) {
          instance = kv["value"].value("stringValue", "");
        }
      }
    }
    for (const char* scopes_key : {"scopeSpans", "instrumentationLibrarySpans"}) {
      auto scopes = resource.find(scopes_key);
      if (scopes == resource.end() || !scopes->is_array()) continue;
      for (const json& scope : *scopes) {
        auto spans = scope.find("spans");
        if (spans == scope.end() || !spans->is_array()) continue;
        for (const json& s : *spans) {
          ReceivedSpan r{s.value("spanId", ""), s.value("traceId", ""), s.value("name", ""),
                         instance};
          if (!IsHex(r.span_id, 16) || !IsHex(r.trace_id, 32)) {
            ++*rejected;
            continue;
          }
          std::transform(r.span_id.begin(), r.span_id.end(), r.span_id.begin(), ::tolower);
          out->push_back(std::move(r));
        }
      }
    }
  }
  return true;
}

}  // namespace faultline
