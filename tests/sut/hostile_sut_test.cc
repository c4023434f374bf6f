// End to end: a hostile system under test (tests/sut/hostile_agent.sh) that
// speaks the control protocol and then breaks it — garbage, a half message,
// an event of a type it may not send, harness events, invalid UTF-8, deep
// nesting, a line without end, a flood, a closed channel, a crash, a flood of
// well-formed events, a thousand children. Each run must end with a clear
// error naming the process (exit 3), within the step timeout, with nothing
// left running; the crash as a violation (exit 1); SIGINT/SIGTERM with 130.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/poll.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Ran;
using testing::ReadAll;
using testing::TempDir;

// True while a live (not zombie) process's command line holds `marker`.
bool Running(const std::string& marker) {
  DIR* proc = opendir("/proc");
  bool found = false;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const std::string base = std::string("/proc/") + e->d_name;
    if (ReadAll(base + "/stat").find(") Z ") != std::string::npos) continue;
    std::string cmdline = ReadAll(base + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(marker) != std::string::npos) found = true;
  }
  closedir(proc);
  return found;
}

struct Case {
  const char* mode;
  const char* run_mode;  // "lockstep" | "freerun"
  const char* says;      // part of the error
};

class HostileSutTest : public ::testing::TestWithParam<Case> {
 protected:
  TempDir tmp_;

  // This test's own agents carry its temporary directory as a last argument,
  // so a check for survivors never sees another test's (ctest -j runs the
  // lockstep and freerun cases of one mode side by side).
  std::string Tag() const { return tmp_.path(); }

  // Writes the SUT block and the scenario; `limits` override the scenario's.
  void Write(const std::string& mode, const std::string& run_mode, const json& limits) {
    json sut = {{"name", "hostile"},
                {"timeout_ms", 1000},
                {"observe", "protocol"},
                {"submit", "true {items}"},
                {"agent", {"/bin/bash", std::string(SUT_DIR) + "/hostile_agent.sh", mode,
                           "{agent}", Tag()}}};
    json scenario = {{"name", "hostile-" + mode},
                     {"mode", run_mode},
                     {"seed", 1},
                     {"agents", {{"count", 1}, {"work_ms", 10}}},
                     {"work", {{"items", 2}}},
                     {"reaper", false},
                     {"limits", {{"step_timeout_ms", 3000}, {"wall_ms", 60000}}}};
    scenario["limits"].update(limits);
    std::ofstream(tmp_ / "sut.json") << sut.dump();
    std::ofstream(tmp_ / "scenario.json") << scenario.dump();
  }
  std::vector<std::string> Argv() const {
    return {FAULTLINE_BIN, "run",           tmp_ / "scenario.json", "--sut",
            tmp_ / "sut.json", "--out", tmp_ / "out"};
  }
  Ran Run(const std::string& mode, const std::string& run_mode, const json& limits = json::object()) {
    Write(mode, run_mode, limits);
    return testing::Run(Argv(), tmp_ / "cmd.log", 120s);
  }
  // Whether any of the fork modes' children still runs, given a few seconds
  // to be reaped after faultline ended.
  bool ChildrenLeft() const {
    const std::string marker = "hostile_child " + Tag();
    return !testing::Eventually("the agent's children to end", [&] { return !Running(marker); },
                                5s, 50ms);
  }
};

TEST_P(HostileSutTest, EndsAsAHarnessErrorNamingTheProcess) {
  const Case& c = GetParam();
  const auto start = std::chrono::steady_clock::now();
  Ran r = Run(c.mode, c.run_mode);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.exit.code, 3) << r.output;
  EXPECT_NE(r.output.find("a0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(c.says), std::string::npos) << r.output;
  // Within the step timeout (3 s) plus start-up and end of the run, far
  // below the agent's own 60 s sleeps.
  EXPECT_LT(took, 50s) << r.output;
  EXPECT_FALSE(Running(std::string("hostile_agent.sh ") + c.mode + " a0 " + Tag()))
      << "left running";
}

INSTANTIATE_TEST_SUITE_P(
    Protocol, HostileSutTest,
    ::testing::Values(
        Case{"garbage", "lockstep", "not a JSON object"},
        Case{"half", "lockstep", "closed its control channel but did not exit"},
        Case{"number_type", "lockstep", "without a string \"type\""},
        Case{"no_type", "lockstep", "without a string \"type\""},
        Case{"unknown_type", "lockstep", "type \"i_was_here\", which a process may not send"},
        Case{"run_end", "lockstep", "type \"run_end\", which a process may not send"},
        Case{"exit_other", "lockstep", "type \"exit\", which a process may not send"},
        Case{"seq_override", "lockstep", "sets \"seq\", which the harness writes"},
        Case{"second_hello", "lockstep", "a second hello"},
        Case{"nul_item", "lockstep", "NUL"},
        Case{"bad_utf8", "lockstep", "not UTF-8"},
        Case{"deep", "lockstep", "nested deeper than 32"},
        Case{"oversized", "lockstep", "a line longer than 1048576 bytes"},
        Case{"flood", "lockstep", "before faultline answered"},
        Case{"close_and_run", "lockstep", "closed its control channel but did not exit"},
        Case{"garbage", "freerun", "not a JSON object"},
        Case{"number_type", "freerun", "without a string \"type\""},
        Case{"run_end", "freerun", "which a process may not send"},
        Case{"oversized", "freerun", "a line longer than 1048576 bytes"},
        Case{"flood", "freerun", "a yield in freerun"},
        Case{"close_and_run", "freerun", "closed its control channel but did not exit"}),
    [](const ::testing::TestParamInfo<Case>& info) {
      return std::string(info.param.mode) + "_" + info.param.run_mode;
    });

// A process that crashes with no fault injected is a finding: a violation of
// no_unplanned_crash naming it, not a pass.
TEST_F(HostileSutTest, AnUnplannedCrashIsAViolation) {
  for (const char* run_mode : {"lockstep", "freerun"}) {
    SCOPED_TRACE(run_mode);
    Ran r = Run("segv", run_mode);
    EXPECT_EQ(r.exit.code, 1) << r.output;
    json verdict = json::parse(ReadAll(tmp_ / "out/hostile-segv-1/verdict.json"), nullptr, false);
    bool found = false;
    for (const json& inv : verdict.value("invariants", json::array())) {
      if (inv.value("name", "") != "no_unplanned_crash") continue;
      for (const json& v : inv.value("violations", json::array())) {
        found = found || v.value("message", "").find("a0 died of signal 11 (SIGSEGV)") !=
                             std::string::npos;
      }
    }
    EXPECT_TRUE(found) << verdict.dump(2);
  }
}

// Well-formed events without end: the run takes limits.process_events of
// them, then ends naming the process, long before the wall limit (in
// lockstep, also long before the step timeout: the flooding process is
// killed once the run has failed).
TEST_F(HostileSutTest, AFloodOfValidEventsEndsAtTheEventLimit) {
  for (const char* run_mode : {"lockstep", "freerun"}) {
    SCOPED_TRACE(run_mode);
    const auto start = std::chrono::steady_clock::now();
    Ran r = Run("event_flood", run_mode, {{"process_events", 5000}});
    EXPECT_EQ(r.exit.code, 3) << r.output;
    EXPECT_NE(r.output.find("a0 sent event number 5001 of this run"), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("limits.process_events"), std::string::npos) << r.output;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 50s) << r.output;
    EXPECT_FALSE(Running(std::string("hostile_agent.sh event_flood a0 ") + Tag()));
  }
}

// An agent that forks a thousand children (which inherit its control
// channel) and then breaks the protocol: the error names it, and none of the
// children outlives the run.
TEST_F(HostileSutTest, AThousandChildrenDieWithTheRun) {
  for (const char* run_mode : {"lockstep", "freerun"}) {
    SCOPED_TRACE(run_mode);
    std::filesystem::remove(tmp_ / "forked");
    Ran r = Run("fork", run_mode, {{"step_timeout_ms", 60000}});
    EXPECT_EQ(r.exit.code, 3) << r.output;
    EXPECT_NE(r.output.find("a0"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("not a JSON object"), std::string::npos) << r.output;
    EXPECT_EQ(ReadAll(tmp_ / "forked"), "1000\n") << "the agent never forked its children";
    EXPECT_FALSE(ChildrenLeft()) << "children of the agent outlived the run";
    EXPECT_FALSE(Running(std::string("hostile_agent.sh fork a0 ") + Tag()));
  }
}

// SIGTERM (freerun) and SIGINT (lockstep) end a run whose agent sits among
// its thousand children without a word: exit 130, nothing left running.
TEST_F(HostileSutTest, SigtermAndSigintEndTheRunWith130AndNothingLeft) {
  for (auto [run_mode, sig] : {std::pair{"freerun", SIGTERM}, std::pair{"lockstep", SIGINT}}) {
    SCOPED_TRACE(run_mode);
    std::filesystem::remove(tmp_ / "forked");
    Write("fork_and_wait", run_mode, {{"step_timeout_ms", 60000}});
    const pid_t pid = testing::Spawn(Argv(), tmp_ / "cmd.log");
    EXPECT_TRUE(testing::Eventually("the agent's thousand children", [&] {
      return std::filesystem::exists(tmp_ / "forked");
    }, 60s, 50ms)) << ReadAll(tmp_ / "cmd.log");
    kill(pid, sig);
    const testing::Exit e = testing::WaitFor(pid, 30s);
    EXPECT_FALSE(e.timed_out) << ReadAll(tmp_ / "cmd.log");
    EXPECT_EQ(e.code, 130) << ReadAll(tmp_ / "cmd.log");
    EXPECT_FALSE(ChildrenLeft()) << "children of the agent outlived the run";
    EXPECT_FALSE(Running(std::string("hostile_agent.sh fork_and_wait a0 ") + Tag()));
  }
}

}  // namespace
}  // namespace faultline
