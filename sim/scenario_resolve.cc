// Resolve: one concrete run of a scenario family, every range drawn from the
// seed, and the way back, ResolvedScenario::ToJson.
#include <fmt/format.h>

#include <algorithm>
#include <string_view>

#include "sim/option_check.h"
#include "sim/scenario.h"
#include "sim/scenario_keys.h"
#include "sim/settings.h"

namespace faultline {
namespace {

using nlohmann::json;
using scenario_keys::KeyPointer;
using scenario_keys::SpanOf;
using scenario_keys::ValueOf;

const char* ModeName(Mode mode) { return mode == Mode::kFreerun ? "freerun" : "lockstep"; }

}  // namespace

// REQUIRES: `scenario` was validated against `catalog`.
ResolvedScenario Resolve(const Scenario& scenario, const Catalog& catalog, uint64_t seed) {
  const json& doc = scenario.doc;
  const Rng root(seed);
  auto value = [&doc](std::string_view section, std::string_view key) -> const json& {
    return ValueOf(doc, section, key);
  };
  // Each range has the stream named by its pointer, so the order of the
  // draws below does not matter.
  auto draw = [&](std::string_view section, std::string_view key) {
    return DrawValue(value(section, key), root, KeyPointer(section, key)).get<int64_t>();
  };

  ResolvedScenario r;
  r.name = scenario.name;
  r.fmea = doc.value("fmea", std::vector<std::string>{});
  if (const auto expect = doc.find("expect"); expect != doc.end()) {
    r.expect_reached = expect->value("reached", std::vector<std::string>{});
    r.expect_sometimes = expect->value("sometimes", std::vector<std::string>{});
    // Then those of the run's store only.
    const auto own = expect->find(value("", "store").get<std::string>());
    if (own != expect->end()) {
      for (const std::string& name : own->value("reached", std::vector<std::string>{})) {
        r.expect_reached.push_back(name);
      }
      for (const std::string& name : own->value("sometimes", std::vector<std::string>{})) {
        r.expect_sometimes.push_back(name);
      }
    }
  }
  r.mode = value("", "mode") == "freerun" ? Mode::kFreerun : Mode::kLockstep;
  r.seed = seed;
  for (const SettingSpec& spec : SettingTable()) {
    r.*spec.field = draw(GroupKey(spec.group), spec.name);
  }
  r.agents = static_cast<int>(draw("agents", "count"));
  // work_ms stays a range: each agent draws every item's work time from it.
  const scenario_keys::Span work = SpanOf(value("agents", "work_ms"));
  r.work_min_ms = work.lo;
  r.work_max_ms = work.hi;
  r.items = static_cast<int>(draw("work", "items"));
  if (doc.contains("agents") && doc["agents"].contains("skills")) {
    r.agent_skills = doc["agents"]["skills"];
  }
  if (doc.contains("work") && doc["work"].contains("skills")) r.item_skills = doc["work"]["skills"];
  if (doc.contains("work") && doc["work"].contains("arrivals")) {
    const json& arrivals = doc["work"]["arrivals"];
    auto arrival = [&](std::string_view key) -> const json& {
      const OptionSpec& spec = *std::find_if(
          scenario_keys::ArrivalsSection().keys.begin(),
          scenario_keys::ArrivalsSection().keys.end(),
          [&](const OptionSpec& x) { return x.name == key; });
      const auto it = arrivals.find(std::string(key));
      return it == arrivals.end() ? spec.default_value : *it;
    };
    r.arrivals.submitters = static_cast<int>(
        DrawValue(arrival("submitters"), root, "/work/arrivals/submitters").get<int64_t>());
    r.arrivals.items = DrawValue(arrival("items"), root, "/work/arrivals/items").get<int64_t>();
    const scenario_keys::Span at = SpanOf(arrival("at_ms"));
    r.arrivals.at_lo_ms = at.lo;
    r.arrivals.at_hi_ms = at.hi;
  }
  r.reaper = value("", "reaper").get<bool>();
  r.store = value("", "store").get<std::string>();
  r.scheduler = value("scheduler", "kind").get<std::string>();
  r.pct_depth = static_cast<int>(draw("scheduler", "depth"));
  r.own_state = value("scheduler", "own_state").get<std::string>();

  const auto faults = doc.find("faults");
  for (size_t i = 0; faults != doc.end() && i < faults->size(); ++i) {
    const json& written = (*faults)[i];
    const FaultKind& kind = *catalog.FindFault(written.at("kind").get<std::string>());
    r.faults.push_back(
        {kind.name, ResolveOptions(written, kind.options, root, fmt::format("/faults/{}", i))});
  }

  if (doc.contains("invariants")) {
    const json& list = doc["invariants"];
    for (size_t i = 0; i < list.size(); ++i) {
      if (!list[i].is_object()) {
        r.invariants.push_back(list[i].get<std::string>());
        continue;
      }
      const std::string name = list[i]["name"].get<std::string>();
      r.invariants.push_back(name);
      r.invariant_options[name] = ResolveOptions(list[i], catalog.FindInvariant(name)->options,
                                                 root, fmt::format("/invariants/{}", i));
    }
  } else {
    for (const InvariantKind& kind : catalog.invariants) r.invariants.emplace_back(kind.name);
  }

  r.telemetry.enabled = value("telemetry", "enabled").get<bool>();
  r.telemetry.batch_spans = draw("telemetry", "batch_spans");
  r.telemetry.schedule_delay_ms = draw("telemetry", "schedule_delay_ms");
  r.telemetry.spool_max_spans = draw("telemetry", "spool_max_spans");
  r.telemetry.timeout_ms = draw("telemetry", "timeout_ms");
  r.telemetry.retry_initial_ms = draw("telemetry", "retry_initial_ms");
  r.telemetry.retry_max_ms = draw("telemetry", "retry_max_ms");

  if (doc.contains("sut")) r.sut = doc["sut"];
  if (doc.contains("differential")) r.differential = doc["differential"];
  r.sim_ms = draw("limits", "sim_ms");
  r.wall_ms = draw("limits", "wall_ms");
  r.step_timeout_ms = draw("limits", "step_timeout_ms");
  r.livelock_steps = draw("limits", "livelock_steps");
  r.process_events = draw("limits", "process_events");
  return r;
}

json ResolvedScenario::SloJson() const { return GroupJson(*this, SettingGroup::kSlo); }

json ResolvedScenario::InvariantOptions(const InvariantKind& kind) const {
  const auto it = invariant_options.find(kind.name);
  return it == invariant_options.end() ? DefaultOptions(kind.options) : it->second;
}

json ResolvedScenario::ToJson() const {
  json fault_list = json::array();
  for (const FaultInstance& fault : faults) {
    json entry = fault.options;
    entry["kind"] = fault.kind;
    fault_list.push_back(std::move(entry));
  }
  json j = {
      {"name", name},
      {"fmea", fmea},
      {"mode", ModeName(mode)},
      {"seed", seed},
      {"coordinator", GroupJson(*this, SettingGroup::kCoordinator)},
      {"agents",
       {{"count", agents},
        {"work_ms", work_min_ms == work_max_ms ? json(work_min_ms)
                                               : json::array({work_min_ms, work_max_ms})}}},
      {"work", {{"items", items}}},
      {"reaper", reaper},
      {"scheduler", {{"kind", scheduler}, {"depth", pct_depth}, {"own_state", own_state}}},
      {"faults", std::move(fault_list)},
      {"limits",
       {{"sim_ms", sim_ms},
        {"wall_ms", wall_ms},
        {"step_timeout_ms", step_timeout_ms},
        {"livelock_steps", livelock_steps},
        {"process_events", process_events}}},
      {"slo", SloJson()},
      {"telemetry",
       {{"enabled", telemetry.enabled},
        {"batch_spans", telemetry.batch_spans},
        {"schedule_delay_ms", telemetry.schedule_delay_ms},
        {"spool_max_spans", telemetry.spool_max_spans},
        {"timeout_ms", telemetry.timeout_ms},
        {"retry_initial_ms", telemetry.retry_initial_ms},
        {"retry_max_ms", telemetry.retry_max_ms}}},
  };
  // A written list may not be empty; no invariants can only come from a
  // catalog without any, which leaving the key out reproduces.
  if (!invariants.empty()) {
    json list = json::array();
    for (const std::string& invariant : invariants) {
      const auto options = invariant_options.find(invariant);
      if (options == invariant_options.end()) {
        list.push_back(invariant);
        continue;
      }
      json entry = options->second;
      entry["name"] = invariant;
      list.push_back(std::move(entry));
    }
    j["invariants"] = std::move(list);
  }
  if (!sut.is_null()) j["sut"] = sut;
  // Only when not the default, so that the resolved files of runs on the
  // shared directory stay as they were.
  if (store != "fs") j["store"] = store;
  if (!expect_reached.empty()) j["expect"]["reached"] = expect_reached;
  if (!expect_sometimes.empty()) j["expect"]["sometimes"] = expect_sometimes;
  if (!differential.is_null()) j["differential"] = differential;
  // Weighted lists, as written: the seed draws each agent's and item's skills.
  if (!agent_skills.is_null()) j["agents"]["skills"] = agent_skills;
  if (!item_skills.is_null()) j["work"]["skills"] = item_skills;
  if (arrivals.submitters > 0) {
    j["work"]["arrivals"] = {
        {"submitters", arrivals.submitters},
        {"items", arrivals.items},
        {"at_ms", arrivals.at_lo_ms == arrivals.at_hi_ms
                      ? json(arrivals.at_lo_ms)
                      : json::array({arrivals.at_lo_ms, arrivals.at_hi_ms})}};
  }
  return j;
}

}  // namespace faultline
