// ReferenceSut (sim/sut/reference_sut.h) against real coordination
// directories made by the swarm binary: set-up, the processes it names,
// snapshot counts, the state check finding a torn file, the end state after
// real agents did the work, the spools, the fingerprint and the tool.
#include "sim/sut/reference_sut.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "sim/invariant.h"
#include "sim/process_set.h"
#include "sim/rng.h"
#include "tests/support/temp_dir.h"

namespace faultline::sut {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;

// Runs programs in a real ProcessSet, as the engine does, and records events.
class TestHost final : public SutHost {
 public:
  int64_t SutClock() const override { return 1'000'000; }
  void Emit(json event) override { events.push_back(std::move(event)); }
  bool RunProgram(const std::vector<std::string>& argv, const std::string& log_path,
                  ExitStatus* status, std::string* error) override {
    SpawnSpec spec;
    spec.id = "test";
    spec.argv = argv;
    spec.log_path = log_path;
    spec.control_channel = false;
    auto child = processes_.Spawn(spec);
    if (!child.ok()) {
      *error = child.status().message();
      return false;
    }
    *status = processes_.Wait(child->pid);
    return true;
  }
  uint64_t AgentSeed(const std::string& id) const override {
    return Rng(7).Split("agents/" + id).Next();
  }
  json Settings() const override {
    return {{"schema_version", 1}, {"lease_ms", 4321},     {"heartbeat_ms", 500},
            {"reap_interval_ms", 1000}, {"agent_timeout_ms", 3000}, {"max_attempts", 5},
            {"clock_skew_ms", 0}};
  }
  std::vector<json> events;

 private:
  ProcessSet processes_;
};

class ReferenceSutTest : public ::testing::Test {
 protected:
  ReferenceSutTest() {
    scenario_.seed = 7;
    scenario_.items = 5;
    scenario_.agents = 2;
    scenario_.work_min_ms = 0;
    scenario_.work_max_ms = 0;
    stdfs::create_directories(tmp_ / "logs");
    paths_ = {tmp_ / "coord", tmp_.path(), tmp_ / "logs", SWARM_BIN, ""};
  }

  std::string Dir() const { return paths_.dir; }

  // Runs the agents ReferenceSut names, uncontrolled, until they are idle.
  void DoAllTheWork(ReferenceSut& sut) {
    std::vector<SutProcessSpec> procs;
    std::string error;
    ASSERT_TRUE(sut.Processes(host_, &procs, &error)) << error;
    for (const SutProcessSpec& p : procs) {
      if (p.role != "agent") continue;
      ExitStatus st;
      ASSERT_TRUE(host_.RunProgram(p.argv, tmp_ / ("logs/" + p.id + ".log"), &st, &error))
          << error;
      ASSERT_TRUE(st.exited && st.code == 0) << p.id << ": " << st.ToString();
    }
  }

  testing::TempDir tmp_;
  ResolvedScenario scenario_;
  SutPaths paths_;
  TestHost host_;
};

TEST_F(ReferenceSutTest, PreparesTheDirectoryWithTheRunsSettings) {
  ReferenceSut sut(scenario_, paths_);
  std::string error;
  ASSERT_TRUE(sut.Prepare(host_, &error)) << error;
  EXPECT_EQ(testing::CountEntries(Dir() + "/items"), 5u);
  std::ifstream in(Dir() + "/cluster.json");
  const json cluster = json::parse(in, nullptr, false);
  ASSERT_TRUE(cluster.is_object());
  EXPECT_EQ(cluster["config"]["lease_ms"], 4321) << cluster.dump();
  EXPECT_FALSE(sut.ClusterFingerprint().empty());
  EXPECT_EQ(sut.ClusterFingerprint(), cluster.value("fingerprint", ""));
  EXPECT_EQ(sut.Submitted(), json::object());  // no skills in this scenario
  EXPECT_EQ(sut.Observations(), observes::kReference);
  EXPECT_EQ(sut.Offers(), capability::kReferenceSut);
}

TEST_F(ReferenceSutTest, NamesTheReaperFirstThenEachAgentWithItsOwnSeed) {
  ReferenceSut sut(scenario_, paths_);
  std::vector<SutProcessSpec> procs;
  std::string error;
  ASSERT_TRUE(sut.Processes(host_, &procs, &error)) << error;
  ASSERT_EQ(procs.size(), 3u);
  EXPECT_EQ(procs[0].id, "reaper");
  EXPECT_EQ(procs[0].argv, (std::vector<std::string>{SWARM_BIN, "reaper", Dir()}));
  EXPECT_EQ(procs[2].id, "a1");
  EXPECT_EQ(procs[2].role, "agent");
  const std::vector<std::string>& a1 = procs[2].argv;
  EXPECT_EQ(a1.back(), std::to_string(host_.AgentSeed("a1")));
  EXPECT_NE(std::find(a1.begin(), a1.end(), "--exit-when-idle"), a1.end());
  scenario_.reaper = false;
  ReferenceSut without(scenario_, paths_);
  procs.clear();
  ASSERT_TRUE(without.Processes(host_, &procs, &error));
  EXPECT_EQ(procs.front().id, "a0");
}

TEST_F(ReferenceSutTest, AFailedInitNamesTheCommandAndItsFirstLineOfOutput) {
  stdfs::create_directories(Dir());
  std::ofstream(Dir() + "/blocker") << "x";
  paths_.dir = Dir() + "/blocker/coord";  // cannot be created: a file is in the way
  ReferenceSut sut(scenario_, paths_);
  std::string error;
  ASSERT_FALSE(sut.Prepare(host_, &error));
  EXPECT_EQ(error.rfind("`swarm init` failed (exit ", 0), 0u) << error;
  paths_.reference_bin = "/nonexistent/swarm";
  ReferenceSut missing(scenario_, paths_);
  error.clear();
  ASSERT_FALSE(missing.Prepare(host_, &error));
  EXPECT_EQ(error.rfind("cannot start /nonexistent/swarm: ", 0), 0u) << error;
}

TEST_F(ReferenceSutTest, SnapshotCountsLockTempAndClaimFiles) {
  ReferenceSut sut(scenario_, paths_);
  std::string error;
  ASSERT_TRUE(sut.Prepare(host_, &error)) << error;
  const json before = sut.Snapshot();
  stdfs::create_directories(Dir() + "/locks");
  stdfs::create_directories(Dir() + "/tmp");
  stdfs::create_directories(Dir() + "/claims");
  for (const char* name : {"locks/w000001.lock", "locks/w000002.lock", "tmp/x.tmp",
                           "claims/w000001.json"}) {
    std::ofstream(Dir() + "/" + name) << "{}";
  }
  const json after = sut.Snapshot();
  EXPECT_EQ(after["locks"].get<int>() - before["locks"].get<int>(), 2) << after;
  EXPECT_EQ(after["temps"].get<int>() - before["temps"].get<int>(), 1) << after;
  EXPECT_EQ(after["claims"].get<int>() - before["claims"].get<int>(), 1) << after;
}

TEST_F(ReferenceSutTest, StateCheckFindsATornItemFile) {
  ReferenceSut sut(scenario_, paths_);
  std::string error;
  ASSERT_TRUE(sut.Prepare(host_, &error)) << error;
  const json clean = sut.StateCheck();
  EXPECT_EQ(clean["files"], 6) << clean;  // cluster.json and five items
  EXPECT_EQ(clean["unparsable"], json::array()) << clean;
  // A write cut short: the first half of the file.
  const std::string item = Dir() + "/items/w000003.json";
  std::ifstream in(item);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  ASSERT_GT(text.size(), 4u);
  std::ofstream(item, std::ios::trunc) << text.substr(0, text.size() / 2);
  const json torn = sut.StateCheck();
  EXPECT_EQ(torn["files"], 6);
  EXPECT_EQ(torn["unparsable"], json::array({"items/w000003.json"})) << torn;
}

TEST_F(ReferenceSutTest, EndStateBeforeAndAfterRealAgentsDidTheWork) {
  ReferenceSut sut(scenario_, paths_);
  std::string error;
  ASSERT_TRUE(sut.Prepare(host_, &error)) << error;
  const json pending = sut.EndState(host_);
  EXPECT_FALSE(pending["completed"].get<bool>()) << pending;
  ASSERT_EQ(pending["items"].size(), 5u);
  EXPECT_EQ(pending["items"][0]["id"], "w000001");
  EXPECT_EQ(pending["items"][0]["status"], "pending");
  EXPECT_FALSE(pending["items"][0]["effect"].get<bool>());
  EXPECT_EQ(pending["ledger"], 0);

  DoAllTheWork(sut);
  const json done = sut.EndState(host_);
  EXPECT_TRUE(done["completed"].get<bool>()) << done;
  EXPECT_EQ(done["ledger"], 5) << done;
  EXPECT_EQ(done["locks"], 0) << done;
  for (const json& item : done["items"]) {
    EXPECT_EQ(item["status"], "done") << item;
    EXPECT_TRUE(item["effect"].get<bool>()) << item;
  }
  EXPECT_TRUE(host_.events.empty());  // the reference's end state needs no command
}

TEST_F(ReferenceSutTest, TheToolRunsAndAFailureSaysWhy) {
  ReferenceSut sut(scenario_, paths_);
  std::string error;
  ASSERT_TRUE(sut.Prepare(host_, &error)) << error;
  EXPECT_TRUE(sut.RunTool(host_, {"status", Dir()}, &error)) << error;
  EXPECT_TRUE(stdfs::exists(tmp_ / "logs/tool-1.log"));
  EXPECT_FALSE(sut.RunTool(host_, {"status", Dir() + "/nowhere"}, &error));
  EXPECT_EQ(error.rfind("`swarm status` failed (exit ", 0), 0u) << error;
  EXPECT_TRUE(stdfs::exists(tmp_ / "logs/tool-2.log"));
}

TEST_F(ReferenceSutTest, SpansLeftReadsSegmentsAndTheLiveFileButNotACutLine) {
  ReferenceSut sut(scenario_, paths_);
  stdfs::create_directories(Dir() + "/spool/a1");
  stdfs::create_directories(Dir() + "/spool/a0");
  stdfs::create_directories(Dir() + "/spool/a2");
  std::ofstream(Dir() + "/spool/a1/seg-000001.jsonl")
      << "{\"span_id\":\"b2\"}\n{\"span_id\":\"a1\"}\n";
  std::ofstream(Dir() + "/spool/a1/live.jsonl") << "{\"span_id\":\"b2\"}\n{\"span_id\":\"c3\"";
  std::ofstream(Dir() + "/spool/a0/other.txt") << "{\"span_id\":\"zz\"}\n";
  std::ofstream(Dir() + "/spool/a2/live.jsonl") << "{\"span_id\":\"d4\"}\nnot json\n";
  const std::vector<SpoolLeft> left = sut.SpansLeft();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].agent, "a1");
  EXPECT_EQ(left[0].spans, (std::vector<std::string>{"a1", "b2"}));
  EXPECT_EQ(left[1].agent, "a2");
  EXPECT_EQ(left[1].spans, (std::vector<std::string>{"d4"}));
}

}  // namespace
}  // namespace faultline::sut
