// The records the coordinator keeps per item and per agent, and their JSON
// form on disk. Parsing is strict: a record that does not parse is corrupt
// and gets quarantined, never guessed at.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/status.h"

namespace swarm {

enum class ItemStatus { kPending, kClaimed, kDone, kDead, kQuarantined };
std::string_view Name(ItemStatus s);
// Done, dead and quarantined never change again.
inline bool IsTerminal(ItemStatus s) {
  return s == ItemStatus::kDone || s == ItemStatus::kDead || s == ItemStatus::kQuarantined;
}

struct ItemState {
  std::string id;
  ItemStatus status = ItemStatus::kPending;
  int64_t token = 0;          // fencing token of the latest grant; 0 = never granted
  std::string owner;          // agent holding (claimed) or that completed (done)
  int64_t lease_until_us = 0; // claimed: the grant is valid while now < this
  int attempts = 0;           // grants so far
  std::string reason;         // dead / quarantined: why
  std::string payload;        // what the work is, as submitted
  std::string skill;          // the skill an agent needs to be granted it; "" = anyone

  bool LeaseExpired(int64_t now_us) const {
    return status == ItemStatus::kClaimed && lease_until_us <= now_us;
  }
};
nlohmann::json ToJson(const ItemState& s);
Result<ItemState> ItemFromJson(std::string_view text, std::string_view where);

// What an agent holds after a successful claim.
struct Grant {
  std::string item;
  std::string agent;
  int64_t token = 0;
  int64_t lease_until_us = 0;
  int attempt = 0;
  std::string payload;
};

enum class AgentStatus { kAlive, kDead, kRefused, kStopped };
std::string_view Name(AgentStatus s);

struct AgentRecord {
  std::string id;
  AgentStatus status = AgentStatus::kAlive;
  int pid = 0;
  std::string fingerprint;
  int64_t registered_us = 0;
  int64_t heartbeat_us = 0;
  std::vector<std::string> holding;  // items this agent believes it holds
  std::string reason;                // refused / dead / stopped: why
  std::vector<std::string> skills;   // what it can do besides items that need no skill
};
nlohmann::json ToJson(const AgentRecord& a);
Result<AgentRecord> AgentFromJson(std::string_view text, std::string_view where);

// The effect of a completed item, written once to the ledger.
struct Effect {
  std::string item;
  std::string agent;
  int64_t token = 0;
  int64_t at_us = 0;
  std::string result;
};
nlohmann::json ToJson(const Effect& e);
Result<Effect> EffectFromJson(std::string_view text, std::string_view where);

// Item and agent ids become file names: 1-128 of [A-Za-z0-9._-], not
// starting with '.' or '-'.
bool IsValidId(std::string_view id);
// Skill names follow the same rule (so a comma never appears in one).
inline bool IsValidSkill(std::string_view skill) { return IsValidId(skill); }
// Whether an agent with `skills` may be granted an item that needs `skill`.
bool HasSkill(const std::vector<std::string>& skills, std::string_view skill);
// "gpu,rust" as {"gpu", "rust"}; "" as none. InvalidArgument naming the flag
// for an empty, invalid or repeated name.
Result<std::vector<std::string>> ParseSkillList(std::string_view csv);

}  // namespace swarm
