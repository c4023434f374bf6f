// skill_match over hand-built histories, and how unservable items (a skill
// no agent of the fleet has) count for no_lost_work and progress.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/invariants/no_lost_work.h"
#include "sim/invariants/progress.h"
#include "sim/invariants/skill_match.h"

namespace faultline {
namespace {

using nlohmann::json;

json Ev(uint64_t seq, const char* type, json extra = json::object()) {
  json line = {{"seq", seq}, {"t", seq * 1000}, {"proc", "sim"}, {"type", type}};
  line.update(extra);
  return line;
}

// The engine's submit event: g1, g2 need gpu, r1 rust, n1 nothing; a0 has
// gpu, a1 rust, a2 nothing.
json Submit(uint64_t seq) {
  return Ev(seq, "submit",
            {{"items", 4},
             {"skills", {{"gpu", {"g1", "g2"}}, {"rust", {"r1"}}}},
             {"agent_skills", {{"a0", {"gpu"}}, {"a1", {"rust"}}, {"a2", json::array()}}}});
}

json Spawn(uint64_t seq, const char* agent) {
  return Ev(seq, "spawn", {{"agent", agent}, {"role", "agent"}, {"restart", false}});
}

json Grant(uint64_t seq, const char* type, const char* item, const char* agent) {
  return Ev(seq, type, {{"proc", agent}, {"item", item}, {"agent", agent}, {"token", 1},
                        {"now_us", 1000}, {"lease_until_us", 9000}});
}

json Item(const char* id, const char* status) {
  return {{"id", id}, {"status", status}, {"reason", ""}, {"effect", status == std::string("done")}};
}

json RunEnd(uint64_t seq, json items) {
  bool completed = true;
  for (const json& i : items) completed = completed && i["status"] == "done";
  return Ev(seq, "run_end", {{"end", "completed"}, {"completed", completed}, {"locks", 0},
                             {"ledger", 0}, {"items", std::move(items)}, {"deadlock", ""}});
}

template <typename Checker>
std::vector<Violation> Check(const std::vector<json>& lines, Checker* checker) {
  for (const json& line : lines) checker->Observe(TraceEvent::FromJson(line));
  std::vector<Violation> out;
  checker->Finish(&out);
  return out;
}

template <typename Checker>
std::vector<Violation> Check(const std::vector<json>& lines) {
  Checker checker;
  return Check(lines, &checker);
}

std::string Messages(const std::vector<Violation>& vs) {
  std::string all;
  for (const Violation& v : vs) all += v.invariant + ": " + v.message + "\n";
  return all;
}

std::vector<json> Start() { return {Submit(1), Spawn(2, "a0"), Spawn(3, "a1"), Spawn(4, "a2")}; }

TEST(SkillMatchTest, GrantsToAgentsWithTheSkillHold) {
  std::vector<json> h = Start();
  h.push_back(Grant(5, "claim_ok", "g1", "a0"));
  h.push_back(Grant(6, "complete_ok", "g1", "a0"));
  h.push_back(Grant(7, "claim_ok", "r1", "a1"));
  h.push_back(Grant(8, "claim_ok", "n1", "a2"));  // no skill needed: anyone
  h.push_back(RunEnd(9, {Item("g1", "done"), Item("g2", "done"), Item("r1", "done"),
                         Item("n1", "done")}));
  SkillMatch checker;
  auto v = Check(h, &checker);
  EXPECT_TRUE(v.empty()) << Messages(v);
  EXPECT_EQ(checker.Summary()["skilled_grants"], 2);
  EXPECT_EQ(checker.Summary()["unservable"], 0);
  EXPECT_EQ(checker.SummaryText(), "2 grants of items that need a skill; nothing unservable");
}

TEST(SkillMatchTest, AGrantOrCompletionWithoutTheSkillIsAViolation) {
  std::vector<json> h = Start();
  h.push_back(Grant(5, "claim_ok", "g1", "a1"));
  h.push_back(Grant(6, "complete_ok", "g1", "a1"));
  h.push_back(Grant(7, "claim_ok", "r1", "a2"));
  auto v = Check<SkillMatch>(h);
  ASSERT_EQ(v.size(), 3u) << Messages(v);
  EXPECT_EQ(v[0].invariant, "skill_match");
  EXPECT_EQ(v[0].message,
            "g1 was granted to agent a1, which lacks the skill gpu it needs (the agent's "
            "skills: rust)");
  EXPECT_EQ(v[0].evidence, (std::vector<uint64_t>{5}));
  EXPECT_NE(v[1].message.find("g1 was completed by agent a1"), std::string::npos);
  EXPECT_NE(v[2].message.find("(the agent's skills: none)"), std::string::npos);
}

TEST(SkillMatchTest, NoSkillsInTheRunMeansNothingToJudge) {
  auto v = Check<SkillMatch>({Ev(1, "submit", {{"items", 1}}), Grant(2, "claim_ok", "w1", "a0"),
                              RunEnd(3, {Item("w1", "pending")})});
  EXPECT_TRUE(v.empty()) << Messages(v);
  SkillMatch checker;
  Check<SkillMatch>({Ev(1, "submit", {{"items", 1}})}, &checker);
  EXPECT_TRUE(checker.Summary().is_null());
}

// The only gpu agent is killed and never comes back: the gpu items left are
// unservable. skill_match names them; no_lost_work and progress do not count
// them. The rust agent exited 0 (idle), so a rust item left open is lost work.
std::vector<json> KilledSpecialist(const char* r1_status) {
  std::vector<json> h = Start();
  h.push_back(Grant(5, "claim_ok", "r1", "a1"));
  h.push_back(Ev(6, "exit", {{"agent", "a0"}, {"role", "agent"}, {"signal", 9},
                             {"by", "kill_agent"}}));
  h.push_back(Ev(7, "exit", {{"agent", "a1"}, {"role", "agent"}, {"code", 0}}));
  h.push_back(RunEnd(8, {Item("g1", "pending"), Item("g2", "claimed"), Item("r1", r1_status),
                         Item("n1", "done")}));
  return h;
}

TEST(SkillMatchTest, ItemsOfAKilledSpecialistAreReportedUnservable) {
  SkillMatch checker;
  auto v = Check(KilledSpecialist("done"), &checker);
  EXPECT_TRUE(v.empty()) << Messages(v);
  EXPECT_EQ(checker.Summary()["unservable"], 2);
  EXPECT_EQ(checker.Summary()["unservable_by_skill"]["gpu"], json({"g1", "g2"}));
  EXPECT_EQ(checker.SummaryText(),
            "2 items unservable, no live agent has the skill: g1, g2 needs gpu");
  v = Check<NoLostWork>(KilledSpecialist("done"));
  EXPECT_TRUE(v.empty()) << Messages(v);
  v = Check<Progress>(KilledSpecialist("done"));
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(SkillMatchTest, WorkLeftForALiveSkillIsStillLost) {
  auto v = Check<NoLostWork>(KilledSpecialist("pending"));
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_NE(v[0].message.find("1 item is not done"), std::string::npos) << v[0].message;
  EXPECT_NE(v[0].message.find("r1 (pending)"), std::string::npos) << v[0].message;
  EXPECT_EQ(v[0].message.find("g1"), std::string::npos) << v[0].message;
  v = Check<Progress>(KilledSpecialist("pending"));
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_NE(v[0].message.find("with 1 of 4 items left (and 2 unservable)"), std::string::npos)
      << v[0].message;
}

TEST(SkillMatchTest, ARestartedSpecialistServesItsSkillAgain) {
  std::vector<json> h = KilledSpecialist("done");
  h.insert(h.end() - 1, Ev(8, "spawn", {{"agent", "a0"}, {"role", "agent"}, {"restart", true}}));
  h.back()["seq"] = 9;
  auto v = Check<NoLostWork>(h);
  ASSERT_EQ(v.size(), 1u) << "the gpu items were servable, so they are lost\n" << Messages(v);
  EXPECT_NE(v[0].message.find("g1 (pending)"), std::string::npos) << v[0].message;
  SkillMatch checker;
  Check(h, &checker);
  EXPECT_EQ(checker.Summary()["unservable"], 0);
}

TEST(SkillMatchTest, ARunCutShortIsNoProgressEvenIfOnlyUnservableItemsAreLeft) {
  std::vector<json> h = KilledSpecialist("done");
  h.back()["end"] = "sim_limit";
  auto v = Check<Progress>(h);
  EXPECT_EQ(v.size(), 1u) << Messages(v);
}

}  // namespace
}  // namespace faultline
