#include "sim/settings.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace faultline {
namespace {

// The largest value a setting takes unless its row says otherwise: every
// duration fits an int, and sums of durations fit an int64_t.
constexpr int64_t kNoMax = std::numeric_limits<int32_t>::max();

using S = ScenarioSettings;
constexpr SettingGroup kCoord = SettingGroup::kCoordinator;
constexpr SettingGroup kSlo = SettingGroup::kSlo;

// What each group is, for the listing.
std::string_view GroupDoc(SettingGroup group) {
  return group == kCoord ? "the cluster settings every agent shares; each is also a placeholder "
                           "{name} in an external SUT's command templates"
                         : "what success_rate, bounded_memory and bounded_monitor_cost hold a "
                           "run to; below 50 % claim success is SEV-2 whatever the SLO says";
}

std::string Bounds(const SettingSpec& spec) {
  if (spec.max == kNoMax) return fmt::format(">= {}", spec.min);
  return fmt::format("{} to {}", spec.min, spec.max);
}

}  // namespace

const std::vector<SettingSpec>& SettingTable() {
  // The order is the scenario format's: the known-keys list of a misspelt
  // key follows it.
  static const auto* const table = new std::vector<SettingSpec>{
      {kCoord, "lease_ms", &S::lease_ms, 3000, 1, kNoMax, true,
       "a grant holds this long unless renewed"},
      {kCoord, "heartbeat_ms", &S::heartbeat_ms, 500, 1, kNoMax, true,
       "agents heartbeat (and check for config drift) this often"},
      {kCoord, "reap_interval_ms", &S::reap_interval_ms, 1000, 1, kNoMax, true,
       "the reaper scans this often"},
      {kCoord, "agent_timeout_ms", &S::agent_timeout_ms, 3000, 1, kNoMax, true,
       "an agent with no heartbeat for this long is declared dead"},
      {kCoord, "max_attempts", &S::max_attempts, 5, 1, kNoMax, true,
       "grants per item before it is dead-lettered"},
      {kCoord, "clock_skew_ms", &S::clock_skew_ms, 0, 0, kNoMax, true,
       "the clock difference between processes the cluster tolerates: leases expire and agents "
       "die this much later for everyone but the holder"},
      // Runbook defaults: below 80 % success or above 20 % lock timeouts is
      // SEV-3.
      {kSlo, "min_claim_success_percent", &S::slo_min_claim_success_percent, 80, 0, 100, false,
       "claim attempts that got an item, at least; below is SEV-3"},
      {kSlo, "max_lock_timeout_percent", &S::slo_max_lock_timeout_percent, 20, 0, 100, false,
       "operations that gave up waiting for a lock, at most; above is SEV-3"},
      {kSlo, "max_rss_growth_kb", &S::slo_max_rss_growth_kb, 4096, 0, kNoMax, false,
       "how far an agent's or the reaper's resident set may grow after warm-up"},
      {kSlo, "max_monitor_cpu_growth_percent", &S::slo_max_monitor_cpu_growth_percent, 300, 100,
       kNoMax, false,
       "the reaper's CPU per pass late in the run, as a percentage of early on (plus 300 us "
       "slack)"},
      {kSlo, "max_monitor_cpu_us_per_scan", &S::slo_max_monitor_cpu_us_per_scan, 20'000, 1, kNoMax,
       false, "the reaper's CPU per pass late in the run, at most"},
      {kSlo, "max_monitor_rss_growth_kb", &S::slo_max_monitor_rss_growth_kb, 2048, 0, kNoMax, false,
       "how far the reaper's resident set may grow after warm-up"},
  };
  return *table;
}

ScenarioSettings::ScenarioSettings() {
  for (const SettingSpec& spec : SettingTable()) this->*spec.field = spec.default_value;
}

std::string_view GroupKey(SettingGroup group) {
  return group == SettingGroup::kCoordinator ? "coordinator" : "slo";
}

std::string SettingPointer(const SettingSpec& spec) {
  return fmt::format("/{}/{}", GroupKey(spec.group), spec.name);
}

const SettingSpec& SpecOf(int64_t ScenarioSettings::*field) {
  const auto& table = SettingTable();
  return *std::find_if(table.begin(), table.end(),
                       [field](const SettingSpec& spec) { return spec.field == field; });
}

const SettingSpec* FindSetting(std::string_view pointer) {
  for (const SettingSpec& spec : SettingTable()) {
    if (SettingPointer(spec) == pointer) return &spec;
  }
  return nullptr;
}

OptionSpec ToOptionSpec(const SettingSpec& spec) {
  OptionSpec option;
  option.name = std::string(spec.name);
  option.type = OptionSpec::Type::kInt;
  option.range_ok = spec.range_ok;
  option.default_value = spec.default_value;
  option.min = spec.min;
  option.max = spec.max;
  option.help = std::string(spec.doc);
  return option;
}

nlohmann::json GroupJson(const ScenarioSettings& values, SettingGroup group) {
  nlohmann::json j = nlohmann::json::object();
  for (const SettingSpec& spec : SettingTable()) {
    if (spec.group == group) j[std::string(spec.name)] = values.*spec.field;
  }
  return j;
}

std::string SettingsListing() {
  std::string out;
  for (SettingGroup group : {kCoord, kSlo}) {
    out += fmt::format("{}: {}\n", GroupKey(group), GroupDoc(group));
    for (const SettingSpec& spec : SettingTable()) {
      if (spec.group != group) continue;
      out += fmt::format("  {:<32} default {:<6} {:<16} {}\n", spec.name, spec.default_value,
                         Bounds(spec) + (spec.range_ok ? ", or a range" : ""), spec.doc);
    }
  }
  return out;
}

}  // namespace faultline
