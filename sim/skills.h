// Specializations in a scenario (docs/scenario-format.md, "Skills"): which
// skills each agent has and which skill each item needs, as weighted lists
// that every agent and item draws from, deterministically from the seed.
//
//   "agents": {"skills": [{"weight": 2, "skills": ["gpu"]}, {"weight": 1, "skills": []}]}
//   "work":   {"skills": [{"weight": 1, "skill": "gpu"}, {"weight": 3}]}
//
// Agent i draws from the stream "/agents/skills/<i>", item i (1-based, as in
// its id w000001) from "/work/skills/<i>": one draw never shifts another, so
// a shrunk scenario keeps the skills of the agents and items it keeps.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace faultline::skills {

struct Problem {
  std::string pointer;  // JSON pointer of the offending value
  std::string message;  // found X, expected Y
};

// `list` is the value at `pointer` ("/agents/skills"; "/work/skills").
std::optional<Problem> CheckAgentSkills(const nlohmann::json& list, const std::string& pointer);
std::optional<Problem> CheckItemSkills(const nlohmann::json& list, const std::string& pointer);

// REQUIRES: `list` passed its check. The skills of agent `index` (0-based).
std::vector<std::string> AgentSkills(const nlohmann::json& list, uint64_t seed, int index);
// The skill item `index` (1-based) needs; "" for none.
std::string ItemSkill(const nlohmann::json& list, uint64_t seed, int index);

// "gpu,rust": the form of swarm agent --skills.
std::string Joined(const std::vector<std::string>& skills);

}  // namespace faultline::skills
