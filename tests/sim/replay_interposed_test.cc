// End to end: debugging a race inside an external system's commands
// (docs/debugging.md, "Inside a command"). The shell coordinator
// tests/sut/queue-check-then-create.sh runs with "interleave": "syscalls":
// every process of every command is a lockstep party, and the run's
// single_owner violation comes from claims that check for an item's lock
// file and create it in two steps. The recorded failure is replayed to the
// interposed step at which the last of those claims has checked: every
// agent the verdict names as granted the item has its command alive, each
// process listed with its command, agent, pid and the system call it is
// parked at, blocked on its interposition socket; nobody has created the
// lock file yet. A tracer attaches to one interposed process and detaches;
// --step then advances one interposed step at a time until a claim creates
// the lock file, and the resumed run ends with the recorded trace hash.
//
// And a program that speaks the control protocol itself (tests/sut/c_agent.c)
// stops the same way: at its own yield points, every agent blocked on its
// control channel, and resumes to the recorded hash.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/poll.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kRun = "interleave-check-then-create-1";

std::vector<json> Lines(const std::string& path) {
  std::vector<json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

// The number of the system call the process is blocked in (/proc/PID/syscall).
long BlockedIn(pid_t pid) {
  std::istringstream in(testing::ReadAll("/proc/" + std::to_string(pid) + "/syscall"));
  std::string first;
  in >> first;
  return first.empty() || first == "running" ? -1 : std::stol(first);
}

struct KillOnExit {
  pid_t pid = -1;
  ~KillOnExit() {
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
};

class ReplayInterposedTest : public ::testing::Test {
 protected:
  // Records the interleave-check-then-create failure.
  void RecordRace() {
    const testing::Ran ran = testing::Run(
        {FAULTLINE_BIN, "run", std::string(SUT_DIR) + "/scenarios/interleave-check-then-create.json",
         "--out", tmp_.path()},
        tmp_ / "record.log", 120s);
    ASSERT_EQ(ran.exit.code, 1) << "the race should violate single_owner:\n" << ran.output;
    verdict_ = json::parse(testing::ReadAll(RunDir() + "/verdict.json"));
    trace_ = Lines(RunDir() + "/trace.jsonl");
  }
  std::string RunDir() const { return tmp_ / kRun; }

  // Waits until the stop report says stop `n`.
  json AwaitStop(const std::string& path, int n, const std::string& log) {
    json stop;
    EXPECT_TRUE(testing::Eventually(
        "stop " + std::to_string(n),
        [&] {
          stop = json::parse(testing::ReadAll(path), nullptr, false);
          return stop.is_object() && stop["stop"] == n;
        },
        120s))
        << testing::ReadAll(log);
    return stop;
  }

  testing::TempDir tmp_;
  json verdict_;
  std::vector<json> trace_;
};

TEST_F(ReplayInterposedTest, StopsBetweenSystemCallsOfTheRaceAndStepsThemOneByOne) {
  RecordRace();
  ASSERT_FALSE(HasFatalFailure());
  // From the verdict: the item granted twice and every agent granted it.
  std::string item;
  std::set<std::string> granted;
  for (const json& inv : verdict_["invariants"]) {
    if (inv["name"] != "single_owner") continue;
    for (const json& v : inv["violations"]) {
      for (uint64_t seq : v["evidence"].get<std::vector<uint64_t>>()) {
        item = trace_[seq]["item"];
        granted.insert(trace_[seq]["proc"].get<std::string>());
      }
    }
  }
  ASSERT_FALSE(item.empty()) << verdict_.dump(2);
  ASSERT_GE(granted.size(), 2u);
  // From the trace: the claims' checks of the item's lock file, and the
  // first creation of it; the stop is right after the last check before it.
  const std::string lock = "locks/" + item + ".lock";
  uint64_t last_check = 0, create = 0;
  for (const json& line : trace_) {
    if (line["type"] != "sys_step") continue;
    if (line["at"] == "sys.stat " + lock && create == 0) last_check = line["seq"];
    if (line["at"] == "sys.open " + lock && create == 0) create = line["seq"];
  }
  ASSERT_GT(last_check, 0u);
  ASSERT_GT(create, last_check);

  const std::string report = tmp_ / "stop.json";
  const std::string log = tmp_ / "replay.log";
  const pid_t replay = testing::Spawn({FAULTLINE_BIN, "replay", RunDir(), "--stop-at",
                                       std::to_string(last_check), "--step", "--stop-report",
                                       report},
                                      log);
  ASSERT_GT(replay, 0);
  KillOnExit guard{replay};
  json stop = AwaitStop(report, 1, log);
  ASSERT_EQ(stop["seq"], last_check) << stop.dump(2);
  EXPECT_TRUE(stop["diverged_at"].is_null());
  const std::string coord = stop["coord"];
  EXPECT_FALSE(std::filesystem::exists(coord + "/" + lock)) << "nobody has created it yet";

  // Every granted agent waits for its command, whose processes are listed,
  // alive and parked on their interposition socket.
  std::set<std::string> with_command;
  pid_t some_interposed = -1;
  for (const json& p : stop["processes"]) {
    if (!p["alive"].get<bool>()) continue;
    SCOPED_TRACE(p.dump());
    if (granted.count(p["id"].get<std::string>()) > 0) {
      EXPECT_EQ(p["parked"]["kind"], "command");
    }
    if (!p.contains("command")) continue;
    const pid_t pid = p["pid"].get<pid_t>();
    EXPECT_EQ(p["role"], "command");
    EXPECT_EQ(p["id"], p["command"]["agent"].get<std::string>() + "/" +
                           p["command"]["name"].get<std::string>());
    EXPECT_FALSE(p["parked"]["at"].get<std::string>().empty());
    EXPECT_EQ(BlockedIn(pid), SYS_recvfrom) << "not parked on its socket";
    EXPECT_EQ(p["attach"], "gdb -p " + std::to_string(pid));
    with_command.insert(p["command"]["agent"].get<std::string>());
    some_interposed = pid;
  }
  for (const std::string& agent : granted) {
    EXPECT_EQ(with_command.count(agent), 1u) << agent << "'s claim is not in flight:\n"
                                             << stop.dump(2);
  }

  // A tracer attaches to an interposed process and detaches.
  ASSERT_GT(some_interposed, 0);
  ASSERT_EQ(ptrace(PTRACE_SEIZE, some_interposed, nullptr, nullptr), 0);
  ASSERT_EQ(ptrace(PTRACE_INTERRUPT, some_interposed, nullptr, nullptr), 0);
  int status = 0;
  ASSERT_EQ(waitpid(some_interposed, &status, __WALL), some_interposed);
  EXPECT_TRUE(WIFSTOPPED(status));
  ASSERT_EQ(ptrace(PTRACE_DETACH, some_interposed, nullptr, nullptr), 0);

  // One interposed step per stop: the process picked runs from where the
  // previous stop said it was parked, until one creates the lock file.
  bool created = false;
  for (int n = 2; !created && n < 2 + 40; ++n) {
    const json previous = stop;
    ASSERT_EQ(kill(replay, SIGUSR1), 0);
    stop = AwaitStop(report, n, log);
    ASSERT_EQ(stop["steps"], previous["steps"].get<uint64_t>() + 1) << stop.dump(2);
    const json& ran = stop["last_decision"];
    ASSERT_EQ(ran["proc"], previous["next"]);
    for (const json& p : previous["processes"]) {
      if (p["id"] != ran["proc"] || !p.contains("command")) continue;
      // The step's trace line says where it ran from, as the stop did.
      ASSERT_FALSE(ran["wrote"].empty()) << stop.dump(2);
      EXPECT_EQ(ran["wrote"][0]["what"], "sys_step " + p["parked"]["at"].get<std::string>());
      created = p["parked"]["at"] == "sys.open " + lock;
    }
  }
  ASSERT_TRUE(created) << "no step created " << lock;
  EXPECT_EQ(stop["seq"], create);
  EXPECT_TRUE(std::filesystem::exists(coord + "/" + lock));

  // Run to the end: the recorded run again.
  ASSERT_EQ(kill(replay, SIGUSR2), 0);
  const testing::Exit done = testing::WaitFor(replay, 120s);
  guard.pid = -1;
  const std::string output = testing::ReadAll(log);
  ASSERT_TRUE(done.exited) << output;
  EXPECT_EQ(done.code, 1) << output;
  const std::string hash = verdict_["trace_sha256"];
  EXPECT_NE(output.find("replay: identical trace (sha256 " + hash + ")"), std::string::npos)
      << output;
}

TEST_F(ReplayInterposedTest, AProtocolSpeakerStopsAtItsOwnYieldPoints) {
  const std::string sut = tmp_ / "c.sut.json";
  std::ofstream(sut) << json{
      {"name", "c-agent"},
      {"observe", "protocol"},
      {"init", {C_AGENT_BIN, "init", "{dir}"}},
      {"submit", {C_AGENT_BIN, "submit", "{dir}", "{items}"}},
      {"agent",
       {C_AGENT_BIN, "agent", "{dir}", "{agent}", "{work_min_ms}", "{work_max_ms}", "{seed}",
        "{lease_ms}"}},
      {"state",
       {{"dump", {C_AGENT_BIN, "dump", "{dir}"}},
        {"status_map", {{"claimed", "claimed"}, {"done", "done"}, {"pending", "pending"}}}}}};
  const std::string scenario = tmp_ / "c.json";
  std::ofstream(scenario) << R"({"name": "c-agent", "seed": 5, "agents": {"count": 3,
      "work_ms": [1, 50]}, "work": {"items": 12}})";
  const std::string out = tmp_ / "c-out";
  const testing::Ran ran = testing::Run(
      {FAULTLINE_BIN, "run", scenario, "--sut", sut, "--out", out}, tmp_ / "c-record.log", 120s);
  ASSERT_EQ(ran.exit.code, 0) << ran.output;
  const std::string run_dir = out + "/c-agent-5";
  const json verdict = json::parse(testing::ReadAll(run_dir + "/verdict.json"));

  const std::string report = tmp_ / "c-stop.json";
  const std::string log = tmp_ / "c-replay.log";
  const pid_t replay = testing::Spawn(
      {FAULTLINE_BIN, "replay", run_dir, "--stop-at", "30", "--stop-report", report},
      log);
  ASSERT_GT(replay, 0);
  KillOnExit guard{replay};
  const json stop = AwaitStop(report, 1, log);
  EXPECT_EQ(stop["seq"], 30) << stop.dump(2);
  int parked_at_points = 0;
  for (const json& p : stop["processes"]) {
    if (!p["alive"].get<bool>()) continue;
    SCOPED_TRACE(p.dump());
    EXPECT_NE(p["parked"]["kind"], "none");
    parked_at_points += p["parked"]["kind"] == "yield";
    EXPECT_EQ(BlockedIn(p["pid"].get<pid_t>()), SYS_read) << "not parked on its control channel";
  }
  EXPECT_GE(parked_at_points, 1) << stop.dump(2);
  ASSERT_EQ(kill(replay, SIGUSR2), 0);
  const testing::Exit done = testing::WaitFor(replay, 120s);
  guard.pid = -1;
  const std::string output = testing::ReadAll(log);
  ASSERT_TRUE(done.exited) << output;
  EXPECT_EQ(done.code, 0) << output;
  EXPECT_NE(output.find("replay: identical trace (sha256 " +
                        verdict["trace_sha256"].get<std::string>() + ")"),
            std::string::npos)
      << output;
}

}  // namespace
}  // namespace faultline
