#include "sim/scenario_keys.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "sim/settings.h"

namespace faultline::scenario_keys {
namespace {

// The largest integer a key takes unless its spec says otherwise: every
// count and duration fits an int, and sums of durations fit an int64_t.
constexpr int64_t kNoMax = std::numeric_limits<int32_t>::max();

OptionSpec IntKey(std::string name, int64_t default_value, int64_t min, int64_t max,
                  bool range_ok) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = OptionSpec::Type::kInt;
  spec.range_ok = range_ok;
  spec.default_value = default_value;
  spec.min = min;
  spec.max = max;
  return spec;
}

OptionSpec ChoiceKey(std::string name, std::string default_value,
                     std::vector<std::string> choices) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = OptionSpec::Type::kString;
  spec.default_value = std::move(default_value);
  spec.choices = std::move(choices);
  return spec;
}

OptionSpec BoolKey(std::string name, bool default_value) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = OptionSpec::Type::kBool;
  spec.default_value = default_value;
  return spec;
}

// A group of the settings table as a section.
Section SettingsSection(SettingGroup group) {
  Section section{std::string(GroupKey(group)), {}, {}};
  for (const SettingSpec& spec : SettingTable()) {
    if (spec.group == group) section.keys.push_back(ToOptionSpec(spec));
  }
  return section;
}

// The value of `spec` in `object` as written, or its default.
const nlohmann::json& WrittenOr(const nlohmann::json& object, const OptionSpec& spec) {
  const auto it = object.find(spec.name);
  return it == object.end() ? spec.default_value : *it;
}

}  // namespace

// The defaults of the keys outside the settings table equal ResolvedScenario's
// member initializers (a test holds them together); docs/scenario-format.md
// documents this table.
const std::vector<Section>& Sections() {
  static const auto* const sections = new std::vector<Section>{
      {"",
       {ChoiceKey("mode", "lockstep", {"lockstep", "freerun"}), BoolKey("reaper", true),
        ChoiceKey("store", "fs", {"fs", "postgres"})},
       {}},
      SettingsSection(SettingGroup::kCoordinator),
      {"agents",
       {IntKey("count", 4, 1, 1024, true), IntKey("work_ms", 0, 0, 3'600'000, true)},
       {"skills"}},
      {"work", {IntKey("items", 100, 1, 1'000'000, true)}, {"skills", "arrivals"}},
      {"scheduler",
       {ChoiceKey("kind", "random", {"random", "pct"}), IntKey("depth", 3, 1, 64, true),
        ChoiceKey("own_state", "pass", {"pass", "park"})},
       {}},
      {"telemetry",
       {BoolKey("enabled", false), IntKey("batch_spans", 32, 1, 100'000, true),
        IntKey("schedule_delay_ms", 500, 0, kNoMax, true),
        IntKey("spool_max_spans", 10'000, 0, kNoMax, true),
        IntKey("timeout_ms", 500, 1, 60'000, false),
        IntKey("retry_initial_ms", 250, 1, kNoMax, true),
        IntKey("retry_max_ms", 4000, 1, kNoMax, true)},
       {}},
      SettingsSection(SettingGroup::kSlo),
      {"limits",
       {IntKey("sim_ms", 600'000, 1, kNoMax, false), IntKey("wall_ms", 60'000, 1, kNoMax, false),
        IntKey("step_timeout_ms", 10'000, 1, kNoMax, false),
        IntKey("livelock_steps", 100'000, 1, kNoMax, false),
        IntKey("process_events", 2'000'000, 1, kNoMax, false)},
       {}},
  };
  return *sections;
}

const Section& ArrivalsSection() {
  static const auto* const section = new Section{
      "arrivals",
      {IntKey("submitters", 1, 1, kMaxSubmitters, true),
       IntKey("items", 1, 1, kMaxArrivalItems, true), IntKey("at_ms", 0, 0, kNoMax, true)},
      {}};
  return *section;
}

const std::vector<std::string>& TopLevelKeys() {
  static const auto* const keys = new std::vector<std::string>{
      "name", "fmea",      "mode",      "seed",        "coordinator", "agents",
      "work", "reaper",    "scheduler", "faults",      "invariants",  "limits",
      "slo",  "telemetry", "sut",       "differential", "expect",      "store"};
  return *keys;
}

const OptionSpec& KeySpec(std::string_view section, std::string_view key) {
  const auto& sections = Sections();
  const auto s = std::find_if(sections.begin(), sections.end(),
                              [&](const Section& x) { return x.name == section; });
  return *std::find_if(s->keys.begin(), s->keys.end(),
                       [&](const OptionSpec& x) { return x.name == key; });
}

std::string KeyPointer(std::string_view section, std::string_view key) {
  return diag::Child(section.empty() ? "" : diag::Child("", section), key);
}

const nlohmann::json& ValueOf(const nlohmann::json& doc, std::string_view section,
                              std::string_view key) {
  const OptionSpec& spec = KeySpec(section, key);
  if (section.empty()) return WrittenOr(doc, spec);
  const auto it = doc.find(section);
  return it == doc.end() ? spec.default_value : WrittenOr(*it, spec);
}

Span SpanOf(const nlohmann::json& value) {
  if (value.is_array()) return {value[0].get<int64_t>(), value[1].get<int64_t>()};
  return {value.get<int64_t>(), value.get<int64_t>()};
}

}  // namespace faultline::scenario_keys
