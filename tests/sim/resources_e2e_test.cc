// End to end: the engine's resource measurement with the real faultline and
// swarm binaries. A run writes resources.jsonl beside its trace (every
// process sampled, the reaper once per pass, exit figures for all), the
// trace holds none of it, and the bundled resource scenarios pass on the
// reference coordinator in freerun too (the scenario tests run them in
// lockstep).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::vector<json> ReadLines(const std::string& path) {
  std::vector<json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in, nullptr, false);
}

const json* Invariant(const json& verdict, const std::string& name) {
  for (const json& inv : verdict["invariants"]) {
    if (inv.value("name", "") == name) return &inv;
  }
  return nullptr;
}

TEST(ResourcesE2eTest, ARunMeasuresEveryProcessOutsideItsTrace) {
  testing::TempDir tmp;
  const std::string scenario = std::string(MUTANT_SCENARIO_DIR) + "/reaper_rescan.json";
  testing::Ran ran = testing::Run(
      {FAULTLINE_BIN, "run", scenario, "--seed", "1", "--out", tmp / "runs"}, tmp / "run.log",
      300s);  // a hang guard, not a timing
  ASSERT_TRUE(ran.exit.exited && ran.exit.code == 0) << ran.output;
  const std::string dir = tmp / "runs/mutant-reaper-rescan-1";

  std::set<std::string> spawned;
  for (const json& e : ReadLines(dir + "/trace.jsonl")) {
    EXPECT_FALSE(e.contains("rss_kb") || e.contains("cpu_us")) << e.dump();
    if (e.value("type", "") == "spawn") spawned.insert(e.value("agent", ""));
  }
  std::map<std::string, int> samples, exits;
  int64_t last_sleeps = 0;
  for (const json& line : ReadLines(dir + "/resources.jsonl")) {
    const std::string proc = line.value("proc", "");
    if (line.value("kind", "") == "exit") {
      ++exits[proc];
      EXPECT_GT(line.value("cpu_us", int64_t{-1}), 0) << line.dump();
      continue;
    }
    ++samples[proc];
    EXPECT_GT(line.value("rss_kb", int64_t{-1}), 0) << line.dump();
    EXPECT_GE(line.value("cpu_us", int64_t{-1}), 0) << line.dump();
    if (proc == "reaper") {
      // One sample per sleep, one sleep per pass.
      EXPECT_EQ(line.value("sleeps", int64_t{0}), last_sleeps + 1) << line.dump();
      last_sleeps = line.value("sleeps", int64_t{0});
    }
  }
  for (const std::string& proc : spawned) {
    EXPECT_GT(samples[proc], 0) << proc << " was never sampled";
    EXPECT_EQ(exits[proc], 1) << proc << " has no exit figures";
  }
  EXPECT_GE(last_sleeps, 100);

  const json verdict = ReadJson(dir + "/verdict.json");
  const json* cost = Invariant(verdict, "bounded_monitor_cost");
  ASSERT_NE(cost, nullptr) << verdict.dump(2);
  EXPECT_EQ((*cost)["ok"], true);
  EXPECT_GE((*cost)["summary"]["monitors"][0]["passes"].get<int>(), 16) << cost->dump(2);
  EXPECT_NE(ran.output.find("bounded_monitor_cost: reaper:"), std::string::npos) << ran.output;
}

class FreerunScenarioTest : public ::testing::TestWithParam<const char*> {};

TEST_P(FreerunScenarioTest, PassesOnTheReferenceWithItsResourcesJudged) {
  testing::TempDir tmp;
  const std::string scenario = std::string(SCENARIO_DIR) + "/" + GetParam() + ".json";
  testing::Ran ran =
      testing::Run({FAULTLINE_BIN, "run", scenario, "--mode", "freerun", "--out", tmp / "runs"},
                   tmp / "run.log", 300s);
  EXPECT_TRUE(ran.exit.exited && ran.exit.code == 0) << ran.output;
  const json verdict = ReadJson(tmp / (std::string("runs/") + GetParam() + "-1/verdict.json"));
  for (const char* name : {"bounded_memory", "bounded_monitor_cost"}) {
    const json* inv = Invariant(verdict, name);
    if (inv == nullptr) continue;  // not among the scenario's invariants
    EXPECT_EQ((*inv)["ok"], true) << inv->dump(2);
    EXPECT_TRUE(inv->contains("summary")) << name << " judged nothing: " << inv->dump(2);
  }
}

INSTANTIATE_TEST_SUITE_P(Bundled, FreerunScenarioTest,
                         ::testing::Values("telemetry-sustained-load", "reaper-cost"),
                         [](const auto& p) {
                           std::string name = p.param;
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

}  // namespace
}  // namespace faultline
