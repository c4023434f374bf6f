#include "sim/skills.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "sim/rng.h"

namespace faultline::skills {
namespace {

using nlohmann::json;

constexpr int64_t kMaxWeight = 1'000'000;
constexpr size_t kMaxSkillName = 64;
constexpr const char* kSkillRule = "a skill name of 1 to 64 characters from a-z, 0-9, '.', '_' "
                                   "and '-'";

bool ValidSkill(const json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  return !s.empty() && s.size() <= kMaxSkillName && s[0] != '.' && s[0] != '-' &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-';
         });
}

std::optional<Problem> Fail(std::string pointer, std::string message) {
  return Problem{std::move(pointer), std::move(message)};
}

std::string Shown(const json& v) {
  std::string s = v.dump();
  return s.size() <= 60 ? s : s.substr(0, 57) + "...";
}

// The checks both lists share: a non-empty array of objects with an integer
// weight and only the keys `known`.
std::optional<Problem> CheckEntries(const json& list, const std::string& pointer,
                                    const std::vector<std::string>& known,
                                    const char* entry_shape) {
  if (!list.is_array() || list.empty()) {
    return Fail(pointer, fmt::format("found {}, expected a non-empty array of {}", Shown(list),
                                     entry_shape));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const json& entry = list[i];
    const std::string at = fmt::format("{}/{}", pointer, i);
    if (!entry.is_object()) {
      return Fail(at, fmt::format("found {}, expected {}", Shown(entry), entry_shape));
    }
    for (const auto& [key, value] : entry.items()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        return Fail(at + "/" + key, fmt::format("unknown key \"{}\"; known keys: {}", key,
                                                fmt::join(known, ", ")));
      }
    }
    const auto weight = entry.find("weight");
    if (weight == entry.end()) return Fail(at, "missing \"weight\" (an integer from 1 to 1000000)");
    if (!weight->is_number_integer() || weight->get<int64_t>() < 1 ||
        weight->get<int64_t>() > kMaxWeight) {
      return Fail(at + "/weight",
                  fmt::format("found {}, expected an integer from 1 to 1000000", Shown(*weight)));
    }
  }
  return std::nullopt;
}

// The index of the entry drawn from `stream`, each entry as likely as its weight.
size_t Pick(const json& list, Rng stream) {
  int64_t total = 0;
  for (const json& entry : list) total += entry["weight"].get<int64_t>();
  int64_t x = stream.Between(0, total - 1);
  for (size_t i = 0; i < list.size(); ++i) {
    x -= list[i]["weight"].get<int64_t>();
    if (x < 0) return i;
  }
  return list.size() - 1;
}

}  // namespace

std::optional<Problem> CheckAgentSkills(const json& list, const std::string& pointer) {
  constexpr const char* kShape =
      "{\"weight\": W, \"skills\": [names]} (the skills of an agent that draws this entry)";
  if (auto problem = CheckEntries(list, pointer, {"weight", "skills"}, kShape)) return problem;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = fmt::format("{}/{}/skills", pointer, i);
    const auto skills = list[i].find("skills");
    if (skills == list[i].end()) {
      return Fail(fmt::format("{}/{}", pointer, i),
                  "missing \"skills\" (an array of skill names; [] for an agent without any)");
    }
    if (!skills->is_array()) {
      return Fail(at, fmt::format("found {}, expected an array of skill names", Shown(*skills)));
    }
    for (size_t k = 0; k < skills->size(); ++k) {
      const json& skill = (*skills)[k];
      if (!ValidSkill(skill)) {
        return Fail(fmt::format("{}/{}", at, k),
                    fmt::format("found {}, expected {}", Shown(skill), kSkillRule));
      }
      if (std::find(skills->begin(), skills->begin() + static_cast<long>(k), skill) !=
          skills->begin() + static_cast<long>(k)) {
        return Fail(fmt::format("{}/{}", at, k), fmt::format("{} is listed twice", Shown(skill)));
      }
    }
  }
  return std::nullopt;
}

std::optional<Problem> CheckItemSkills(const json& list, const std::string& pointer) {
  constexpr const char* kShape =
      "{\"weight\": W, \"skill\": name} (leave \"skill\" out for items any agent may take)";
  if (auto problem = CheckEntries(list, pointer, {"weight", "skill"}, kShape)) return problem;
  for (size_t i = 0; i < list.size(); ++i) {
    const auto skill = list[i].find("skill");
    if (skill != list[i].end() && !ValidSkill(*skill)) {
      return Fail(fmt::format("{}/{}/skill", pointer, i),
                  fmt::format("found {}, expected {} (leave \"skill\" out for none)",
                              Shown(*skill), kSkillRule));
    }
  }
  return std::nullopt;
}

std::vector<std::string> AgentSkills(const json& list, uint64_t seed, int index) {
  const Rng stream = Rng(seed).Split(fmt::format("/agents/skills/{}", index));
  return list[Pick(list, stream)]["skills"].get<std::vector<std::string>>();
}

std::string ItemSkill(const json& list, uint64_t seed, int index) {
  const Rng stream = Rng(seed).Split(fmt::format("/work/skills/{}", index));
  return list[Pick(list, stream)].value("skill", "");
}

std::string Joined(const std::vector<std::string>& skills) {
  return fmt::format("{}", fmt::join(skills, ","));
}

}  // namespace faultline::skills
