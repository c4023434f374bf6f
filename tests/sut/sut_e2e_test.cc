// End-to-end tests of faultline against external systems under test: the
// bash coordinator tests/sut/queue.sh through the command adapter (correct,
// and with one known defect per variant, each caught by the invariant meant
// for it), the C program speaking the control protocol, `faultline diff`,
// a hung SUT command, validation of the "sut" block, and explore shrinking a
// defective SUT's failure.
#include <dirent.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Ran;
using testing::ReadAll;
using testing::TempDir;

// A killed-worker scenario sized for a bash coordinator: workers are
// SIGKILLed, one of them surely while it holds a claim (parked before its
// complete command), and restarted; their items must be taken over once their
// leases run out. A run that leaves an item stuck ends at sim_ms, well after
// the deadline eventual_lock_release allows.
const char* kKilledWorker = R"({
  "name": "sut-killed-worker",
  "mode": "lockstep",
  "seed": 1,
  "coordinator": {"lease_ms": 2000, "heartbeat_ms": 250, "reap_interval_ms": 500,
                  "agent_timeout_ms": 1500, "max_attempts": 10},
  "agents": {"count": 4, "work_ms": [20, 200]},
  "work": {"items": 16},
  "faults": [
    {"kind": "kill_agent", "at_ms": [100, 600], "count": 2, "every_ms": 300,
     "restart_after_ms": 500},
    {"kind": "crash_at", "point": "op.complete", "nth": [1, 6], "restart_after_ms": 300}
  ],
  "limits": {"sim_ms": 8000, "wall_ms": 240000}
})";

// Real concurrency: agents race for the same items while some are killed or
// stopped.
const char* kFreerun = R"({
  "name": "sut-freerun",
  "mode": "freerun",
  "seed": 1,
  "coordinator": {"lease_ms": 3000, "heartbeat_ms": 250, "reap_interval_ms": 500,
                  "agent_timeout_ms": 1500, "max_attempts": 20},
  "agents": {"count": 6, "work_ms": [5, 30]},
  "work": {"items": 40},
  "faults": [
    {"kind": "kill_agent", "at_ms": [200, 600], "count": 2, "every_ms": 300,
     "restart_after_ms": 200}
  ],
  "invariants": ["single_owner", "exactly_once_effect", "no_lost_work", "eventual_lock_release",
                 "bounded_locks", "progress", "no_torn_state", "sut_responsive"],
  "limits": {"wall_ms": 240000}
})";

// No faults: where races alone decide.
const char* kRace = R"({
  "name": "sut-race",
  "mode": "freerun",
  "seed": 1,
  "coordinator": {"lease_ms": 5000, "heartbeat_ms": 250, "reap_interval_ms": 500,
                  "agent_timeout_ms": 1500},
  "agents": {"count": 8, "work_ms": 0},
  "work": {"items": 40},
  "reaper": false,
  "invariants": ["single_owner", "exactly_once_effect", "no_lost_work", "sut_responsive"],
  "limits": {"wall_ms": 240000}
})";

// The machine loses power after a few completions (parked before a claim).
// queue.sh never fsyncs: its board and results are replaced by `mv` of a
// temp file, and everything since the directory was set up is lost.
const char* kPowerLoss = R"({
  "name": "sut-power-loss",
  "mode": "lockstep",
  "seed": 1,
  "coordinator": {"lease_ms": 2000, "heartbeat_ms": 250, "reap_interval_ms": 500,
                  "agent_timeout_ms": 1500, "max_attempts": 10},
  "agents": {"count": 2, "work_ms": [20, 200]},
  "work": {"items": 8},
  "faults": [
    {"kind": "power_loss", "point": "op.claim", "nth": [5, 8], "unsynced": "drop",
     "restart_after_ms": 100}
  ],
  "invariants": ["no_acknowledged_loss", "no_torn_state", "exactly_once_effect", "no_lost_work"],
  "limits": {"sim_ms": 1500, "wall_ms": 120000}
})";

class SutTest : public ::testing::Test {
 public:
  TempDir tmp_;

  Ran Faultline(std::vector<std::string> args, std::chrono::milliseconds timeout = 600s) {
    args.insert(args.begin(), FAULTLINE_BIN);
    return testing::Run(args, tmp_ / "cmd.log", timeout);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(tmp_ / name) << text;
    return tmp_ / name;
  }
  // tests/sut/queue.sut.json with `script` in place of queue.sh, written to
  // the temp dir (its cwd pointing back at tests/sut).
  std::string QueueSut(const std::string& script, const std::string& edit_key = "",
                       const json& edit = nullptr) {
    std::string text = ReadAll(std::string(SUT_DIR) + "/queue.sut.json");
    json block = json::parse(text, nullptr, true, /*ignore_comments=*/true);
    std::string dumped = block.dump();
    dumped = std::regex_replace(dumped, std::regex("\\./queue\\.sh"), "./" + script);
    block = json::parse(dumped);
    block["cwd"] = SUT_DIR;
    block["name"] = script;
    if (!edit_key.empty()) block[edit_key] = edit;
    return Write(script + ".sut.json", block.dump(2));
  }
  json Verdict(const std::string& run_dir) {
    return json::parse(ReadAll(run_dir + "/verdict.json"), nullptr, false);
  }
  static std::set<std::string> Violated(const json& verdict) {
    std::set<std::string> names;
    for (const json& i : verdict["invariants"]) {
      if (!i["ok"].get<bool>()) names.insert(i["name"].get<std::string>());
    }
    return names;
  }
  static std::string Show(const std::set<std::string>& names) {
    std::string out;
    for (const std::string& n : names) out += n + " ";
    return out;
  }
};

// True if a live process's command line contains `marker`.
bool Running(const std::string& marker) {
  DIR* proc = opendir("/proc");
  bool found = false;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string base = std::string("/proc/") + e->d_name;
    std::string cmdline = ReadAll(base + "/cmdline");
    if (ReadAll(base + "/stat").find(") Z ") != std::string::npos) continue;
    if (cmdline.find(marker) != std::string::npos) found = true;
  }
  closedir(proc);
  return found;
}

// SIGKILL takes effect when the killed process next runs: wait for it (a hang
// guard, not a timing test).
bool Gone(const std::string& marker) {
  for (int i = 0; i < 500 && Running(marker); ++i) usleep(10'000);
  return !Running(marker);
}

TEST_F(SutTest, CorrectBashCoordinatorPassesKilledWorkersInLockstep) {
  std::string scn = Write("kw.json", kKilledWorker);
  std::string sut = QueueSut("queue.sh");
  std::string out = tmp_ / "out";
  Ran r = Faultline({"run", scn, "--sut", sut, "--out", out, "--check-determinism"});
  ASSERT_EQ(r.exit.code, 0) << r.output;
  EXPECT_NE(r.output.find("same trace twice"), std::string::npos) << r.output;
  json v = Verdict(out + "/sut-killed-worker-1");
  EXPECT_EQ(v["sut"], "queue.sh");
  EXPECT_EQ(v["faults"][0]["landed"], true);
  EXPECT_EQ(v["faults"][1]["landed"], true);
  std::set<std::string> checked;
  for (const json& i : v["invariants"]) checked.insert(i["name"]);
  for (const char* name : {"single_owner", "exactly_once_effect", "no_lost_work",
                           "eventual_lock_release", "bounded_locks", "progress", "no_torn_state",
                           "sut_responsive"}) {
    EXPECT_TRUE(checked.count(name)) << name << " must judge a SUT with a dump, lock globs and "
                                     << "state files";
  }
  std::set<std::string> not_applicable;
  for (const json& i : v["not_applicable"]) not_applicable.insert(i["name"]);
  EXPECT_TRUE(not_applicable.count("state_sync"));
  EXPECT_TRUE(not_applicable.count("no_silent_span_loss"));
  EXPECT_TRUE(not_applicable.count("no_false_death"));
  EXPECT_FALSE(checked.count("state_sync")) << "not applicable is not a pass";
  // The history has what the invariants read: grants with the SUT's own
  // tokens, and a takeover of a killed worker's item.
  std::map<std::string, int> grants;
  std::istringstream trace(ReadAll(out + "/sut-killed-worker-1/trace.jsonl"));
  for (std::string line; std::getline(trace, line);) {
    json e = json::parse(line);
    if (e["type"] == "claim_ok") ++grants[e["item"]];
  }
  EXPECT_EQ(grants.size(), 16u);
  EXPECT_TRUE(std::any_of(grants.begin(), grants.end(), [](auto& g) { return g.second > 1; }))
      << "a killed worker's item is taken over";
}

TEST_F(SutTest, CorrectBashCoordinatorPassesInFreerun) {
  std::string scn = Write("fr.json", kFreerun);
  std::string sut = QueueSut("queue.sh");
  std::string out = tmp_ / "out";
  Ran r = Faultline({"run", scn, "--sut", sut, "--out", out});
  ASSERT_EQ(r.exit.code, 0) << r.output;
  EXPECT_EQ(Verdict(out + "/sut-freerun-1")["faults"][0]["landed"], true);
  Ran race = Faultline({"run", Write("race.json", kRace), "--sut", sut, "--out", out});
  EXPECT_EQ(race.exit.code, 0) << race.output;
}

// queue.sh under a power loss: the verdict names the acknowledged
// completions it lost, and the fault's evidence the files it rolled back.
TEST_F(SutTest, BashCoordinatorWithoutFsyncLosesAcknowledgedWorkToAPowerLoss) {
  std::string scn = Write("pl.json", kPowerLoss);
  std::string out = tmp_ / "out";
  Ran r = Faultline({"run", scn, "--sut", QueueSut("queue.sh"), "--out", out});
  ASSERT_EQ(r.exit.code, 1) << r.output;
  json v = Verdict(out + "/sut-power-loss-1");
  EXPECT_EQ(v["faults"][0]["landed"], true);
  std::set<std::string> violated = Violated(v);
  EXPECT_TRUE(violated.count("no_acknowledged_loss")) << r.output;
  EXPECT_NE(r.output.find("completion acknowledged to"), std::string::npos) << r.output;
  std::istringstream trace(ReadAll(out + "/sut-power-loss-1/trace.jsonl"));
  json loss;
  for (std::string line; std::getline(trace, line);) {
    json e = json::parse(line);
    if (e["type"] == "fault" && e["kind"] == "power_loss") loss = e;
  }
  ASSERT_TRUE(loss.is_object()) << "no power_loss fault event";
  std::set<std::string> rolled_back(loss["rolled_back"].begin(), loss["rolled_back"].end());
  EXPECT_TRUE(rolled_back.count("work_claims.json")) << loss.dump();
  EXPECT_EQ(loss["killed"].size(), 3u) << loss.dump();
}

struct Defect {
  const char* script;
  const char* scenario;  // kKilledWorker (lockstep) or kRace (freerun)
  const char* caught_by;
};

// Names the parameter in test names by its script (stable across builds).
void PrintTo(const Defect& d, std::ostream* os) { *os << d.script; }

class SutDefectTest : public SutTest, public ::testing::WithParamInterface<Defect> {};

TEST_P(SutDefectTest, IsCaughtByTheInvariantMeantForIt) {
  const Defect& d = GetParam();
  std::string scn = Write("scn.json", d.scenario);
  std::string sut = QueueSut(d.script);
  for (const char* seed : {"1", "2", "3"}) {
    std::string out = tmp_ / (std::string("out") + seed);
    Ran r = Faultline({"run", scn, "--sut", sut, "--out", out, "--seed", seed});
    ASSERT_EQ(r.exit.code, 1) << d.script << " seed " << seed << " was not caught:\n" << r.output;
    std::string name = json::parse(d.scenario, nullptr, true, true)["name"];
    std::set<std::string> violated = Violated(Verdict(out + "/" + name + "-" + seed));
    EXPECT_TRUE(violated.count(d.caught_by))
        << d.script << " seed " << seed << ": violated " << Show(violated) << "\n"
        << r.output;
    EXPECT_NE(r.output.find("reproduce: faultline run"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Defects, SutDefectTest,
    ::testing::Values(Defect{"queue-check-then-create.sh", kRace, "single_owner"},
                      Defect{"queue-unlocked-rmw.sh", kRace, "exactly_once_effect"},
                      Defect{"queue-pid-lock.sh", kKilledWorker, "eventual_lock_release"},
                      Defect{"queue-locks-never-removed.sh", kKilledWorker, "bounded_locks"}),
    [](const auto& param_info) {
      std::string n = param_info.param.script;
      n = n.substr(6, n.size() - 9);  // queue-X.sh -> X
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

std::string CAgentSut() {
  return json::parse(R"({
    "name": "c-agent",
    "observe": "protocol",
    "init": [")" C_AGENT_BIN R"(", "init", "{dir}"],
    "submit": [")" C_AGENT_BIN R"(", "submit", "{dir}", "{items}"],
    "agent": [")" C_AGENT_BIN R"(", "agent", "{dir}", "{agent}", "{work_min_ms}",
              "{work_max_ms}", "{seed}", "{lease_ms}"],
    "state": {"dump": [")" C_AGENT_BIN R"(", "dump", "{dir}"],
              "status_map": {"claimed": "claimed", "done": "done", "pending": "pending"}}
  })")
      .dump();
}

TEST_F(SutTest, CProgramSpeakingTheProtocolPassesInBothModes) {
  std::string sut = Write("c.sut.json", CAgentSut());
  std::string scn = Write("c.json", R"({
    "name": "c-agent", "seed": 5,
    "agents": {"count": 4, "work_ms": [1, 50]},
    "work": {"items": 40}
  })");
  std::string out = tmp_ / "out";
  Ran r = Faultline({"run", scn, "--sut", sut, "--out", out, "--check-determinism"});
  ASSERT_EQ(r.exit.code, 0) << r.output;
  EXPECT_NE(r.output.find("same trace twice"), std::string::npos) << r.output;
  json v = Verdict(out + "/c-agent-5");
  std::set<std::string> checked;
  for (const json& i : v["invariants"]) checked.insert(i["name"]);
  EXPECT_TRUE(checked.count("single_owner") && checked.count("no_lost_work") &&
              checked.count("state_sync"))
      << "a protocol speaker is judged like the reference";
  // It yielded at its own points: crash_at can name them.
  std::string trace = ReadAll(out + "/c-agent-5/trace.jsonl");
  EXPECT_NE(trace.find("\"type\":\"complete_ok\""), std::string::npos);
  // Freerun; and work submitted one item at a time by a shell command line.
  json per_item = json::parse(CAgentSut());
  per_item["submit"] = "touch {dir}/pending/{item}";
  std::string sut2 = Write("c2.sut.json", per_item.dump());
  Ran free = Faultline({"run", scn, "--sut", sut2, "--out", out, "--mode", "freerun"});
  EXPECT_EQ(free.exit.code, 0) << free.output;
  std::string log = ReadAll(out + "/c-agent-5/logs/sut-submit.log");
  EXPECT_NE(log.find("touch '" ), std::string::npos) << log;
  EXPECT_NE(log.find("/pending/'w000040'"), std::string::npos) << log;
}

const char* kDiffScenario = R"({
  "name": "sut-diff", "seed": 3,
  "coordinator": {"lease_ms": 2000, "heartbeat_ms": 250, "reap_interval_ms": 500,
                  "agent_timeout_ms": 1500},
  "agents": {"count": 3, "work_ms": [10, 50]},
  "work": {"items": 12},
  "invariants": ["single_owner", "exactly_once_effect", "no_lost_work"],
  "limits": {"wall_ms": 240000}
})";

TEST_F(SutTest, DiffFindsThePlantedDriftAndNothingBetweenTwoCopies) {
  std::string scn = Write("diff.json", kDiffScenario);
  std::string drift = QueueSut("queue-drift.sh");
  Ran d = Faultline({"diff", scn, "--sut", "swarm", "--sut", drift, "--out", tmp_ / "d1"});
  ASSERT_EQ(d.exit.code, 1) << d.output;
  EXPECT_NE(d.output.find("first divergence: item w000007, operation 1"), std::string::npos)
      << d.output;
  EXPECT_NE(d.output.find("A (swarm): claim ok by a"), std::string::npos) << d.output;
  EXPECT_TRUE(std::regex_search(d.output, std::regex("B \\(queue-drift.sh[^)]*\\): ends pending")))
      << d.output;

  std::string a = QueueSut("queue.sh");
  std::string copy = Write("copy.sut.json", ReadAll(a));
  Ran same = Faultline({"diff", scn, "--sut", a, "--sut", copy, "--out", tmp_ / "d2"});
  ASSERT_EQ(same.exit.code, 0) << same.output;
  EXPECT_TRUE(std::regex_search(same.output, std::regex("no divergence in [1-9][0-9]* operations")))
      << same.output;
  // The reference and the correct port agree too: the projection compares
  // outcomes per item, not agents or interleavings.
  Ran port = Faultline({"diff", scn, "--sut", "swarm", "--sut", a, "--out", tmp_ / "d3"});
  EXPECT_EQ(port.exit.code, 0) << port.output;
}

TEST_F(SutTest, AHungCommandIsReportedAtItsTimeoutAndLeavesNoProcess) {
  json timeout = 1000;
  std::string sut = QueueSut("queue-hang.sh", "timeout_ms", timeout);
  std::string scn = Write("hang.json", R"({
    "name": "sut-hang", "agents": {"count": 2}, "work": {"items": 4},
    "invariants": ["single_owner", "sut_responsive"],
    "limits": {"wall_ms": 120000, "step_timeout_ms": 5000}
  })");
  std::string out = tmp_ / "out";
  Ran r = Faultline({"run", scn, "--sut", sut, "--out", out}, 120s);
  ASSERT_FALSE(r.exit.timed_out) << r.output;
  ASSERT_EQ(r.exit.code, 1) << r.output;
  EXPECT_NE(r.output.find("sut_responsive: the SUT's claim command run by a"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("timed out after 1000 ms"), std::string::npos) << r.output;
  EXPECT_TRUE(Gone("987654")) << "the hung command's processes are gone";
}

TEST_F(SutTest, MistakesInTheSutBlockNameTheirJsonPointer) {
  std::string sut = QueueSut("queue.sh");
  json block = json::parse(ReadAll(sut));
  block["adapter"]["claim"]["item"] = "claimed \\S+";  // no group
  std::string bad = Write("bad.sut.json", block.dump());
  std::string scn = Write("kw.json", kKilledWorker);
  Ran r = Faultline({"run", scn, "--sut", bad, "--out", tmp_ / "out"});
  EXPECT_EQ(r.exit.code, 2) << r.output;
  EXPECT_NE(r.output.find("/sut/adapter/claim/item"), std::string::npos) << r.output;

  json doc = json::parse(kKilledWorker);
  doc["sut"] = json::parse(ReadAll(sut));
  doc["sut"]["adapter"]["complete"]["run"][4] = "{iten}";
  Ran v = Faultline({"validate", Write("inline.json", doc.dump())});
  EXPECT_EQ(v.exit.code, 2) << v.output;
  EXPECT_NE(v.output.find("/sut/adapter/complete/run/4: unknown placeholder {iten}"),
            std::string::npos)
      << v.output;
  doc["sut"] = json::parse(ReadAll(sut));
  doc["faults"] = json::array({{{"kind", "corrupt_file"}, {"at_ms", 100}}});
  Ran f = Faultline({"validate", Write("inline2.json", doc.dump())});
  EXPECT_EQ(f.exit.code, 2) << f.output;
  EXPECT_NE(f.output.find("/faults/0/kind"), std::string::npos) << f.output;
}

TEST_F(SutTest, ExploreShrinksADefectiveBashCoordinatorsFailure) {
  // A family around the lock-leaking variant: a run with few items leaks too
  // few lock files to exceed the bound, so the first violation explore finds
  // has more items than needed, and the shrink takes them away. bounded_locks
  // allows 4 files beyond the live claims and processes: 5 items is the least.
  json family = json::parse(R"({
    "name": "sut-explore", "seed": 1,
    "coordinator": {"lease_ms": 2000, "heartbeat_ms": 250, "reap_interval_ms": 500,
                    "agent_timeout_ms": 1500},
    "agents": {"count": [1, 3], "work_ms": [10, 50]},
    "work": {"items": [1, 30]},
    "invariants": ["bounded_locks"],
    "limits": {"wall_ms": 120000}
  })");
  family["sut"] = json::parse(ReadAll(QueueSut("queue-locks-never-removed.sh")));
  std::string scn = Write("family.json", family.dump(2));
  std::string out = tmp_ / "explore";
  Ran r = Faultline({"explore", scn, "--runs", "30", "--time-budget", "300", "--shrink-budget",
                     "120", "--out", out},
                    900s);
  ASSERT_EQ(r.exit.code, 1) << r.output;
  json original = json::parse(ReadAll(out + "/original.json"), nullptr, true, true);
  json minimal = json::parse(ReadAll(out + "/minimal.json"), nullptr, true, true);
  ASSERT_TRUE(minimal.contains("sut")) << "the minimal scenario still names the SUT";
  EXPECT_LT(minimal["work"]["items"].get<int>(), original["work"]["items"].get<int>()) << r.output;
  EXPECT_EQ(minimal["work"]["items"], 5) << r.output;
  EXPECT_EQ(minimal["agents"]["count"], 1) << r.output;
  Ran again = Faultline({"run", out + "/minimal.json", "--out", tmp_ / "again"});
  EXPECT_EQ(again.exit.code, 1) << again.output;
}

}  // namespace
}  // namespace faultline
