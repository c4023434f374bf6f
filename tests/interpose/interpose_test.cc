// Lockstep inside unmodified programs: real bash processes driven through
// libfaultline_interpose.so by sim/interposed_processes.h with a seeded
// random schedule.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "sim/proc_status.h"
#include "sim/protocol/interpose_protocol.h"
#include "tests/interpose/interposed_run.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

using testing::RunSchedule;
using testing::ScheduleResult;
using testing::SpawnControlled;
using testing::TempDir;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Pids of processes whose environment names `socket`: controlled processes
// of this test that are still around.
std::vector<pid_t> Survivors(const std::string& socket) {
  std::vector<pid_t> out;
  const std::string needle = std::string(FL_IP_SOCKET_ENV) + "=" + socket;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string env = Read(e.path() / "environ");
    std::replace(env.begin(), env.end(), '\0', '\n');
    std::istringstream lines(env);
    for (std::string line; std::getline(lines, line);) {
      if (line == needle && !proc::Exited(std::stoi(name))) out.push_back(std::stoi(name));
    }
  }
  return out;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

class InterposeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Orphans of controlled processes become ours, so that they are reaped
    // here and can be looked for.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
  }

  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    dir_ = tmp_ / "dir";
    out_ = tmp_ / "out";
    std::filesystem::create_directories(dir_);
    std::filesystem::create_directories(out_);
  }

  InterposedProcesses::Options Options() const {
    InterposedProcesses::Options o;
    o.library = INTERPOSE_LIB;
    o.coordination_dir = dir_;
    o.step_timeout_ms = 20000;
    return o;
  }

  // Runs one `bash -c SCRIPT` per script, in the coordination directory,
  // under a schedule drawn from `seed`; afterwards checks that nothing of
  // the run is left.
  ScheduleResult Run(const std::vector<std::string>& scripts, uint64_t seed,
                     const testing::KillHook& hook = nullptr) {
    ScheduleResult r;
    std::string socket;
    {
      auto procs = InterposedProcesses::Listen(Options());
      if (!procs.ok()) {
        r.status = procs.status();
        return r;
      }
      socket = (*procs)->Environment()[1].second;
      for (size_t i = 0; i < scripts.size(); ++i) {
        pid_t pid =
            SpawnControlled({"/bin/bash", "-c", scripts[i]}, dir_,
                            out_ + "/" + std::to_string(i + 1) + ".out", (*procs)->Environment());
        auto name = (*procs)->Adopt(pid);
        if (!name.ok()) {
          r.status = name.status();
          return r;
        }
      }
      r = RunSchedule(**procs, seed, hook);
    }
    // INTERPOSE_TEST_LOG=1 prints every schedule, to see what a program does.
    if (getenv("INTERPOSE_TEST_LOG") != nullptr) {
      std::cerr << "seed " << seed << ":\n" << Joined(r.log);
    }
    EXPECT_EQ(Survivors(socket), std::vector<pid_t>{}) << "seed " << seed;
    return r;
  }

  std::string Output(int n) const { return Read(out_ + "/" + std::to_string(n) + ".out"); }

  void Reset() {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }

  TempDir tmp_;
  std::string dir_, out_;
};

constexpr const char* kCheckThenCreate = "[ -e lock ] || { echo $$ > lock && echo won; }";

// (a) The race of check-then-create shows under some seeds and not others.
TEST_F(InterposeTest, CheckThenCreateRaceDependsOnTheSeed) {
  int both = 0, one = 0;
  for (uint64_t seed = 1; seed <= 16; ++seed) {
    Reset();
    ScheduleResult r = Run({kCheckThenCreate, kCheckThenCreate}, seed);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString() << "\n" << Joined(r.log);
    ASSERT_FALSE(r.deadlock) << Joined(r.log);
    const int winners = (Output(1) == "won\n") + (Output(2) == "won\n");
    ASSERT_GE(winners, 1) << "seed " << seed;
    (winners == 2 ? both : one)++;
    // Every race shows in the points: both looked before either created.
    const std::string log = Joined(r.log);
    EXPECT_NE(log.find("sys.stat lock"), std::string::npos) << log;
    EXPECT_NE(log.find("sys.open lock"), std::string::npos) << log;
  }
  EXPECT_GT(both, 0) << "no seed of 16 interleaved the two checks";
  EXPECT_GT(one, 0) << "every seed of 16 interleaved the two checks";
}

// (a) The real defective coordinator: two claims of queue-check-then-create.sh
// on one pending item. Every file-system call of bash, jq, flock, mv and
// date is a step, so the window between the check and the create shows.
TEST_F(InterposeTest, QueueCheckThenCreateClaimRaceDependsOnTheSeed) {
  const std::string queue = std::string(SUT_DIR) + "/queue-check-then-create.sh";
  int both = 0, one = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    std::string first;
    for (int run = 0; run < 2; ++run) {
      Reset();
      ASSERT_EQ(
          system((queue + " init " + dir_ + " && " + queue + " submit " + dir_ + " 1 >/dev/null")
                     .c_str()),
          0);
      ScheduleResult r =
          Run({queue + " claim " + dir_ + " a1 101", queue + " claim " + dir_ + " a2 102"}, seed);
      ASSERT_TRUE(r.status.ok()) << r.status.ToString() << "\n" << Joined(r.log);
      ASSERT_FALSE(r.deadlock) << Joined(r.log);
      const std::string log = Joined(r.log) + Output(1) + Output(2);
      if (run == 0) {
        first = log;
        const int claimed =
            Output(1).starts_with("claimed w000001") + Output(2).starts_with("claimed w000001");
        ASSERT_GE(claimed, 1) << Output(1) << Output(2);
        (claimed == 2 ? both : one)++;
      } else {
        EXPECT_EQ(log, first) << "seed " << seed << " ran differently the second time";
      }
    }
  }
  EXPECT_GT(both, 0) << "no seed of 8 let both claims in";
  EXPECT_GT(one, 0) << "every seed of 8 let both claims in";
}

// (b) A seed fixes the schedule: the same (name, point) sequence every time.
TEST_F(InterposeTest, SameSeedSameSequenceTenTimes) {
  std::string first;
  for (int run = 0; run < 10; ++run) {
    Reset();
    ScheduleResult r = Run({kCheckThenCreate, kCheckThenCreate}, 7);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    const std::string log = Joined(r.log) + "1:" + Output(1) + "2:" + Output(2);
    if (run == 0) {
      first = log;
      EXPECT_GT(r.log.size(), 6u) << log;
    } else {
      ASSERT_EQ(log, first) << "run " << run;
    }
  }
}

// (c) Clocks read the simulated time: date prints it, sleep advances it.
TEST_F(InterposeTest, DateReadsTheSimulatedClock) {
  const std::string script = "date +%s%N; sleep 5; date +%s%N";
  std::string first;
  for (int run = 0; run < 2; ++run) {
    ScheduleResult r = Run({script}, 3);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    ASSERT_FALSE(r.deadlock) << Joined(r.log);
    std::istringstream in(Output(1));
    int64_t before = 0, after = 0;
    in >> before >> after;
    const int64_t epoch_ns = Options().epoch_us * 1000;
    EXPECT_GE(before, epoch_ns);
    EXPECT_LT(before, epoch_ns + 1'000'000'000) << "more than a simulated second to start";
    EXPECT_GE(after - before, 5'000'000'000) << Output(1);
    EXPECT_LT(after - before, 5'001'000'000) << Output(1);
    if (run == 0) first = Output(1);
    EXPECT_EQ(Output(1), first);
  }
}

// (d) Pipes, subshells, background jobs and sleeps complete, the same way
// for the same seed.
TEST_F(InterposeTest, PipelineSubshellWaitAndSleepComplete) {
  const std::string script =
      "echo x | cat > piped; ( echo sub > sub ); sleep 1 & wait $!; "
      "y=$(echo z | tr z Z); echo \"$y\" > substituted; "
      "printf '%s\\n' a b c | while read -r l; do echo \"$l\" >> lines; done; echo done";
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    std::string first;
    for (int run = 0; run < 2; ++run) {
      Reset();
      ScheduleResult r = Run({script, script}, seed);
      ASSERT_TRUE(r.status.ok()) << r.status.ToString() << "\n" << Joined(r.log);
      ASSERT_FALSE(r.deadlock) << Joined(r.log);
      EXPECT_EQ(Output(1), "done\n");
      EXPECT_EQ(Output(2), "done\n");
      EXPECT_EQ(Read(dir_ + "/piped"), "x\n");
      EXPECT_EQ(Read(dir_ + "/sub"), "sub\n");
      EXPECT_EQ(Read(dir_ + "/substituted"), "Z\n");
      // Both shells append to one file: the interleaving is the seed's.
      std::string lines = Read(dir_ + "/lines");
      std::string sorted = lines;
      std::sort(sorted.begin(), sorted.end());
      EXPECT_EQ(sorted, "\n\n\n\n\n\naabbcc");
      const std::string log = Joined(r.log) + lines;
      EXPECT_NE(log.find("blocked wait"), std::string::npos) << log;
      if (run == 0) first = log;
      EXPECT_EQ(log, first) << "seed " << seed;
    }
  }
}

// (e) A process killed where it is parked before its rename leaves the
// state from before the rename.
TEST_F(InterposeTest, KillAtRenameLeavesThePreRenameState) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    Reset();
    Write(dir_ + "/target", "old\n");
    bool killed = false;
    ScheduleResult r =
        Run({"echo new > tmp && mv tmp target; echo after"}, seed, [&](const InterposedProcess& p) {
          if (killed || p.point != FL_IP_POINT_RENAME) return false;
          EXPECT_EQ(p.item, "tmp");
          EXPECT_EQ(p.to, "target");
          return killed = true;
        });
    ASSERT_TRUE(r.status.ok()) << r.status.ToString() << "\n" << Joined(r.log);
    ASSERT_TRUE(killed) << Joined(r.log);
    ASSERT_FALSE(r.deadlock) << Joined(r.log);
    EXPECT_EQ(Read(dir_ + "/target"), "old\n");
    EXPECT_EQ(Read(dir_ + "/tmp"), "new\n");
    EXPECT_NE(Output(1).find("Killed"), std::string::npos) << Output(1);
    EXPECT_TRUE(Output(1).ends_with("after\n")) << "the shell goes on after its mv was killed";
  }
}

// (f) Processes left running when the run is torn down are killed: a
// background sleep outlives its shell, not the run. (Run() checks /proc
// after every run of the other tests too.)
TEST_F(InterposeTest, NothingSurvivesTheRun) {
  std::string socket;
  {
    auto procs = InterposedProcesses::Listen(Options());
    ASSERT_TRUE(procs.ok()) << procs.status().ToString();
    socket = (*procs)->Environment()[1].second;
    pid_t pid = SpawnControlled({"/bin/bash", "-c", "sleep 1000 & echo started"}, dir_,
                                out_ + "/1.out", (*procs)->Environment());
    ASSERT_TRUE((*procs)->Adopt(pid).ok());
    Rng rng(1);
    while ((*procs)->Find("1")->state != InterposedProcess::State::kExited) {
      auto runnable = (*procs)->Runnable();
      ASSERT_FALSE(runnable.empty());
      const base::Status stepped = (*procs)->Step(runnable[rng.Index(runnable.size())]);
      ASSERT_TRUE(stepped.ok()) << stepped.ToString();
    }
    const InterposedProcess* sleeper = (*procs)->Find("1.1");
    ASSERT_NE(sleeper, nullptr);
    ASSERT_NE(sleeper->state, InterposedProcess::State::kExited);
    EXPECT_EQ(Survivors(socket).size(), 1u);
  }
  EXPECT_EQ(Survivors(socket), std::vector<pid_t>{});
  EXPECT_EQ(Output(1), "started\n");
}

// A signal reaches a sleeping process: the shell's kill wakes the sleeper,
// which dies of it instead of sleeping its 1000 simulated seconds.
TEST_F(InterposeTest, KillWakesASleepingProcess) {
  int woken = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    for (const char* sig : {"TERM", "KILL"}) {
      Reset();
      ScheduleResult r = Run({std::string("sleep 1000 & p=$!; [ -e a ]; [ -e b ]; kill -") + sig +
                              " $p; wait $p; echo $? $(date +%s) > status"},
                             seed);
      ASSERT_TRUE(r.status.ok()) << r.status.ToString() << "\n" << Joined(r.log);
      ASSERT_FALSE(r.deadlock) << Joined(r.log);
      // Stepped while its sleep had not run out: woken by the signal.
      woken += Joined(r.log).find("1.1 sleeping until") != std::string::npos;
      std::istringstream in(Read(dir_ + "/status"));
      int status = 0;
      int64_t now_s = 0;
      in >> status >> now_s;
      EXPECT_EQ(status, std::string(sig) == "TERM" ? 143 : 137)
          << Read(dir_ + "/status") << Output(1);
      EXPECT_LT(now_s, Options().epoch_us / 1000000 + 10) << "the sleep ran to its end";
    }
  }
  EXPECT_GT(woken, 0) << "no seed of 6 killed the sleeper while it slept";
}

// What escapes control fails the run loudly.
TEST_F(InterposeTest, ThreadIsAnEscape) {
  ScheduleResult r = Run({std::string(THREAD_HELPER) + "; echo ran"}, 1);
  ASSERT_FALSE(r.status.ok()) << Joined(r.log);
  EXPECT_NE(r.status.message().find("thread"), std::string::npos) << r.status.message();
}

TEST_F(InterposeTest, StaticBinaryIsAnEscape) {
  ScheduleResult r = Run({"/sbin/ldconfig -p > /dev/null; echo ran"}, 1);
  ASSERT_FALSE(r.status.ok()) << Joined(r.log);
  EXPECT_NE(r.status.message().find("static_binary"), std::string::npos) << r.status.message();
}

// A child made by a raw fork system call never connects and is never
// announced: found among the children, it ran without control.
TEST_F(InterposeTest, RawForkChildIsAnEscape) {
  ScheduleResult r = Run({std::string(RAW_FORK_HELPER) + "; echo ran"}, 1);
  ASSERT_FALSE(r.status.ok()) << Joined(r.log);
  EXPECT_NE(r.status.message().find("ran without connecting"), std::string::npos)
      << r.status.message();
}

// A process that runs without ever reaching a yield point (a busy loop of
// shell builtins) holds the schedule: the step watchdog ends the run,
// saying what the process does.
TEST_F(InterposeTest, StepThatNeverParksIsAHarnessError) {
  auto procs = InterposedProcesses::Listen([&] {
    InterposedProcesses::Options o = Options();
    o.step_timeout_ms = 1000;
    return o;
  }());
  ASSERT_TRUE(procs.ok()) << procs.status().ToString();
  pid_t pid = SpawnControlled({"/bin/bash", "-c", "[ -e f ]; while :; do :; done"}, dir_,
                              out_ + "/1.out", (*procs)->Environment());
  ASSERT_TRUE((*procs)->Adopt(pid).ok());
  ScheduleResult r = RunSchedule(**procs, 1);
  ASSERT_FALSE(r.status.ok()) << Joined(r.log);
  EXPECT_NE(r.status.message().find("no answer within 1000 ms"), std::string::npos)
      << r.status.message();
  EXPECT_NE(r.status.message().find("bash"), std::string::npos) << r.status.message();
}

// A process under the library that is no descendant of a controlled one
// (here, started by a shell that is not controlled) connects: the run fails.
TEST_F(InterposeTest, ProcessOfAnUncontrolledParentIsAnEscape) {
  auto procs = InterposedProcesses::Listen(Options());
  ASSERT_TRUE(procs.ok()) << procs.status().ToString();
  std::string stray_env;
  for (const auto& [k, v] : (*procs)->Environment()) stray_env += k + "='" + v + "' ";
  pid_t pid = SpawnControlled({"/bin/bash", "-c", "while [ ! -e stop ]; do :; done"}, dir_,
                              out_ + "/1.out", (*procs)->Environment());
  ASSERT_TRUE((*procs)->Adopt(pid).ok());
  pid_t stray = SpawnControlled({"/bin/sh", "-c", "env " + stray_env + "/bin/true; :"}, dir_,
                                out_ + "/2.out", {});
  ASSERT_GT(stray, 0);
  ScheduleResult r = RunSchedule(**procs, 1);
  (*procs).reset();  // the stray, waiting for a go, sees the scheduler gone and dies
  waitpid(stray, nullptr, 0);
  ASSERT_FALSE(r.status.ok()) << r.steps << " steps";
  EXPECT_NE(r.status.message().find("is not controlled"), std::string::npos) << r.status.message();
}

}  // namespace
}  // namespace faultline
