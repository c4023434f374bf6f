#include "sim/invariants/skill_match.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <utility>

namespace faultline {

using checker::StrField;

namespace {

constexpr size_t kMaxNamed = 10;

bool Terminal(const std::string& status) {
  return status == "done" || status == "dead" || status == "quarantined";
}

}  // namespace

void SkillMatch::Observe(const TraceEvent& event) {
  coverage_.Observe(event);
  if (event.type == "claim_ok") {
    Check(event, "granted to");
  } else if (event.type == "complete_ok") {
    Check(event, "completed by");
  } else if (event.type == "run_end") {
    OnRunEnd(event);
  }
}

void SkillMatch::Check(const TraceEvent& event, const char* what) {
  const std::string& skill = coverage_.ItemSkill(event.item);
  if (skill.empty()) return;
  if (event.type == "claim_ok") ++skilled_grants_;
  if (coverage_.AgentHas(event.agent, skill)) return;
  violations_.Report(fmt::format("{} was {} agent {}, which lacks the skill {} it needs (the "
                                 "agent's skills: {})",
                                 event.item, what, event.agent, skill,
                                 coverage_.AgentSkillsText(event.agent)),
                     {event.seq});
}

void SkillMatch::OnRunEnd(const TraceEvent& event) {
  const auto items = event.fields.find("items");
  if (!coverage_.any() || items == event.fields.end() || !items->is_array()) return;
  const std::set<std::string> fleet = coverage_.FleetSkills();
  for (const auto& entry : *items) {
    const std::string& id = StrField(entry, "id");
    if (Terminal(StrField(entry, "status")) || !coverage_.Unservable(id, fleet)) continue;
    unservable_[coverage_.ItemSkill(id)].push_back(id);
  }
}

void SkillMatch::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

nlohmann::json SkillMatch::Summary() const {
  if (!coverage_.any()) return nullptr;
  size_t count = 0;
  nlohmann::json by_skill = nlohmann::json::object();
  for (const auto& [skill, ids] : unservable_) {
    count += ids.size();
    by_skill[skill] = ids;
  }
  return {{"skilled_grants", skilled_grants_}, {"unservable", count},
          {"unservable_by_skill", std::move(by_skill)}};
}

std::string SkillMatch::SummaryText() const {
  if (!coverage_.any()) return "";
  if (unservable_.empty()) {
    return fmt::format("{} grant{} of items that need a skill; nothing unservable",
                       skilled_grants_, skilled_grants_ == 1 ? "" : "s");
  }
  std::vector<std::string> parts;
  size_t count = 0;
  for (const auto& [skill, ids] : unservable_) {
    count += ids.size();
    std::vector<std::string> named(ids.begin(), ids.begin() + std::min(ids.size(), kMaxNamed));
    parts.push_back(fmt::format("{} needs {}{}", fmt::join(named, ", "), skill,
                                ids.size() > named.size()
                                    ? fmt::format(" (and {} more)", ids.size() - named.size())
                                    : ""));
  }
  return fmt::format("{} item{} unservable, no live agent has the skill: {}", count,
                     count == 1 ? "" : "s", fmt::join(parts, "; "));
}

}  // namespace faultline
