// The cluster configuration: the safety-relevant settings every agent of one
// coordination directory must share, stored in DIR/cluster.json.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "coordinator/status.h"

namespace swarm {

inline constexpr int kSchemaVersion = 1;

struct ClusterConfig {
  int schema_version = kSchemaVersion;
  int64_t lease_ms = 3000;          // a grant holds this long unless renewed
  int64_t heartbeat_ms = 500;       // agents heartbeat (and check drift) this often
  int64_t reap_interval_ms = 1000;  // the reaper scans this often
  int64_t agent_timeout_ms = 3000;  // no heartbeat for this long => agent dead
  int max_attempts = 5;             // failed grants (not releases) before dead-lettering
  // The largest difference between two processes' clocks the cluster
  // tolerates: a lease counts as expired, and an agent as dead, only this much
  // later on the observer's clock. 0 on one host, where every process reads
  // the same clock; the bound of the clock synchronization across hosts.
  int64_t clock_skew_ms = 0;

  bool operator==(const ClusterConfig&) const = default;
};

// Hex FNV-1a/64 of the canonical form of every field above. Two configs with
// the same fingerprint are interchangeable for the claim protocol.
std::string Fingerprint(const ClusterConfig& config);

nlohmann::json ToJson(const ClusterConfig& config);

// Parses a config object. Unknown keys and bad values are errors naming the
// key; `where` prefixes messages (a file name). Missing keys keep defaults.
Result<ClusterConfig> ConfigFromJson(const nlohmann::json& j, std::string_view where);

// Reads a config file (JSON) written by a user.
Result<ClusterConfig> LoadConfigFile(const std::string& path);

// Human summary of what differs between two configs ("lease_ms 3000 vs 5000").
std::string DescribeDifference(const ClusterConfig& a, const ClusterConfig& b);

// How a store keeps its config: a JSON object {"format", "config",
// "fingerprint"} whose "format" names the kind of store.
struct ClusterFormat {
  std::string_view name;  // the value of "format"
  std::string_view noun;  // what holds it, in messages ("file", "record")
  bool pretty;            // indented with a final newline, else one line
};
// DIR/cluster.json of the fs backend; meta.cluster of the PostgreSQL backend.
inline constexpr ClusterFormat kClusterFile{"swarm-coordination-dir", "file", true};
inline constexpr ClusterFormat kClusterRecord{"swarm-cluster", "record", false};

// `config` as `format` stores it.
std::string ClusterText(const ClusterConfig& config, const ClusterFormat& format);

// Parses what ClusterText wrote. Corrupt, prefixed with `where`, when it is
// not such a text of `format`, a setting is bad, or the fingerprint does not
// match the settings.
Result<ClusterConfig> ParseCluster(const std::string& text, const ClusterFormat& format,
                                   const std::string& where);

}  // namespace swarm
