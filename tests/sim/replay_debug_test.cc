// End to end: debugging a failure of the mutant zoo (docs/debugging.md).
// A run of the no_fencing mutant that violates exactly_once_effect is
// recorded once; `faultline replay --until violation` must stop at the
// violating step with every process alive and parked on its control
// channel, holding what the verdict's evidence says; a tracer must be able
// to attach and detach; a resume while a process is held by the tracer must
// wait; and the run must then end with the recorded trace hash.
// `faultline show --around` must print the same step as text.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
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

constexpr const char* kMutant = "no_fencing";
constexpr int kSeed = 2;  // a catching seed (tests/mutants/README.md)

std::vector<json> Lines(const std::string& path) {
  std::vector<json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

// The fields of /proc/PID/syscall: the number of the system call the process
// is blocked in, then its arguments; "running" when it is not in one.
std::vector<std::string> Syscall(pid_t pid) {
  std::istringstream in(testing::ReadAll("/proc/" + std::to_string(pid) + "/syscall"));
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  return fields;
}

// The process's FAULTLINE_CTL_FD: the fd of its control channel.
int ControlFd(pid_t pid) {
  const std::string env = testing::ReadAll("/proc/" + std::to_string(pid) + "/environ");
  const std::string key = std::string("FAULTLINE_CTL_FD") + "=";
  for (size_t at = 0; at < env.size(); at = env.find('\0', at) + 1) {
    if (env.compare(at, key.size(), key) == 0) return std::atoi(env.c_str() + at + key.size());
    if (env.find('\0', at) == std::string::npos) break;
  }
  return -1;
}

pid_t ParentOf(pid_t pid) {
  const std::string stat = testing::ReadAll("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos ? -1 : std::atoi(stat.c_str() + paren + 4);
}

// A replay that a failed assertion leaves waiting at a stop is killed (its
// processes die with it: they have the parent-death signal).
struct KillOnExit {
  pid_t pid = -1;
  ~KillOnExit() {
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
};

class ReplayDebugTest : public ::testing::Test {
 protected:
  // One recorded failure for every test here.
  static void SetUpTestSuite() {
    tmp_ = new testing::TempDir();
    setenv("SWARM_MUTANT", kMutant, 1);
    const testing::Ran ran = testing::Run(
        {FAULTLINE_BIN, "run", std::string(MUTANT_SCENARIO_DIR) + "/" + kMutant + ".json", "--seed",
         std::to_string(kSeed), "--swarm", SWARM_MUTANT_BIN, "--out", tmp_->path()},
        *tmp_ / "record.log", 120s);
    record_exit_ = ran.exit.exited ? ran.exit.code : -1;
    record_output_ = ran.output;
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(record_exit_, 1) << "the mutant run should violate an invariant:\n" << record_output_;
    verdict_ = json::parse(testing::ReadAll(RunDir() + "/verdict.json"));
  }
  static std::string RunDir() { return *tmp_ / ("mutant-no-fencing-" + std::to_string(kSeed)); }
  // The exactly_once_effect violation and its evidence seqs.
  std::vector<uint64_t> Evidence() const {
    for (const json& inv : verdict_["invariants"]) {
      if (inv["name"] != "exactly_once_effect" || inv["violations"].empty()) continue;
      return inv["violations"][0]["evidence"].get<std::vector<uint64_t>>();
    }
    return {};
  }

  static testing::TempDir* tmp_;
  static int record_exit_;
  static std::string record_output_;
  json verdict_;
};

testing::TempDir* ReplayDebugTest::tmp_ = nullptr;
int ReplayDebugTest::record_exit_ = -1;
std::string ReplayDebugTest::record_output_;

TEST_F(ReplayDebugTest, StopsAtTheViolationWithEveryProcessParkedAndEndsWithTheSameHash) {
  const std::vector<uint64_t> evidence = Evidence();
  ASSERT_FALSE(evidence.empty()) << verdict_.dump(2);
  const uint64_t violating = evidence.back();
  const std::vector<json> trace = Lines(RunDir() + "/trace.jsonl");
  ASSERT_LT(violating, trace.size());

  const std::string report_path = *tmp_ / "stop.json";
  const std::string log = *tmp_ / "replay.log";
  const pid_t replay =
      testing::Spawn({FAULTLINE_BIN, "replay", RunDir(), "--swarm", SWARM_MUTANT_BIN, "--until",
                      "violation", "--stop-report", report_path},
                     log);
  ASSERT_GT(replay, 0);
  KillOnExit guard{replay};
  json stop;
  ASSERT_TRUE(testing::Eventually(
      "the replay's stop report",
      [&] {
        stop = json::parse(testing::ReadAll(report_path), nullptr, false);
        return stop.is_object();
      },
      120s))
      << testing::ReadAll(log);

  // Stopped right after the step that wrote the violating line.
  EXPECT_EQ(stop["stop"], 1);
  EXPECT_EQ(stop["harness_pid"], replay);
  ASSERT_TRUE(stop["target"].is_object()) << stop.dump(2);
  EXPECT_EQ(stop["target"]["seq"], violating);
  EXPECT_EQ(stop["seq"], violating) << "the stop is the first one after seq " << violating;
  EXPECT_EQ(stop["target"]["proc"], trace[violating]["proc"]);
  EXPECT_EQ(stop["last_decision"]["proc"], trace[violating]["proc"]);
  EXPECT_TRUE(stop["diverged_at"].is_null());

  // Every live process is a child of the harness, blocked reading its
  // control channel; the holders the evidence names hold what it says.
  int parked = 0;
  for (const json& p : stop["processes"]) {
    if (!p["alive"].get<bool>()) continue;
    const pid_t pid = p["pid"].get<pid_t>();
    SCOPED_TRACE(p.dump());
    EXPECT_EQ(ParentOf(pid), replay);
    EXPECT_NE(p["parked"]["kind"], "none");
    const std::vector<std::string> call = Syscall(pid);
    ASSERT_GE(call.size(), 2u) << "not blocked in a system call";
    EXPECT_EQ(std::stol(call[0]), SYS_read);
    EXPECT_EQ(std::stol(call[1], nullptr, 16), ControlFd(pid));
    EXPECT_EQ(p["attach"], "gdb -p " + std::to_string(pid));
    ++parked;
  }
  EXPECT_GE(parked, 2);
  for (uint64_t seq : evidence) {
    const json& line = trace[seq];
    const std::string agent = line.value("agent", "");
    bool held = false;
    for (const json& p : stop["processes"]) {
      if (p["id"] != agent) continue;
      EXPECT_TRUE(p["alive"].get<bool>()) << agent;
      for (const json& c : p["claims"]) {
        held = held || (c["item"] == line["item"] && c["token"] == line["token"]);
      }
    }
    EXPECT_TRUE(held) << agent << " should hold " << line.dump() << " at the stop:\n"
                      << stop.dump(2);
  }
  // The writer of the stale effect is parked inside the item's lock, and the
  // kernel says so.
  for (const json& p : stop["processes"]) {
    if (p["id"] != trace[violating]["proc"]) continue;
    bool locked = false;
    for (const json& l : p["locks"]) {
      locked = locked || l["path"].get<std::string>().find(
                             trace[violating]["item"].get<std::string>()) != std::string::npos;
    }
    EXPECT_TRUE(locked) << p.dump(2);
  }

  // A tracer attaches to every parked process and detaches again.
  for (const json& p : stop["processes"]) {
    if (!p["alive"].get<bool>()) continue;
    const pid_t pid = p["pid"].get<pid_t>();
    ASSERT_EQ(ptrace(PTRACE_SEIZE, pid, nullptr, nullptr), 0) << "seize " << pid;
    ASSERT_EQ(ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, __WALL), pid);
    EXPECT_TRUE(WIFSTOPPED(status));
    ASSERT_EQ(ptrace(PTRACE_DETACH, pid, nullptr, nullptr), 0);
  }

  // A resume while a tracer holds a process stopped waits for it.
  pid_t held = -1;
  for (const json& p : stop["processes"]) {
    if (p["alive"].get<bool>()) held = p["pid"].get<pid_t>();
  }
  ASSERT_EQ(ptrace(PTRACE_SEIZE, held, nullptr, nullptr), 0);
  ASSERT_EQ(ptrace(PTRACE_INTERRUPT, held, nullptr, nullptr), 0);
  int status = 0;
  ASSERT_EQ(waitpid(held, &status, __WALL), held);
  ASSERT_EQ(kill(replay, SIGUSR1), 0);
  EXPECT_TRUE(testing::Eventually(
      "the replay to say a debugger holds a process",
      [&] { return testing::ReadAll(log).find("stopped by a debugger") != std::string::npos; },
      60s))
      << testing::ReadAll(log);
  testing::Exit running;
  EXPECT_FALSE(testing::Ended(replay, &running)) << "the run went on under a tracer";
  ASSERT_EQ(ptrace(PTRACE_DETACH, held, nullptr, nullptr), 0);

  // It resumes and ends exactly like the recording.
  const testing::Exit done = testing::WaitFor(replay, 120s);
  guard.pid = -1;
  const std::string output = testing::ReadAll(log);
  ASSERT_TRUE(done.exited) << output;
  EXPECT_EQ(done.code, 1) << output;  // the violation again
  const std::string hash = verdict_["trace_sha256"];
  EXPECT_NE(output.find("replay: identical trace (sha256 " + hash + ")"), std::string::npos)
      << output;
  const json again = json::parse(testing::ReadAll(RunDir() + "/replay/mutant-no-fencing-" +
                                                  std::to_string(kSeed) + "/verdict.json"));
  EXPECT_EQ(again["trace_sha256"], hash);
}

TEST_F(ReplayDebugTest, RefusesASeqPastTheRecordedTrace) {
  const testing::Ran ran = testing::Run(
      {FAULTLINE_BIN, "replay", RunDir(), "--swarm", SWARM_MUTANT_BIN, "--stop-at", "99999"},
      *tmp_ / "refuse.log");
  EXPECT_EQ(ran.exit.code, 2) << ran.output;
  EXPECT_NE(ran.output.find("past the recorded trace"), std::string::npos) << ran.output;
}

TEST_F(ReplayDebugTest, ShowAroundPrintsTheInterleavingAndWhatEachHolds) {
  const std::vector<uint64_t> evidence = Evidence();
  ASSERT_GE(evidence.size(), 2u);
  const uint64_t violating = evidence.back();
  const std::vector<json> trace = Lines(RunDir() + "/trace.jsonl");
  const testing::Ran ran = testing::Run({FAULTLINE_BIN, "show", RunDir(), "--around",
                                         std::to_string(violating), "--steps", "4", "--after", "1"},
                                        *tmp_ / "show.log");
  ASSERT_EQ(ran.exit.code, 0) << ran.output;
  const std::string& out = ran.output;
  // The row of the violating line: marked, its process and what it did, the
  // invariant that cites it.
  std::istringstream rows(out);
  std::string marked;
  for (std::string row; std::getline(rows, row);) {
    if (!row.empty() && row[0] == '>') marked = row;
  }
  const json& line = trace[violating];
  EXPECT_NE(marked.find(" " + std::to_string(violating) + " "), std::string::npos) << out;
  EXPECT_NE(marked.find(line["proc"].get<std::string>()), std::string::npos) << out;
  EXPECT_NE(marked.find(line["type"].get<std::string>() + " " + line["item"].get<std::string>()),
            std::string::npos)
      << out;
  EXPECT_NE(marked.find("<- exactly_once_effect"), std::string::npos) << out;
  // The other evidence line is in the window, and the holdings at the step
  // name both grants of the item, the older one superseded.
  EXPECT_NE(out.find(trace[evidence[0]]["type"].get<std::string>() + " " +
                     trace[evidence[0]]["item"].get<std::string>()),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("superseded: " + trace[evidence[0]]["agent"].get<std::string>()),
            std::string::npos)
      << out;
  // Without --around: the first violation.
  const testing::Ran first = testing::Run({FAULTLINE_BIN, "show", RunDir()}, *tmp_ / "show2.log");
  EXPECT_EQ(first.exit.code, 0) << first.output;
  EXPECT_NE(
      first.output.find("first violation: exactly_once_effect at seq " + std::to_string(violating)),
      std::string::npos)
      << first.output;
  const testing::Ran bad =
      testing::Run({FAULTLINE_BIN, "show", RunDir(), "--around", "99999"}, *tmp_ / "show3.log");
  EXPECT_EQ(bad.exit.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("seq 99999 is not in"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace faultline
