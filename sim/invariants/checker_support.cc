#include "sim/invariants/checker_support.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace faultline::checker {

int64_t IntField(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

int64_t SloBound(const TraceEvent& run_start, int64_t ScenarioSettings::*field) {
  const SettingSpec& spec = SpecOf(field);
  const auto slo = run_start.fields.find("slo");
  if (slo == run_start.fields.end() || !slo->is_object()) return spec.default_value;
  return slo->value(std::string(spec.name), spec.default_value);
}

int64_t SloDefault(int64_t ScenarioSettings::*field) { return SpecOf(field).default_value; }

const std::string& StrField(const nlohmann::json& j, const char* key) {
  static const std::string kNone;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get_ref<const std::string&>() : kNone;
}

std::string Seconds(int64_t us) { return fmt::format("{:.3f} s", static_cast<double>(us) / 1e6); }

void ViolationList::Report(std::string message, std::vector<uint64_t> evidence) {
  if (++reported_ > cap_) return;
  listed_.push_back({invariant_, std::move(message), std::move(evidence)});
}

void ViolationList::MoveTo(std::vector<Violation>* out) {
  for (Violation& v : listed_) out->push_back(std::move(v));
  listed_.clear();
  if (reported_ > cap_) {
    out->push_back(
        {invariant_,
         fmt::format("{} more {} not listed ({} in all)", reported_ - cap_, noun_, reported_),
         {}});
  }
}

void ProcessClocks::Observe(const TraceEvent& event) {
  if (event.type == "spawn") {
    started_[event.agent] = event.t;
  } else if (event.type == "fault" && StrField(event.fields, "kind") == "clock_skew") {
    skew_[event.agent] =
        Skew{IntField(event.fields, "offset_us"), IntField(event.fields, "drift_ppm")};
  }
}

bool ProcessClocks::OnServerClock(const TraceEvent& event) {
  auto clock = event.fields.find("clock");
  return clock != event.fields.end() && clock->is_string() && *clock == "server";
}

int64_t ProcessClocks::SkewAt(const std::string& proc, int64_t t) const {
  if (skew_.empty()) return 0;
  auto it = skew_.find(proc);
  if (it == skew_.end()) return 0;
  auto start = started_.find(proc);
  const int64_t since = start == started_.end() ? t : t - start->second;
  return it->second.offset_us + it->second.drift_ppm * since / 1'000'000;
}

void SkillCoverage::Observe(const TraceEvent& event) {
  if (event.type == "submit") {
    OnSubmit(event.fields);
  } else if (event.type == "spawn" && StrField(event.fields, "role") == "agent") {
    agents_[event.agent].in_fleet = true;
  } else if (event.type == "exit" && StrField(event.fields, "role") == "agent") {
    const bool died = event.fields.contains("signal") || IntField(event.fields, "code") != 0;
    if (died) agents_[event.agent].in_fleet = false;
  }
}

void SkillCoverage::OnSubmit(const nlohmann::json& submit) {
  const auto items = submit.find("skills");
  if (items != submit.end() && items->is_object()) {
    for (const auto& [skill, ids] : items->items()) {
      if (!ids.is_array()) continue;
      for (const auto& id : ids) {
        if (id.is_string()) item_skill_[id.get<std::string>()] = skill;
      }
    }
  }
  const auto agents = submit.find("agent_skills");
  if (agents != submit.end() && agents->is_object()) {
    for (const auto& [id, skills] : agents->items()) {
      if (!skills.is_array()) continue;
      Agent& agent = agents_[id];
      for (const auto& skill : skills) {
        if (skill.is_string()) agent.skills.push_back(skill.get<std::string>());
      }
    }
  }
}

const std::string& SkillCoverage::ItemSkill(const std::string& item) const {
  static const std::string kNone;
  const auto it = item_skill_.find(item);
  return it == item_skill_.end() ? kNone : it->second;
}

bool SkillCoverage::AgentHas(const std::string& agent, const std::string& skill) const {
  if (skill.empty()) return true;
  const auto it = agents_.find(agent);
  return it != agents_.end() &&
         std::find(it->second.skills.begin(), it->second.skills.end(), skill) !=
             it->second.skills.end();
}

std::string SkillCoverage::AgentSkillsText(const std::string& agent) const {
  const auto it = agents_.find(agent);
  if (it == agents_.end() || it->second.skills.empty()) return "none";
  std::string out;
  for (const std::string& skill : it->second.skills) out += (out.empty() ? "" : ", ") + skill;
  return out;
}

std::set<std::string> SkillCoverage::FleetSkills() const {
  std::set<std::string> out;
  for (const auto& [id, agent] : agents_) {
    if (agent.in_fleet) out.insert(agent.skills.begin(), agent.skills.end());
  }
  return out;
}

}  // namespace faultline::checker
