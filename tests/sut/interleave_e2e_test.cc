// End-to-end tests of "interleave": "syscalls" (docs/interposition.md,
// docs/external-sut.md section 7): the bundled interleave-* scenarios run the
// bash coordinator tests/sut/queue*.sh with every file-system call of its
// commands a lockstep step. Races inside commands are caught in lockstep by
// the invariant meant for each, a crash inside a command lands, the correct
// coordinator gives the same trace twice, and a process that escapes control
// ends the run as a harness error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
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
using testing::Ran;
using testing::ReadAll;
using testing::TempDir;

class InterleaveTest : public ::testing::Test {
 protected:
  Ran Faultline(std::vector<std::string> args) {
    args.insert(args.begin(), FAULTLINE_BIN);
    return testing::Run(args, tmp_ / "cmd.log", 300s);
  }
  // Scenarios of a defective shell SUT, which fail by design, live beside
  // the SUTs (tests/sut/scenarios/); the bundled ones pass.
  std::string Scenario(const std::string& name) {
    const std::string defective = std::string(SUT_DIR) + "/scenarios/" + name + ".json";
    if (std::filesystem::exists(defective)) return defective;
    return std::string(SCENARIO_DIR) + "/" + name + ".json";
  }
  json Verdict(const std::string& run_dir) {
    return json::parse(ReadAll(run_dir + "/verdict.json"));
  }
  std::set<std::string> Violated(const json& verdict) {
    std::set<std::string> out;
    for (const json& i : verdict["invariants"]) {
      if (!i["ok"].get<bool>()) out.insert(i["name"]);
    }
    return out;
  }
  TempDir tmp_;
};

TEST_F(InterleaveTest, CheckThenCreateIsCaughtInLockstepAndReplays) {
  std::string out = tmp_ / "out";
  Ran r = Faultline({"run", Scenario("interleave-check-then-create"), "--out", out});
  ASSERT_EQ(r.exit.code, 1) << r.output;
  EXPECT_NE(r.output.find("(seed 1, lockstep, interleave syscalls)"), std::string::npos)
      << r.output;
  const std::string run = out + "/interleave-check-then-create-1";
  json v = Verdict(run);
  EXPECT_EQ(v["interleave"], "syscalls");
  EXPECT_TRUE(Violated(v).count("single_owner")) << r.output;
  // The interleaving is in the trace: one event per interposed step.
  const std::string trace = ReadAll(run + "/trace.jsonl");
  EXPECT_NE(trace.find("\"type\":\"sys_step\""), std::string::npos);
  EXPECT_NE(trace.find("sys.open locks/w000001.lock"), std::string::npos);
  Ran replay = Faultline({"replay", run});
  EXPECT_EQ(replay.exit.code, 1) << replay.output;
  EXPECT_NE(replay.output.find(v["trace_sha256"].get<std::string>()), std::string::npos)
      << replay.output;
}

TEST_F(InterleaveTest, UnlockedReadModifyWriteIsCaughtInLockstep) {
  std::string out = tmp_ / "out";
  Ran r = Faultline({"run", Scenario("interleave-unlocked-rmw"), "--out", out});
  ASSERT_EQ(r.exit.code, 1) << r.output;
  EXPECT_TRUE(Violated(Verdict(out + "/interleave-unlocked-rmw-1")).count("exactly_once_effect"))
      << r.output;
}

TEST_F(InterleaveTest, CrashInsideAClaimLeavesThePidLock) {
  std::string out = tmp_ / "out";
  Ran r = Faultline({"run", Scenario("interleave-pid-lock"), "--out", out});
  ASSERT_EQ(r.exit.code, 1) << r.output;
  json v = Verdict(out + "/interleave-pid-lock-1");
  EXPECT_EQ(v["faults"][0]["landed"], true);
  EXPECT_EQ(v["faults"][0]["first"]["point"], "sys.close");
  EXPECT_TRUE(Violated(v).count("eventual_lock_release")) << r.output;
  const std::string trace = ReadAll(out + "/interleave-pid-lock-1/trace.jsonl");
  EXPECT_NE(trace.find("\"type\":\"command_crashed\""), std::string::npos);
  EXPECT_NE(trace.find("\"type\":\"sys_kill\""), std::string::npos);
}

TEST_F(InterleaveTest, CorrectCoordinatorPassesTwiceTheSame) {
  for (const char* seed : {"1", "2"}) {
    std::string out = tmp_ / (std::string("out") + seed);
    Ran r = Faultline({"run", Scenario("interleave-queue-sh"), "--seed", seed, "--out", out,
                       "--check-determinism"});
    ASSERT_EQ(r.exit.code, 0) << "seed " << seed << ":\n" << r.output;
    EXPECT_NE(r.output.find("same trace twice"), std::string::npos) << r.output;
    json v = Verdict(out + "/interleave-queue-sh-" + seed);
    for (const json& f : v["faults"]) EXPECT_EQ(f["landed"], true) << f.dump();
  }
}

TEST_F(InterleaveTest, AnEscapingProcessIsAHarnessError) {
  // The claim command starts a thread: one process, two threads of control,
  // which the schedule cannot order. The run must not pass.
  std::ifstream in(Scenario("interleave-queue-sh"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json s = json::parse(text, nullptr, true, /*ignore_comments=*/true);
  s["faults"] = json::array();
  s["sut"]["cwd"] = SUT_DIR;
  s["sut"]["adapter"]["claim"]["run"] = json::array({THREAD_HELPER});
  const std::string path = tmp_ / "escape.json";
  std::ofstream(path) << s.dump();
  Ran r = Faultline({"run", path, "--out", tmp_ / "out"});
  EXPECT_EQ(r.exit.code, 3) << r.output;
  EXPECT_NE(r.output.find("escapes control"), std::string::npos) << r.output;
}

// A variant of interleave-queue-sh without faults whose claim is `claim`
// (and whatever `more` sets), written to the temporary directory.
std::string ClaimVariant(const std::string& base, const json& claim, const std::string& path,
                         const std::function<void(json&)>& more = nullptr) {
  std::ifstream in(base);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json s = json::parse(text, nullptr, true, /*ignore_comments=*/true);
  s["faults"] = json::array();
  s["sut"]["cwd"] = SUT_DIR;
  s["sut"]["adapter"]["claim"]["run"] = claim;
  if (more) more(s);
  std::ofstream(path) << s.dump();
  return path;
}

// A claim that never ends (queue-hang.sh: `sleep 987654 & wait`) is ended
// at its timeout in simulated time: the clock jumps to the deadline, the
// command is killed there and sut_responsive fails, the same way twice,
// in far less wall time than the timeout is long.
TEST_F(InterleaveTest, HangingCommandTimesOutInSimulatedTime) {
  const std::string path =
      ClaimVariant(Scenario("interleave-queue-sh"),
                   json::array({"./queue-hang.sh", "claim", "{dir}", "{agent}", "{pid}"}),
                   tmp_ / "hang.json", [](json& s) {
                     s["name"] = "interleave-hang";
                     s["expect"] = json::object();
                     s["sut"]["timeout_ms"] = 5000;
                     s["limits"]["sim_ms"] = 20000;
                   });
  std::string out = tmp_ / "out";
  Ran r = Faultline({"run", path, "--out", out, "--check-determinism"});
  ASSERT_EQ(r.exit.code, 1) << r.output;
  EXPECT_NE(r.output.find("same trace twice"), std::string::npos) << r.output;
  EXPECT_TRUE(Violated(Verdict(out + "/interleave-hang-1")).count("sut_responsive")) << r.output;
  const std::string trace = ReadAll(out + "/interleave-hang-1/trace.jsonl");
  EXPECT_NE(trace.find("\"type\":\"sys_timeout\""), std::string::npos);
  EXPECT_NE(trace.find("\"why\":\"timeout\""), std::string::npos);
  EXPECT_NE(trace.find("\"by\":\"timeout\""), std::string::npos);
  EXPECT_NE(trace.find("\"failure\":\"timeout\""), std::string::npos);
  EXPECT_EQ(trace.find("command_crashed"), std::string::npos);
}

// A claim that polls the directory without ever sleeping moves the clock
// by 1 µs a step: it is timed out once it has taken limits.livelock_steps
// steps, not after millions.
TEST_F(InterleaveTest, PollingCommandTimesOutAfterItsStepBudget) {
  const std::string path = ClaimVariant(
      Scenario("interleave-queue-sh"),
      json::array({"bash", "-c", "while [ ! -e \"$1/never\" ]; do :; done", "poll", "{dir}"}),
      tmp_ / "poll.json", [](json& s) {
        s["name"] = "interleave-poll";
        s["expect"] = json::object();
        s["limits"]["livelock_steps"] = 2000;
      });
  std::string out = tmp_ / "out";
  Ran r = Faultline({"run", path, "--out", out});
  ASSERT_EQ(r.exit.code, 1) << r.output;
  EXPECT_TRUE(Violated(Verdict(out + "/interleave-poll-1")).count("sut_responsive")) << r.output;
  const std::string trace = ReadAll(out + "/interleave-poll-1/trace.jsonl");
  EXPECT_NE(trace.find("\"why\":\"steps\""), std::string::npos);
}

// A command that runs without ever reaching a yield point holds the whole
// schedule: the step watchdog (wall time) ends the run as a harness error.
TEST_F(InterleaveTest, CommandThatNeverParksIsAHarnessError) {
  const std::string path = ClaimVariant(
      Scenario("interleave-queue-sh"),
      json::array({"bash", "-c", "[ -e \"$1/x\" ]; while :; do :; done", "spin", "{dir}"}),
      tmp_ / "spin.json", [](json& s) {
        s["name"] = "interleave-spin";
        s["expect"] = json::object();
        s["sut"]["timeout_ms"] = 1000;
        s["limits"]["step_timeout_ms"] = 2000;
      });
  Ran r = Faultline({"run", path, "--out", tmp_ / "out"});
  EXPECT_EQ(r.exit.code, 3) << r.output;
  EXPECT_NE(r.output.find("no answer within 2000 ms"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace faultline
