#include "coordinator/telemetry_config.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string_view>

namespace swarm::telemetry {
namespace {

bool IsTrue(const char* v) {
  if (v == nullptr) return false;
  std::string s(v);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s == "true";
}

// The first of `names` that is set and not empty, or nullptr.
const char* First(const GetEnv& env, std::initializer_list<const char*> names,
                  const char** which) {
  for (const char* name : names) {
    const char* v = env(name);
    if (v != nullptr && *v != '\0') {
      *which = name;
      return v;
    }
  }
  return nullptr;
}

template <typename T>
void ReadNumber(const GetEnv& env, std::initializer_list<const char*> names, int64_t min,
                T* out, std::vector<std::string>* warnings) {
  const char* which = nullptr;
  const char* v = First(env, names, &which);
  if (v == nullptr) return;
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || n < min) {
    if (warnings) {
      warnings->push_back(fmt::format("{}=\"{}\" is not an integer >= {}; using {}", which, v,
                                      min, static_cast<int64_t>(*out)));
    }
    return;
  }
  *out = static_cast<T>(n);
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const std::string hex(s.substr(i + 1, 2));
      char* end = nullptr;
      long v = std::strtol(hex.c_str(), &end, 16);
      if (*end == '\0') {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

Result<Url> ParseUrl(const std::string& url) {
  constexpr std::string_view kHttp = "http://";
  if (url.rfind("https://", 0) == 0) {
    return Status::InvalidArgument(
        "\"" + url + "\": swarm exports over plain http:// only; run a local OpenTelemetry "
        "Collector and let it forward over TLS");
  }
  if (url.rfind(kHttp, 0) != 0) return Status::InvalidArgument("\"" + url + "\" is not an http:// URL");
  const std::string rest = url.substr(kHttp.size());
  const size_t slash = rest.find('/');
  const std::string hostport = rest.substr(0, slash);
  Url u;
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string port_part;
  if (!hostport.empty() && hostport[0] == '[') {
    const size_t close = hostport.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("\"" + url + "\": unclosed [");
    u.host = hostport.substr(1, close - 1);
    port_part = hostport.substr(close + 1);
  } else {
    const size_t colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    port_part = colon == std::string::npos ? "" : hostport.substr(colon);
  }
  u.port = "80";
  if (!port_part.empty()) {
    char* end = nullptr;
    const long port = std::strtol(port_part.c_str() + 1, &end, 10);
    if (port_part[0] != ':' || *end != '\0' || port < 1 || port > 65535) {
      return Status::InvalidArgument("\"" + url + "\": bad port");
    }
    u.port = std::to_string(port);
  }
  if (u.host.empty()) return Status::InvalidArgument("\"" + url + "\": no host");
  return u;
}

Result<Config> ConfigFromEnvironment(std::vector<std::string>* warnings, const GetEnv& getenv) {
  const GetEnv env = getenv ? getenv : GetEnv([](const char* name) { return std::getenv(name); });
  Config c;
  const char* which = nullptr;
  if (IsTrue(env("OTEL_SDK_DISABLED"))) return c;
  if (const char* exporter = env("OTEL_TRACES_EXPORTER");
      exporter != nullptr && std::string_view(exporter) == "none") {
    return c;
  }
  if (const char* url = First(env, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"}, &which)) {
    c.traces_url = url;
  } else if (const char* base = First(env, {"OTEL_EXPORTER_OTLP_ENDPOINT"}, &which)) {
    std::string b = base;
    while (!b.empty() && b.back() == '/') b.pop_back();
    c.traces_url = b + "/v1/traces";
  } else {
    return c;  // no endpoint: off
  }
  if (auto parsed = ParseUrl(c.traces_url); !parsed.ok()) {
    return Status::InvalidArgument(std::string(which) + ": " + parsed.status().message());
  }
  if (const char* protocol = First(
          env, {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"}, &which);
      protocol != nullptr && std::string_view(protocol) != "http/json") {
    return Status::InvalidArgument(fmt::format(
        "{}=\"{}\": swarm exports OTLP/HTTP JSON only; set it to \"http/json\" or unset it",
        which, protocol));
  }
  if (const char* headers =
          First(env, {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"}, &which)) {
    std::string_view rest(headers);
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view pair = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos || Trim(pair.substr(0, eq)).empty()) {
        if (warnings) {
          warnings->push_back(fmt::format("{}: \"{}\" is not key=value; ignored", which, pair));
        }
        continue;
      }
      c.headers.emplace_back(Trim(pair.substr(0, eq)), PercentDecode(Trim(pair.substr(eq + 1))));
    }
  }
  ReadNumber(env, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"}, 1,
             &c.timeout_ms, warnings);
  if (const char* name = env("OTEL_SERVICE_NAME"); name != nullptr && *name != '\0') {
    c.service_name = name;
  }
  ReadNumber(env, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE"}, 1, &c.batch_spans, warnings);
  ReadNumber(env, {"OTEL_BSP_SCHEDULE_DELAY"}, 0, &c.schedule_delay_ms, warnings);
  ReadNumber(env, {"SWARM_SPOOL_MAX_SPANS"}, 0, &c.spool_max_spans, warnings);
  ReadNumber(env, {"SWARM_SPOOL_MAX_BYTES"}, 0, &c.spool_max_bytes, warnings);
  ReadNumber(env, {"SWARM_OTLP_RETRY_INITIAL_MS"}, 1, &c.retry_initial_ms, warnings);
  ReadNumber(env, {"SWARM_OTLP_RETRY_MAX_MS"}, 1, &c.retry_max_ms, warnings);
  if (c.retry_max_ms < c.retry_initial_ms) c.retry_max_ms = c.retry_initial_ms;
  c.enabled = true;
  return c;
}

}  // namespace swarm::telemetry
