// Specializations end to end, with the real binaries: swarm's --skill and
// --skills and its unservable report, and the specialization-mismatch
// scenario in freerun (the scenario.* CTest runs it in lockstep, twice).
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Ran;

class SkillsE2eTest : public ::testing::Test {
 protected:
  Ran Swarm(std::vector<std::string> args) {
    args.insert(args.begin(), SWARM_BIN);
    return testing::Run(args, tmp_ / "swarm.log", 60s);
  }
  json Status() {
    Ran ran = Swarm({"status", dir_, "--json"});
    EXPECT_EQ(ran.exit.code, 0) << ran.output;
    return json::parse(ran.output, nullptr, false);
  }

  testing::TempDir tmp_;
  std::string dir_ = tmp_ / "coord";
};

TEST_F(SkillsE2eTest, AgentsTakeOnlyWhatTheirSkillsAllowAndStatusNamesTheRest) {
  ASSERT_EQ(Swarm({"init", dir_}).exit.code, 0);
  ASSERT_EQ(Swarm({"submit", dir_, "--items", "3", "--skill", "gpu"}).exit.code, 0);
  ASSERT_EQ(Swarm({"submit", dir_, "--items", "2"}).exit.code, 0);

  Ran rust = Swarm({"agent", dir_, "--id", "rusty", "--skills", "rust", "--exit-when-idle"});
  ASSERT_EQ(rust.exit.code, 0) << rust.output;
  json status = Status();
  EXPECT_EQ(status["items"]["done"], 2);
  EXPECT_EQ(status["items"]["pending"], 3);
  EXPECT_EQ(status["agents"]["rusty"]["skills"], json({"rust"}));
  // The agent stopped: no live agent has gpu.
  ASSERT_EQ(status["unservable"].size(), 3u) << status.dump(2);
  EXPECT_NE(status["unservable"][0].get<std::string>().find("needs skill gpu"),
            std::string::npos);
  Ran text = Swarm({"status", dir_});
  EXPECT_NE(text.output.find("UNSERVABLE w000001: needs skill gpu"), std::string::npos)
      << text.output;

  Ran gpu = Swarm({"agent", dir_, "--id", "gpu1", "--skills", "gpu,rust", "--exit-when-idle"});
  ASSERT_EQ(gpu.exit.code, 0) << gpu.output;
  status = Status();
  EXPECT_EQ(status["items"]["done"], 5);
  EXPECT_TRUE(status["unservable"].empty());
}

TEST_F(SkillsE2eTest, BadSkillsAreUsageErrors) {
  ASSERT_EQ(Swarm({"init", dir_}).exit.code, 0);
  Ran agent = Swarm({"agent", dir_, "--skills", "gpu,,rust", "--exit-when-idle"});
  EXPECT_EQ(agent.exit.code, 2) << agent.output;
  EXPECT_NE(agent.output.find("--skills \"gpu,,rust\""), std::string::npos) << agent.output;
  Ran submit = Swarm({"submit", dir_, "--items", "1", "--skill", "a/b"});
  EXPECT_EQ(submit.exit.code, 2) << submit.output;
  EXPECT_NE(submit.output.find("skill \"a/b\" is not valid"), std::string::npos)
      << submit.output;
}

TEST_F(SkillsE2eTest, TheScenarioPassesInFreerunAndNamesUnservableWork) {
  const std::string out = tmp_ / "runs";
  Ran ran = testing::Run({FAULTLINE_BIN, "run", SCENARIO_DIR "/specialization-mismatch.json",
                          "--mode", "freerun", "--out", out},
                         tmp_ / "run.log", 300s);
  ASSERT_EQ(ran.exit.code, 0) << ran.output;
  const json verdict = json::parse(
      testing::ReadAll(out + "/specialization-mismatch-1/verdict.json"), nullptr, false);
  ASSERT_TRUE(verdict.is_object()) << ran.output;
  bool checked = false;
  for (const json& inv : verdict["invariants"]) {
    if (inv["name"] != "skill_match") continue;
    checked = true;
    EXPECT_EQ(inv["ok"], true) << inv.dump(2);
    // Nobody has the frontend skill: those items are always unservable.
    EXPECT_GT(inv["summary"]["unservable"].get<int64_t>(), 0) << inv.dump(2);
    EXPECT_TRUE(inv["summary"]["unservable_by_skill"].contains("frontend")) << inv.dump(2);
    EXPECT_GT(inv["summary"]["skilled_grants"].get<int64_t>(), 0) << inv.dump(2);
  }
  EXPECT_TRUE(checked) << verdict.dump(2);
  EXPECT_NE(ran.output.find("items unservable"), std::string::npos) << ran.output;
}

}  // namespace
}  // namespace faultline
