#include "sim/otlp_export.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "sim/json_diagnostics.h"

namespace faultline {
namespace {

using nlohmann::json;

bool IsHex(const std::string& s, size_t len) {
  return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

// `j[key]` when `j` is an object holding a string there, else "".
std::string StringAt(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// `j[key]` when `j` is an object holding an array there, else null.
const json* ArrayAt(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? &*it : nullptr;
}

}  // namespace

bool ParseOtlpExport(const std::string& body, std::vector<ReceivedSpan>* out, size_t* rejected) {
  // Nesting is bounded before parsing (a parsed value is destroyed
  // recursively); any value of another type than OTLP says is skipped.
  if (diag::NestingDepth(body) > diag::kMaxDocumentDepth) return false;
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  const json* rs = ArrayAt(j, "resourceSpans");
  if (rs == nullptr) return false;
  for (const json& resource : *rs) {
    std::string instance;
    const json* attributes =
        resource.is_object() && resource.contains("resource") ? ArrayAt(resource["resource"], "attributes")
                                                               : nullptr;
    for (size_t i = 0; attributes != nullptr && i < attributes->size(); ++i) {
      const json& kv = (*attributes)[i];
      if (StringAt(kv, "key") == "service.instance.id" && kv.contains("value")) {
        instance = StringAt(kv["value"], "stringValue");
      }
    }
    for (const char* scopes_key : {"scopeSpans", "instrumentationLibrarySpans"}) {
      const json* scopes = ArrayAt(resource, scopes_key);
      for (size_t k = 0; scopes != nullptr && k < scopes->size(); ++k) {
        const json* spans = ArrayAt((*scopes)[k], "spans");
        for (size_t n = 0; spans != nullptr && n < spans->size(); ++n) {
          const json& s = (*spans)[n];
          ReceivedSpan r{StringAt(s, "spanId"), StringAt(s, "traceId"), StringAt(s, "name"),
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
