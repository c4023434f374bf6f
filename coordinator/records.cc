#include "coordinator/records.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

namespace swarm {
namespace {

constexpr std::array<std::pair<ItemStatus, std::string_view>, 5> kItemNames{{
    {ItemStatus::kPending, "pending"},
    {ItemStatus::kClaimed, "claimed"},
    {ItemStatus::kDone, "done"},
    {ItemStatus::kDead, "dead"},
    {ItemStatus::kQuarantined, "quarantined"},
}};
constexpr std::array<std::pair<AgentStatus, std::string_view>, 4> kAgentNames{{
    {AgentStatus::kAlive, "alive"},
    {AgentStatus::kDead, "dead"},
    {AgentStatus::kRefused, "refused"},
    {AgentStatus::kStopped, "stopped"},
}};

template <typename E, size_t N>
bool ParseEnum(const std::array<std::pair<E, std::string_view>, N>& names, std::string_view s,
               E* out) {
  for (const auto& [value, name] : names) {
    if (name == s) {
      *out = value;
      return true;
    }
  }
  return false;
}

// Strict field access: every read names the missing or mistyped field.
class Reader {
 public:
  Reader(const nlohmann::json& j, std::string_view where) : j_(j), where_(where) {}
  bool ok() const { return error_.empty(); }
  Status status() const { return Status::Corrupt(fmt::format("{}: {}", where_, error_)); }

  std::string Str(const char* key) {
    auto it = j_.find(key);
    if (it == j_.end() || !it->is_string()) {
      Fail(key, "a string");
      return {};
    }
    return it->get<std::string>();
  }
  // Fields added after the first format: absent in older records.
  std::string OptionalStr(const char* key) {
    return j_.contains(key) ? Str(key) : std::string();
  }
  std::vector<std::string> OptionalStrList(const char* key) {
    return j_.contains(key) ? StrList(key) : std::vector<std::string>();
  }
  int64_t Int(const char* key) {
    auto it = j_.find(key);
    if (it == j_.end() || !it->is_number_integer()) {
      Fail(key, "an integer");
      return 0;
    }
    return it->get<int64_t>();
  }
  std::vector<std::string> StrList(const char* key) {
    std::vector<std::string> out;
    auto it = j_.find(key);
    if (it == j_.end() || !it->is_array()) {
      Fail(key, "an array of strings");
      return out;
    }
    for (const auto& v : *it) {
      if (!v.is_string()) {
        Fail(key, "an array of strings");
        return {};
      }
      out.push_back(v.get<std::string>());
    }
    return out;
  }
  void Fail(const char* key, const char* expected) {
    if (error_.empty()) error_ = fmt::format("field \"{}\" missing or not {}", key, expected);
  }

 private:
  const nlohmann::json& j_;
  std::string_view where_;
  std::string error_;
};

Result<nlohmann::json> ParseObject(std::string_view text, std::string_view where) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    // No byte count: a damaged record's length depends on what it held (an
    // agent record holds its pid), which would leak into lockstep traces.
    return Status::Corrupt(
        fmt::format("{}: {}", where, text.empty() ? "empty" : "not a JSON object"));
  }
  return j;
}

}  // namespace

std::string_view Name(ItemStatus s) {
  for (const auto& [value, name] : kItemNames) {
    if (value == s) return name;
  }
  return "?";
}

std::string_view Name(AgentStatus s) {
  for (const auto& [value, name] : kAgentNames) {
    if (value == s) return name;
  }
  return "?";
}

nlohmann::json ToJson(const ItemState& s) {
  nlohmann::json j = {{"id", s.id},         {"status", Name(s.status)}, {"token", s.token},
                      {"owner", s.owner},   {"lease_until_us", s.lease_until_us},
                      {"attempts", s.attempts}, {"reason", s.reason},  {"payload", s.payload}};
  // Written only when set, so that an item without one is the record it
  // always was (and older readers see nothing new).
  if (!s.skill.empty()) j["skill"] = s.skill;
  return j;
}

Result<ItemState> ItemFromJson(std::string_view text, std::string_view where) {
  auto j = ParseObject(text, where);
  if (!j.ok()) return j.status();
  Reader r(*j, where);
  ItemState s;
  s.id = r.Str("id");
  std::string status = r.Str("status");
  s.token = r.Int("token");
  s.owner = r.Str("owner");
  s.lease_until_us = r.Int("lease_until_us");
  s.attempts = static_cast<int>(r.Int("attempts"));
  s.reason = r.Str("reason");
  s.payload = r.Str("payload");
  s.skill = r.OptionalStr("skill");
  if (r.ok() && !ParseEnum(kItemNames, status, &s.status)) r.Fail("status", "a known item status");
  if (r.ok() && !IsValidId(s.id)) r.Fail("id", "a valid id");
  if (r.ok() && !s.skill.empty() && !IsValidSkill(s.skill)) r.Fail("skill", "a valid skill name");
  if (!r.ok()) return r.status();
  return s;
}

nlohmann::json ToJson(const AgentRecord& a) {
  nlohmann::json j = {{"id", a.id},
                      {"status", Name(a.status)},
                      {"pid", a.pid},
                      {"fingerprint", a.fingerprint},
                      {"registered_us", a.registered_us},
                      {"heartbeat_us", a.heartbeat_us},
                      {"holding", a.holding},
                      {"reason", a.reason}};
  if (!a.skills.empty()) j["skills"] = a.skills;  // as for items: only when set
  return j;
}

Result<AgentRecord> AgentFromJson(std::string_view text, std::string_view where) {
  auto j = ParseObject(text, where);
  if (!j.ok()) return j.status();
  Reader r(*j, where);
  AgentRecord a;
  a.id = r.Str("id");
  std::string status = r.Str("status");
  a.pid = static_cast<int>(r.Int("pid"));
  a.fingerprint = r.Str("fingerprint");
  a.registered_us = r.Int("registered_us");
  a.heartbeat_us = r.Int("heartbeat_us");
  a.holding = r.StrList("holding");
  a.reason = r.Str("reason");
  a.skills = r.OptionalStrList("skills");
  if (r.ok() && !ParseEnum(kAgentNames, status, &a.status)) r.Fail("status", "a known agent status");
  if (!r.ok()) return r.status();
  return a;
}

nlohmann::json ToJson(const Effect& e) {
  return {{"item", e.item}, {"agent", e.agent}, {"token", e.token}, {"at_us", e.at_us},
          {"result", e.result}};
}

Result<Effect> EffectFromJson(std::string_view text, std::string_view where) {
  auto j = ParseObject(text, where);
  if (!j.ok()) return j.status();
  Reader r(*j, where);
  Effect e;
  e.item = r.Str("item");
  e.agent = r.Str("agent");
  e.token = r.Int("token");
  e.at_us = r.Int("at_us");
  e.result = r.Str("result");
  if (!r.ok()) return r.status();
  return e;
}

bool HasSkill(const std::vector<std::string>& skills, std::string_view skill) {
  return skill.empty() || std::find(skills.begin(), skills.end(), skill) != skills.end();
}

Result<std::vector<std::string>> ParseSkillList(std::string_view csv) {
  std::vector<std::string> skills;
  if (csv.empty()) return skills;
  size_t start = 0;
  for (;;) {
    const size_t comma = csv.find(',', start);
    std::string skill(csv.substr(start, comma == std::string_view::npos ? csv.npos : comma - start));
    if (!IsValidSkill(skill)) {
      return Status::InvalidArgument(fmt::format(
          "--skills \"{}\": skill \"{}\" is not valid (1-128 of A-Z a-z 0-9 . _ -, not starting "
          "with . or -; separate skills with commas)",
          csv, skill));
    }
    if (HasSkill(skills, skill)) {
      return Status::InvalidArgument(
          fmt::format("--skills \"{}\": skill \"{}\" is listed twice", csv, skill));
    }
    skills.push_back(std::move(skill));
    if (comma == std::string_view::npos) return skills;
    start = comma + 1;
  }
}

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id[0] == '.' || id[0] == '-') return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace swarm
