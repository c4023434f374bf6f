// The settings table: every coordinator setting and every SLO bound a
// scenario may set, declared once (name, group, default, bounds, whether a
// range is allowed, one line of doc). Everything that reads or writes a
// setting goes through the table rather than naming it: scenario validation
// and Resolve, the resolved JSON, run_start, the reference coordinator's
// cluster configuration, explore's knobs, an external SUT's command-template
// placeholders and its adapter's configuration, the SLO checkers' fallbacks
// and `faultline list settings`.
//
// Adding a setting: one field of ScenarioSettings (no initializer) and one
// row of the table in settings.cc (tests/sim/settings_test.cc checks that
// every field has a row). Code that needs the value reads the named field.
//
// This is a leaf: it depends on nothing of the harness but OptionSpec, so
// the external-SUT library, the adapter and the invariant checkers use it
// as well as the scenario code. Pure data and pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sim/options.h"

namespace faultline {

// The values of every setting of the table, as named fields so that code
// reads `s.lease_ms`. ResolvedScenario is a ScenarioSettings.
struct ScenarioSettings {
  // Every field at the default its table row declares.
  ScenarioSettings();

  // Group "coordinator": the cluster settings every agent shares.
  int64_t lease_ms;
  int64_t heartbeat_ms;
  int64_t reap_interval_ms;
  int64_t agent_timeout_ms;
  int64_t max_attempts;
  int64_t clock_skew_ms;
  // Group "slo": the bounds the SLO checkers hold a run to (the "slo"
  // block's keys, without the prefix).
  int64_t slo_min_claim_success_percent;
  int64_t slo_max_lock_timeout_percent;
  int64_t slo_max_rss_growth_kb;
  int64_t slo_max_monitor_cpu_growth_percent;
  int64_t slo_max_monitor_cpu_us_per_scan;
  int64_t slo_max_monitor_rss_growth_kb;
};

enum class SettingGroup {
  // Written under "coordinator"; given to the coordinator (the reference
  // coordinator's cluster configuration, an external SUT's templates as
  // {name}, the adapter's configuration) and recorded in run_start.
  kCoordinator,
  // Written under "slo"; read by the checkers from run_start's "slo".
  kSlo,
};

// One row of the table. Every setting is an integer.
struct SettingSpec {
  SettingGroup group;
  std::string_view name;  // the key in its group's block; unique over the table
  int64_t ScenarioSettings::*field;
  int64_t default_value;
  int64_t min, max;      // inclusive bounds of a written value (and of both ends of a range)
  bool range_ok;         // [lo, hi] may be written; Resolve draws it from the seed
  std::string_view doc;  // one line
};

// The table, in the order the scenario format lists the settings.
const std::vector<SettingSpec>& SettingTable();

// "coordinator" or "slo": the scenario block a group is written in.
std::string_view GroupKey(SettingGroup group);

// "/coordinator/lease_ms": where a setting is written in a scenario (also
// the name of the random stream its range is drawn from).
std::string SettingPointer(const SettingSpec& spec);

// The row of `field`. REQUIRES: `field` is a field of ScenarioSettings (every
// one has a row).
const SettingSpec& SpecOf(int64_t ScenarioSettings::*field);

// The row written at `pointer` ("/coordinator/lease_ms"), or null.
const SettingSpec* FindSetting(std::string_view pointer);

// The row as a plug-in option (sim/options.h), so that scenario validation
// checks it like any other typed key.
OptionSpec ToOptionSpec(const SettingSpec& spec);

// {name: value} of every setting of `group`, e.g. the "coordinator" block.
nlohmann::json GroupJson(const ScenarioSettings& values, SettingGroup group);

// The text of `faultline list settings`: per group, one line per setting with
// its name, default, bounds and doc.
std::string SettingsListing();

}  // namespace faultline
