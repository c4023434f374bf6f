// The engine against a system under test it has never heard of: a fake Sut
// (a tiny C work queue, tests/sut/c_agent.c, with its own directory layout)
// that records what the engine asks of it. The test links only the sim core,
// not sim/sut/: the engine needs no coordinator file, program or layout.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/engine.h"
#include "sim/lockstep_cpu.h"
#include "sim/process_set.h"
#include "sim/sut.h"
#include "sim/trace_writer.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;

size_t Entries(const std::string& dir) { return testing::CountEntries(dir); }

// c_agent's queue: DIR/pending, claimed, done, ledger (one file per item).
class QueueSut final : public Sut {
 public:
  QueueSut(std::string dir, std::string log, int items = 5)
      : dir_(std::move(dir)), log_(std::move(log)), items_(items) {}

  json Describe() const override { return {{"name", "c_agent queue"}}; }
  const std::string& Dir() const override { return dir_; }
  unsigned Observations() const override { return 0; }
  unsigned Offers() const override { return 0; }

  bool Prepare(SutHost& host, std::string* error) override {
    calls.push_back("Prepare");
    for (const std::vector<std::string>& argv :
         {std::vector<std::string>{C_AGENT_BIN, "init", dir_},
          std::vector<std::string>{C_AGENT_BIN, "submit", dir_, std::to_string(items_)}}) {
      ExitStatus st;
      if (!host.RunProgram(argv, log_, &st, error)) return false;
      if (!st.exited || st.code != 0) {
        *error = "c_agent " + argv[1] + " failed: " + st.ToString();
        return false;
      }
    }
    return true;
  }
  bool Processes(SutHost& host, std::vector<SutProcessSpec>* out, std::string*) override {
    calls.push_back("Processes");
    for (const char* id : {"a0", "a1"}) {
      out->push_back({id, "agent",
                      {C_AGENT_BIN, "agent", dir_, id, "0", "20",
                       std::to_string(host.AgentSeed(id)), "3000"},
                      {},
                      ""});
    }
    return true;
  }
  json Submitted() const override { return {{"queue", "c_agent"}}; }
  EnvList CollectorEnv(const std::string&, const ResolvedScenario::Telemetry&) const override {
    return {};
  }
  EnvList ModelEnv(const std::string&) const override { return {}; }

  json Snapshot() const override {
    ++snapshots;
    // The CPUs the engine's thread and its children may run on, as the
    // engine left them mid-run (sched_getaffinity of a pid: its main thread).
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) engine_cpus.push_back(CPU_COUNT(&set));
    std::ifstream children("/proc/self/task/" + std::to_string(gettid()) + "/children");
    for (pid_t pid; children >> pid;) {
      if (sched_getaffinity(pid, sizeof set, &set) == 0) child_cpus.push_back(CPU_COUNT(&set));
    }
    return {{"locks", 0}, {"temps", 0}, {"claims", Entries(dir_ + "/claimed")}};
  }
  json StateCheck() const override {
    ++state_checks;
    return {{"files", Entries(dir_ + "/done")}, {"unparsable", json::array()}};
  }
  json EndState(SutHost&) override {
    calls.push_back("EndState");
    json items = json::array();
    for (const char* status : {"pending", "claimed", "done"}) {
      std::error_code ec;
      for (auto it = stdfs::directory_iterator(dir_ + "/" + status, ec);
           !ec && it != stdfs::directory_iterator(); it.increment(ec)) {
        const std::string id = it->path().filename().string();
        items.push_back({{"id", id},
                         {"status", status},
                         {"reason", ""},
                         {"effect", stdfs::exists(dir_ + "/ledger/" + id)}});
      }
    }
    std::sort(items.begin(), items.end(),
              [](const json& a, const json& b) { return a["id"] < b["id"]; });
    return {{"items", items},
            {"completed", Entries(dir_ + "/done") == static_cast<size_t>(items_)},
            {"locks", 0},
            {"temps", 0},
            {"ledger", Entries(dir_ + "/ledger")}};
  }
  std::vector<SpoolLeft> SpansLeft() const override { return {}; }
  std::string ClusterFingerprint() const override { return "queue-fingerprint"; }
  bool RunTool(SutHost&, const std::vector<std::string>&, std::string* error) override {
    *error = "no tool";
    return false;
  }

  std::vector<std::string> calls;
  mutable int snapshots = 0;
  mutable int state_checks = 0;
  mutable std::vector<int> engine_cpus;  // per snapshot
  mutable std::vector<int> child_cpus;   // per snapshot and child

 private:
  std::string dir_;
  std::string log_;
  int items_;
};

struct RunRecord {
  EngineResult result;
  std::vector<json> trace;
  std::vector<std::string> calls;
  int snapshots = 0;
  std::vector<std::string> work_dir_entries;
  std::vector<int> engine_cpus, child_cpus;
};

RunRecord RunOnce(uint64_t seed, int items = 5) {
  testing::TempDir tmp;
  stdfs::create_directories(tmp / "work");
  stdfs::create_directories(tmp / "logs");
  ResolvedScenario s;
  s.name = "fake-sut";
  s.seed = seed;
  s.agents = 2;
  s.items = items;
  s.reaper = false;
  s.wall_ms = 60'000;
  QueueSut sut(tmp / "work/queue", tmp / "logs/queue.log", items);
  EngineOptions o;
  o.sut = &sut;
  o.work_dir = tmp / "work";
  o.log_dir = tmp / "logs";
  RunRecord run;
  {
    TraceWriter trace(tmp / "trace.jsonl", [&](const json& line) { run.trace.push_back(line); });
    run.result = RunEngine(s, Catalog{}, o, &trace);
  }
  run.calls = sut.calls;
  run.snapshots = sut.snapshots;
  run.engine_cpus = sut.engine_cpus;
  run.child_cpus = sut.child_cpus;
  for (const auto& e : stdfs::directory_iterator(tmp / "work")) {
    run.work_dir_entries.push_back(e.path().filename().string());
  }
  std::sort(run.work_dir_entries.begin(), run.work_dir_entries.end());
  return run;
}

std::vector<json> OfType(const std::vector<json>& trace, const std::string& type) {
  std::vector<json> out;
  for (const json& e : trace) {
    if (e.value("type", "") == type) out.push_back(e);
  }
  return out;
}

TEST(EngineFakeSutTest, RunsASystemThroughTheSeamAloneAndTouchesNothingElse) {
  const RunRecord run = RunOnce(3);
  ASSERT_EQ(run.result.end, EngineResult::End::kCompleted) << run.result.error;
  EXPECT_EQ(run.calls, (std::vector<std::string>{"Prepare", "Processes", "EndState"}));
  EXPECT_GT(run.snapshots, 0);
  // The engine made nothing of its own in the work directory: no coord/, no
  // cluster-config.json; only the queue the fake made.
  EXPECT_EQ(run.work_dir_entries, (std::vector<std::string>{"queue"}));

  const std::vector<json> start = OfType(run.trace, "run_start");
  ASSERT_EQ(start.size(), 1u);
  EXPECT_EQ(start[0]["cluster_fingerprint"], "queue-fingerprint");
  const std::vector<json> submit = OfType(run.trace, "submit");
  ASSERT_EQ(submit.size(), 1u);
  EXPECT_EQ(submit[0]["queue"], "c_agent");
  EXPECT_EQ(submit[0]["items"], 5);
  EXPECT_EQ(OfType(run.trace, "spawn").size(), 2u);
  EXPECT_EQ(OfType(run.trace, "complete_ok").size(), 5u);
  const std::vector<json> end = OfType(run.trace, "run_end");
  ASSERT_EQ(end.size(), 1u);
  EXPECT_EQ(end[0]["end"], "completed");
  EXPECT_TRUE(end[0]["completed"].get<bool>()) << end[0];
  EXPECT_EQ(end[0]["ledger"], 5);
  ASSERT_EQ(end[0]["items"].size(), 5u);
  const std::vector<json> checks = OfType(run.trace, "state_check");
  ASSERT_FALSE(checks.empty());
  EXPECT_EQ(checks.back()["files"], 5);
  for (const json& snap : OfType(run.trace, "snapshot")) {
    EXPECT_TRUE(snap.contains("live_procs")) << snap;
    EXPECT_TRUE(snap.contains("claims")) << snap;
  }
}

TEST(EngineFakeSutTest, ProbesAreCountedForTheVerdictAndNeverTraced) {
  const RunRecord run = RunOnce(3);
  ASSERT_EQ(run.result.end, EngineResult::End::kCompleted) << run.result.error;
  // FL_REACHED after each of the 5 completions; FL_SOMETIMES with a
  // condition that never holds is reported but never hit.
  ASSERT_TRUE(run.result.probes.count("queue.completed"));
  EXPECT_EQ(run.result.probes.at("queue.completed").reached, 5);
  EXPECT_EQ(run.result.probes.at("queue.completed").hits, 5);
  ASSERT_TRUE(run.result.probes.count("queue.overfull"));
  EXPECT_GT(run.result.probes.at("queue.overfull").reached, 0);
  EXPECT_EQ(run.result.probes.at("queue.overfull").hits, 0);
  EXPECT_TRUE(OfType(run.trace, "probe").empty());
  // The same seed counts the same probes (lockstep).
  const RunRecord again = RunOnce(3);
  ASSERT_EQ(again.result.probes.size(), run.result.probes.size());
  for (const auto& [name, count] : run.result.probes) {
    EXPECT_EQ(again.result.probes.at(name).reached, count.reached) << name;
  }
}

TEST(EngineFakeSutTest, TheSameSeedGivesTheSameTrace) {
  const RunRecord a = RunOnce(11);
  const RunRecord b = RunOnce(11);
  ASSERT_EQ(a.result.end, EngineResult::End::kCompleted) << a.result.error;
  EXPECT_EQ(a.result.trace_sha256, b.result.trace_sha256);
  EXPECT_GT(a.result.steps, 10u);
}

// Where a lockstep run runs (sim/lockstep_cpu.h): pinned, the engine's thread
// and every process of the run may use one CPU mid-run; by default, all;
// measuring, first all, then (the window it tries the other placement) one. Afterwards the thread has its own CPU set back, and the trace is the
// same every way.
RunRecord RunPlaced(const char* pin, int items) {
  setenv(kLockstepPinEnv, pin, 1);
  RunRecord run = RunOnce(5, items);
  unsetenv(kLockstepPinEnv);
  return run;
}

TEST(EngineFakeSutTest, LockstepPlacementMovesTheRunNotItsTrace) {
  cpu_set_t before;
  ASSERT_EQ(sched_getaffinity(0, sizeof before, &before), 0);
  const int all = CPU_COUNT(&before);
  if (all < 2) GTEST_SKIP() << "one CPU only: there is nothing to place";
  // Enough items for more than two windows of steps, with snapshots (every 64
  // steps) in each; the last snapshot, after the processes stopped, sees the
  // thread's CPU set given back.
  constexpr int kItems = 150;
  const RunRecord pinned = RunPlaced("1", kItems);
  ASSERT_EQ(pinned.result.end, EngineResult::End::kCompleted) << pinned.result.error;
  ASSERT_GT(pinned.result.steps, 2u * LockstepCpu::kWindowSteps);
  for (size_t i = 0; i + 1 < pinned.engine_cpus.size(); ++i) EXPECT_EQ(pinned.engine_cpus[i], 1);
  EXPECT_EQ(pinned.engine_cpus.back(), all);
  ASSERT_FALSE(pinned.child_cpus.empty());
  for (int n : pinned.child_cpus) EXPECT_EQ(n, 1);
  cpu_set_t after;
  ASSERT_EQ(sched_getaffinity(0, sizeof after, &after), 0);
  EXPECT_TRUE(CPU_EQUAL(&before, &after));

  const RunRecord spread = RunPlaced("", kItems);
  ASSERT_EQ(spread.result.end, EngineResult::End::kCompleted) << spread.result.error;
  for (int n : spread.engine_cpus) EXPECT_EQ(n, all);
  for (int n : spread.child_cpus) EXPECT_EQ(n, all);

  const RunRecord measured = RunPlaced("auto", kItems);
  ASSERT_EQ(measured.result.end, EngineResult::End::kCompleted) << measured.result.error;
  // Snapshots at steps 64-192 fall in the first window (all CPUs), those at
  // 320-448 in the second, which tries one.
  ASSERT_GE(measured.engine_cpus.size(), 8u);
  EXPECT_EQ(measured.engine_cpus[0], all);
  EXPECT_EQ(measured.engine_cpus[5], 1);
  EXPECT_EQ(measured.engine_cpus.back(), all);

  EXPECT_EQ(pinned.result.trace_sha256, spread.result.trace_sha256);
  EXPECT_EQ(pinned.result.trace_sha256, measured.result.trace_sha256);
}

TEST(EngineFakeSutTest, ASetUpFailureOfTheSystemIsAHarnessErrorSayingWhy) {
  testing::TempDir tmp;
  ResolvedScenario s;
  s.agents = 1;
  s.items = 1;
  // A queue directory that cannot be made: a file is in its way.
  std::ofstream(tmp / "blocker") << "x";
  QueueSut sut(tmp / "blocker/queue", tmp / "queue.log");
  EngineOptions o;
  o.sut = &sut;
  o.work_dir = tmp.path();
  o.log_dir = tmp.path();
  TraceWriter trace(tmp / "trace.jsonl", nullptr);
  const EngineResult r = RunEngine(s, Catalog{}, o, &trace);
  EXPECT_EQ(r.end, EngineResult::End::kHarnessError);
  EXPECT_NE(r.error.find("c_agent init failed"), std::string::npos) << r.error;
  EXPECT_EQ(sut.calls, (std::vector<std::string>{"Prepare", "EndState"}));
}

TEST(EngineFakeSutTest, WithoutASutTheEngineRefusesToRun) {
  testing::TempDir tmp;
  ResolvedScenario s;
  EngineOptions o;
  o.work_dir = tmp.path();
  TraceWriter trace(tmp / "trace.jsonl", nullptr);
  const EngineResult r = RunEngine(s, Catalog{}, o, &trace);
  EXPECT_EQ(r.end, EngineResult::End::kHarnessError);
  EXPECT_NE(r.error.find("no system under test"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace faultline
