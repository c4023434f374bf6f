// Skills in scenario files (sim/skills.h): validation with JSON pointers,
// deterministic draws per agent and item, and resolved files that keep them.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "sim/scenario.h"
#include "sim/skills.h"

namespace faultline {
namespace {

using nlohmann::json;

Catalog EmptyCatalog() {
  Catalog catalog;
  catalog.invariants = {{"skill_match", "work goes to agents with the skill", {}, nullptr}};
  return catalog;
}

constexpr const char* kFamily = R"({
  "name": "skills",
  "agents": {"count": 6, "skills": [{"weight": 3, "skills": ["gpu"]},
                                    {"weight": 1, "skills": ["gpu", "rust"]},
                                    {"weight": 1, "skills": []}]},
  "work": {"items": 50, "skills": [{"weight": 1, "skill": "gpu"}, {"weight": 1}]}
})";

struct Mistake {
  const char* label;
  const char* agents;  // the "agents" object
  const char* work;    // the "work" object
  const char* pointer;
  const char* phrase;
};

const Mistake kMistakes[] = {
    {"NotAList", R"({"skills": {"gpu": 1}})", "{}", "/agents/skills",
     "expected a non-empty array of"},
    {"EmptyList", R"({"skills": []})", "{}", "/agents/skills", "expected a non-empty array"},
    {"EntryNotAnObject", R"({"skills": [["gpu"]]})", "{}", "/agents/skills/0",
     R"(expected {"weight": W, "skills": [names]})"},
    {"MissingWeight", R"({"skills": [{"skills": ["gpu"]}]})", "{}", "/agents/skills/0",
     R"(missing "weight")"},
    {"ZeroWeight", R"({"skills": [{"weight": 0, "skills": []}]})", "{}",
     "/agents/skills/0/weight", "found 0, expected an integer from 1 to 1000000"},
    {"MissingSkills", R"({"skills": [{"weight": 1}]})", "{}", "/agents/skills/0",
     R"(missing "skills")"},
    {"BadSkillName", R"({"skills": [{"weight": 1, "skills": ["gpu", "G,PU"]}]})", "{}",
     "/agents/skills/0/skills/1", R"(found "G,PU", expected a skill name)"},
    {"RepeatedSkill", R"({"skills": [{"weight": 1, "skills": ["gpu", "gpu"]}]})", "{}",
     "/agents/skills/0/skills/1", "listed twice"},
    {"UnknownEntryKey", R"({"skills": [{"weight": 1, "skills": [], "skil": 1}]})", "{}",
     "/agents/skills/0/skil", R"(unknown key "skil"; known keys: weight, skills)"},
    {"ItemSkillNotAString", "{}", R"({"skills": [{"weight": 1, "skill": ["gpu"]}]})",
     "/work/skills/0/skill", R"(leave "skill" out for none)"},
    {"ItemSkillEmpty", "{}", R"({"skills": [{"weight": 1, "skill": ""}]})",
     "/work/skills/0/skill", R"(found "", expected a skill name)"},
    {"ItemEntryUnknownKey", "{}", R"({"skills": [{"weight": 1, "skills": ["gpu"]}]})",
     "/work/skills/0/skills", R"(unknown key "skills"; known keys: weight, skill)"},
};

class SkillsMistakeTest : public ::testing::TestWithParam<Mistake> {};

TEST_P(SkillsMistakeTest, NamesPointerAndWhatWasExpected) {
  const Mistake& m = GetParam();
  const std::string text = std::string(R"({"name": "x", "agents": )") + m.agents +
                           R"(, "work": )" + m.work + "}";
  Scenario scenario;
  ScenarioError error;
  ASSERT_FALSE(ParseScenario(text, "x.json", EmptyCatalog(), &scenario, &error)) << text;
  EXPECT_EQ(error.pointer, m.pointer) << error.ToString();
  EXPECT_NE(error.message.find(m.phrase), std::string::npos)
      << "message: " << error.message << "\nexpected to contain: " << m.phrase;
}

INSTANTIATE_TEST_SUITE_P(Mistakes, SkillsMistakeTest, ::testing::ValuesIn(kMistakes),
                         [](const auto& test) { return std::string(test.param.label); });

TEST(SkillsScenarioTest, SkillsNeedTheReferenceCoordinator) {
  const std::string text = R"json({"name": "x", "work": {"skills": [{"weight": 1, "skill": "gpu"}]},
      "sut": {"init": ["true"], "submit": ["true"], "adapter": {"claim": {"run": ["true"],
              "item": "^(\\S+)"}, "complete": ["true"]}}})json";
  Scenario scenario;
  ScenarioError error;
  ASSERT_FALSE(ParseScenario(text, "x.json", EmptyCatalog(), &scenario, &error));
  EXPECT_EQ(error.pointer, "/sut") << error.ToString();
  EXPECT_NE(error.message.find("need the reference coordinator"), std::string::npos);
}

Scenario Family() {
  Scenario scenario;
  ScenarioError error;
  EXPECT_TRUE(ParseScenario(kFamily, "family.json", EmptyCatalog(), &scenario, &error))
      << error.ToString();
  return scenario;
}

TEST(SkillsScenarioTest, DrawsAreDeterministicAndFollowTheWeights) {
  const ResolvedScenario r = Resolve(Family(), EmptyCatalog(), 7);
  std::map<std::string, int> agents;
  std::map<std::string, int> items;
  for (int i = 0; i < 4000; ++i) {
    const auto skills = skills::AgentSkills(r.agent_skills, r.seed, i);
    EXPECT_EQ(skills, skills::AgentSkills(r.agent_skills, r.seed, i));
    ++agents[skills::Joined(skills)];
    const std::string skill = skills::ItemSkill(r.item_skills, r.seed, i + 1);
    EXPECT_EQ(skill, skills::ItemSkill(r.item_skills, r.seed, i + 1));
    ++items[skill];
  }
  ASSERT_EQ(agents.size(), 3u);
  // 3 : 1 : 1 and 1 : 1, within a generous margin.
  EXPECT_NEAR(agents["gpu"], 2400, 200);
  EXPECT_NEAR(agents["gpu,rust"], 800, 150);
  EXPECT_NEAR(agents[""], 800, 150);
  EXPECT_NEAR(items["gpu"], 2000, 200);
  EXPECT_NEAR(items[""], 2000, 200);
  // Another seed, other draws.
  int differ = 0;
  for (int i = 1; i <= 50; ++i) {
    differ += skills::ItemSkill(r.item_skills, 7, i) != skills::ItemSkill(r.item_skills, 8, i);
  }
  EXPECT_GT(differ, 5);
}

TEST(SkillsScenarioTest, ResolvedFilesKeepTheListsAndSoTheDraws) {
  const ResolvedScenario r = Resolve(Family(), EmptyCatalog(), 3);
  const json plain = r.ToJson();
  EXPECT_EQ(plain["agents"]["skills"], json::parse(kFamily)["agents"]["skills"]);
  EXPECT_EQ(plain["work"]["skills"], json::parse(kFamily)["work"]["skills"]);
  Scenario reloaded;
  ScenarioError error;
  ASSERT_TRUE(ParseScenario(plain.dump(), "resolved.json", EmptyCatalog(), &reloaded, &error))
      << error.ToString();
  const ResolvedScenario again = Resolve(reloaded, EmptyCatalog(), 3);
  EXPECT_EQ(again.agent_skills, r.agent_skills);
  EXPECT_EQ(again.item_skills, r.item_skills);
  // Without skills the resolved file has none.
  Scenario plain_family;
  ASSERT_TRUE(ParseScenario(R"({"name": "p"})", "p.json", EmptyCatalog(), &plain_family, &error));
  const json no_skills = Resolve(plain_family, EmptyCatalog(), 1).ToJson();
  EXPECT_FALSE(no_skills["agents"].contains("skills"));
  EXPECT_FALSE(no_skills["work"].contains("skills"));
}

}  // namespace
}  // namespace faultline
