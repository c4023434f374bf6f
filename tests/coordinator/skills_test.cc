// Agent specializations in the fs store: a claim grants an item only to an
// agent registered with the skill it needs, on every claim path; records
// written before skills existed still load; status names unservable items.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "coordinator/fs_store.h"
#include "tests/coordinator/store_fixture.h"

namespace swarm {
namespace {

class SkillsTest : public StoreFixture {
 protected:
  void Register(const std::string& id, std::vector<std::string> skills) {
    AgentRecord a = AgentFor(id);
    a.skills = std::move(skills);
    ASSERT_TRUE(store_->Register(a).ok());
  }
  void Submit(std::vector<std::string> ids, std::string_view skill) {
    std::vector<std::pair<std::string, std::string>> items;
    for (const std::string& id : ids) items.emplace_back(id, "p");
    auto added = store_->Submit(items, skill);
    ASSERT_TRUE(added.ok()) << added.status().ToString();
  }
  // Every grant ClaimNext gives `agent` until it gets none, completed at once.
  std::vector<std::string> Drain(const std::string& agent, bool* work_remaining) {
    std::vector<std::string> got;
    for (;;) {
      auto out = store_->ClaimNext(agent);
      EXPECT_TRUE(out.ok()) << out.status().ToString();
      if (!out.ok() || !out->grant) {
        *work_remaining = out.ok() && out->work_remaining;
        return got;
      }
      got.push_back(out->grant->item);
      EXPECT_TRUE(store_->Complete(*out->grant, "r").ok());
    }
  }
};

TEST_F(SkillsTest, ClaimSkipsItemsTheAgentCannotDo) {
  Submit({"g1", "g2"}, "gpu");
  Submit({"r1"}, "rust");
  Submit({"n1"}, "");
  Register("rusty", {"rust"});
  bool remaining = true;
  std::vector<std::string> got = Drain("rusty", &remaining);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"n1", "r1"}));
  // The gpu items are nobody's work that this agent could do: it may go idle.
  EXPECT_FALSE(remaining);
  EXPECT_EQ(Item("g1").status, ItemStatus::kPending);
  EXPECT_EQ(probe_.Count("claim_contended"), 0u) << "skipping is not a lost race";

  Register("gpu1", {"gpu", "cuda"});
  got = Drain("gpu1", &remaining);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"g1", "g2"}));
  EXPECT_FALSE(remaining);
  for (const auto& e : probe_.events) {
    if (e.value("type", "") == "claim_ok" && e.value("item", "").rfind("g", 0) == 0) {
      EXPECT_EQ(e.value("skill", ""), "gpu") << e.dump();
    }
  }
}

TEST_F(SkillsTest, NamedClaimAndTakeoverRefuseAnAgentWithoutTheSkill) {
  Submit({"g1"}, "gpu");
  Register("plain", {});
  Register("gpu1", {"gpu"});
  auto refused = store_->Claim("g1", "plain");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kConflict);
  EXPECT_NE(refused.status().message().find("needs skill \"gpu\""), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(Count("locks"), 0u);

  auto grant = store_->Claim("g1", "gpu1");
  ASSERT_TRUE(grant.ok()) << grant.status().ToString();
  // The holder dies: its lease runs out. Only another gpu agent may take over.
  clock_.Advance(ClusterConfig{}.lease_ms * 1000 + 1);
  bool remaining = true;
  EXPECT_TRUE(Drain("plain", &remaining).empty());
  EXPECT_FALSE(remaining) << "an expired claim it cannot take is not its work";
  EXPECT_EQ(Item("g1").owner, "gpu1");
  Register("gpu2", {"gpu"});
  EXPECT_EQ(Drain("gpu2", &remaining), (std::vector<std::string>{"g1"}));
  EXPECT_EQ(Item("g1").token, 2);
  EXPECT_EQ(probe_.Count("takeover"), 1u);
}

TEST_F(SkillsTest, AnAgentThatNeverRegisteredTakesOnlyItemsWithoutASkill) {
  Submit({"g1"}, "gpu");
  Submit({"n1"}, "");
  bool remaining = true;
  EXPECT_EQ(Drain("anon", &remaining), (std::vector<std::string>{"n1"}));
  EXPECT_FALSE(remaining);
}

TEST_F(SkillsTest, SubmitRejectsAnInvalidSkill) {
  auto bad = store_->Submit({{"x1", "p"}}, "has,comma");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("skill \"has,comma\""), std::string::npos);
  EXPECT_EQ(Count("items"), 0u);
}

TEST_F(SkillsTest, RecordsWithoutSkillsLoadAndStayAsTheyWere) {
  // Item and agent records as swarm wrote them before skills existed.
  const std::string legacy_item =
      R"({"attempts":0,"id":"old1","lease_until_us":0,"owner":"","payload":"p",)"
      R"("reason":"","status":"pending","token":0})";
  std::ofstream(path_ + "/items/old1.json") << legacy_item;
  const std::string legacy_agent =
      R"({"fingerprint":"f","heartbeat_us":5,"holding":[],"id":"old-agent","pid":1,)"
      R"("reason":"","registered_us":5,"status":"stopped"})";
  auto agent = AgentFromJson(legacy_agent, "agents/old-agent.json");
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  EXPECT_TRUE(agent->skills.empty());
  EXPECT_EQ(ToJson(*agent).dump(), nlohmann::json::parse(legacy_agent).dump());

  EXPECT_TRUE(Item("old1").skill.empty());
  Register("gpu1", {"gpu"});
  bool remaining = true;
  EXPECT_EQ(Drain("gpu1", &remaining), (std::vector<std::string>{"old1"}));
  // Rewritten without a "skill" field: the record an older swarm reads.
  auto text = fs::ReadFile(path_ + "/items/old1.json");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->find("skill"), std::string::npos) << *text;
}

TEST_F(SkillsTest, SkillsRoundTripAndBadOnesAreCorrupt) {
  ItemState s;
  s.id = "g1";
  s.skill = "gpu";
  auto back = ItemFromJson(ToJson(s).dump(), "g1");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->skill, "gpu");
  nlohmann::json bad = ToJson(s);
  bad["skill"] = 7;
  EXPECT_EQ(ItemFromJson(bad.dump(), "g1").status().code(), Status::Code::kCorrupt);
  AgentRecord a;
  a.id = "x";
  a.skills = {"gpu", "rust"};
  auto agent = AgentFromJson(ToJson(a).dump(), "x");
  ASSERT_TRUE(agent.ok());
  EXPECT_EQ(agent->skills, a.skills);
}

TEST_F(SkillsTest, RegisterEventCarriesTheSkills) {
  Register("gpu1", {"gpu", "rust"});
  Register("plain", {});
  ASSERT_EQ(probe_.Count("register"), 2u);
  EXPECT_EQ(probe_.events[0]["skills"], nlohmann::json({"gpu", "rust"}));
  EXPECT_FALSE(probe_.events[1].contains("skills")) << "unchanged for agents without skills";
}

TEST_F(SkillsTest, InspectNamesItemsNoLiveAgentCanDo) {
  Submit({"g1"}, "gpu");
  Submit({"f1"}, "frontend");
  Submit({"n1"}, "");
  Register("gpu1", {"gpu"});
  auto snap = store_->Inspect();
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->unservable.size(), 1u);
  EXPECT_NE(snap->unservable[0].find("f1: needs skill frontend"), std::string::npos);
  // The gpu agent stops heartbeating: presumed dead, its skill no longer live.
  clock_.Advance((ClusterConfig{}.agent_timeout_ms + 1) * 1000);
  snap = store_->Inspect();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->unservable.size(), 2u);
}

TEST(SkillListTest, ParsesCommaSeparatedNames) {
  EXPECT_TRUE(ParseSkillList("")->empty());
  EXPECT_EQ(*ParseSkillList("gpu"), (std::vector<std::string>{"gpu"}));
  EXPECT_EQ(*ParseSkillList("gpu,rust"), (std::vector<std::string>{"gpu", "rust"}));
  for (const char* bad : {"gpu,", ",gpu", "gpu,,rust", "g pu", "gpu,gpu", "-x"}) {
    auto parsed = ParseSkillList(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(parsed.status().message().find("--skills"), std::string::npos);
  }
}

}  // namespace
}  // namespace swarm
