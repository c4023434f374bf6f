#include "coordinator/config.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace swarm {
namespace {

uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// The fields, in one table, so fingerprint, JSON and diff cannot disagree.
struct Field {
  const char* name;
  int64_t ClusterConfig::*i64;
  int ClusterConfig::*i32;
  int64_t min;
};
constexpr Field kFields[] = {
    {"schema_version", nullptr, &ClusterConfig::schema_version, 1},
    {"lease_ms", &ClusterConfig::lease_ms, nullptr, 1},
    {"heartbeat_ms", &ClusterConfig::heartbeat_ms, nullptr, 1},
    {"reap_interval_ms", &ClusterConfig::reap_interval_ms, nullptr, 1},
    {"agent_timeout_ms", &ClusterConfig::agent_timeout_ms, nullptr, 1},
    {"max_attempts", nullptr, &ClusterConfig::max_attempts, 1},
    {"clock_skew_ms", &ClusterConfig::clock_skew_ms, nullptr, 0},
};

int64_t Get(const ClusterConfig& c, const Field& f) { return f.i64 ? c.*(f.i64) : c.*(f.i32); }
void Set(ClusterConfig& c, const Field& f, int64_t v) {
  if (f.i64) {
    c.*(f.i64) = v;
  } else {
    c.*(f.i32) = static_cast<int>(v);
  }
}

}  // namespace

std::string Fingerprint(const ClusterConfig& config) {
  std::string canonical;
  for (const Field& f : kFields) canonical += fmt::format("{}={};", f.name, Get(config, f));
  return fmt::format("{:016x}", Fnv1a64(canonical));
}

nlohmann::json ToJson(const ClusterConfig& config) {
  nlohmann::json j = nlohmann::json::object();
  for (const Field& f : kFields) j[f.name] = Get(config, f);
  return j;
}

Result<ClusterConfig> ConfigFromJson(const nlohmann::json& j, std::string_view where) {
  if (!j.is_object()) {
    return Status::InvalidArgument(fmt::format("{}: expected a JSON object of settings", where));
  }
  ClusterConfig c;
  for (const auto& [key, value] : j.items()) {
    const Field* field = nullptr;
    for (const Field& f : kFields) {
      if (key == f.name) field = &f;
    }
    if (field == nullptr) {
      std::string known;
      for (const Field& f : kFields) known += std::string(known.empty() ? "" : ", ") + f.name;
      return Status::InvalidArgument(
          fmt::format("{}: unknown setting \"{}\" (known: {})", where, key, known));
    }
    if (!value.is_number_integer() || value.get<int64_t>() < field->min ||
        value.get<int64_t>() > (field->i32 ? INT32_MAX : INT64_MAX / 1000)) {
      return Status::InvalidArgument(fmt::format(
          "{}: \"{}\" is {}, expected an integer >= {}", where, key, value.dump(), field->min));
    }
    Set(c, *field, value.get<int64_t>());
  }
  return c;
}

Result<ClusterConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(fmt::format("{}: cannot open config file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false, /*ignore_comments=*/true);
  if (j.is_discarded()) return Status::InvalidArgument(fmt::format("{}: not valid JSON", path));
  return ConfigFromJson(j, path);
}

std::string DescribeDifference(const ClusterConfig& a, const ClusterConfig& b) {
  std::string out;
  for (const Field& f : kFields) {
    if (Get(a, f) != Get(b, f)) {
      out += fmt::format("{}{} {} vs {}", out.empty() ? "" : ", ", f.name, Get(a, f), Get(b, f));
    }
  }
  return out.empty() ? "no difference" : out;
}

std::string ClusterText(const ClusterConfig& config, const ClusterFormat& format) {
  const nlohmann::json j = {
      {"format", format.name}, {"config", ToJson(config)}, {"fingerprint", Fingerprint(config)}};
  return format.pretty ? j.dump(2) + "\n" : j.dump();
}

Result<ClusterConfig> ParseCluster(const std::string& text, const ClusterFormat& format,
                                   const std::string& where) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != format.name ||
      !j.contains("config") || !j.contains("fingerprint") || !j["fingerprint"].is_string()) {
    return Status::Corrupt(fmt::format("{}: not a swarm cluster {}", where, format.noun));
  }
  auto config = ConfigFromJson(j["config"], where);
  if (!config.ok()) return Status::Corrupt(config.status().message());
  if (Fingerprint(*config) != j["fingerprint"].get<std::string>()) {
    return Status::Corrupt(where + ": fingerprint does not match its settings");
  }
  return config;
}

}  // namespace swarm
