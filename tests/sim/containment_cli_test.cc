// Containment end to end: faultline SIGKILLed at random times across runs of
// the reference coordinator, a shell SUT through the adapter (its commands
// whole, and under interposition: "interleave": "syscalls"), a freerun
// scenario with a disk-full mount, a SUT whose commands leave their session
// and a run on a PostgreSQL server of its own, leaves no process (the
// server's processes inherit the mark), no mount and no scratch directory or
// ballast behind; and a run that ends normally leaves nothing either.
//
// FAULTLINE_CONTAIN_KILLS sets how many times faultline is killed (default
// 20; tests/containment_kills.sh runs 100), FAULTLINE_CONTAIN_SEED the random
// schedule (default: from the clock; printed, so a failure can be replayed).
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/sim/containment_scan.h"
#include "tests/support/poll.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::TempDir;

// Starts faultline with `extra` added to the environment, output to `log`.
pid_t StartFaultline(const std::vector<std::string>& args, const std::vector<std::string>& extra,
                     const std::string& log) {
  std::vector<std::string> argv = {FAULTLINE_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  env.insert(env.end(), extra.begin(), extra.end());
  std::vector<char*> a, e;
  for (std::string& s : argv) a.push_back(s.data());
  a.push_back(nullptr);
  for (std::string& s : env) e.push_back(s.data());
  e.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  if (posix_spawn(&pid, a[0], &fa, nullptr, a.data(), e.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// external-queue-sh with a register command that first leaves its session
// and double-forks two sleepers, as a careless SUT's daemon would.
std::string WriteEscapingSut(const std::string& dir) {
  std::ifstream in(std::string(SCENARIO_DIR) + "/external-queue-sh.json");
  nlohmann::json s = nlohmann::json::parse(in, nullptr, true, /*ignore_comments=*/true);
  s["name"] = "escaping-sut";
  s["work"]["items"] = 6;
  s["sut"]["cwd"] = SUT_DIR;
  s["sut"]["adapter"]["register"] = {
      "sh",   "-c",    std::string(containment::kEscape) + " exec ./queue.sh register \"$@\"",
      "sh",   "{dir}", "{agent}",
      "{pid}"};
  const std::string path = dir + "/escaping-sut.json";
  std::ofstream(path) << s.dump(2);
  return path;
}

class ContainmentCliTest : public containment::ScanTest {
 protected:
  void SetUp() override {
    ScanTest::SetUp();
    if (!containment::PidNamespacesAllowed()) GTEST_SKIP() << "this host allows no PID namespace";
    std::filesystem::create_directories(work_);
    // As root a run's database server is the user `postgres`, which must
    // pass through to the scratch directory (sim/pg_server.h); TempDir is
    // private to this user.
    for (const std::string& d : {tmp_.path(), work_}) {
      std::filesystem::permissions(d, std::filesystem::perms::others_exec,
                                   std::filesystem::perm_options::add);
    }
  }
  std::vector<std::string> Env() const {
    return {std::string(containment::kMarkKey) + "=" + mark_, "FAULTLINE_WORKDIR=" + work_};
  }
  TempDir tmp_;
  std::string work_ = tmp_ / "work";
};

// A run that ends by itself: the sleepers its SUT left running die with it.
TEST_F(ContainmentCliTest, FinishedRunLeavesNothing) {
  const std::string scenario = WriteEscapingSut(tmp_.path());
  const pid_t pid = StartFaultline({"run", scenario, "--out", tmp_ / "out"}, Env(), tmp_ / "log");
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(Eventually(
      "the SUT's escaped sleepers run",
      [&] {
        for (const std::string& p : containment::Marked(mark_)) {
          if (p.find("sleep 600") != std::string::npos) return true;
        }
        return false;
      },
      60s))
      << testing::ReadAll(tmp_ / "log");
  const testing::Exit exit = testing::WaitFor(pid, 120s);
  EXPECT_TRUE(exit.exited && exit.code == 0) << testing::ReadAll(tmp_ / "log");
  EXPECT_EQ(testing::ReadAll(tmp_ / "log").find("WARNING"), std::string::npos);
  EXPECT_TRUE(NothingLeft(tmp_.path(), work_));
}

// Interposed commands run inside the run's PID namespace like everything
// else: the scheduler names them by the pids they see there, and kills and
// looks them up by its own (docs/interposition.md). The run passes, with no
// warning that it was not contained, and leaves nothing.
TEST_F(ContainmentCliTest, InterposedRunIsContained) {
  const pid_t pid = StartFaultline(
      {"run", std::string(SCENARIO_DIR) + "/interleave-queue-sh.json", "--out", tmp_ / "out"},
      Env(), tmp_ / "log");
  ASSERT_GT(pid, 0);
  const testing::Exit exit = testing::WaitFor(pid, 300s);
  const std::string log = testing::ReadAll(tmp_ / "log");
  EXPECT_TRUE(exit.exited && exit.code == 0) << log;
  EXPECT_NE(log.find("interleave syscalls"), std::string::npos) << log;
  EXPECT_EQ(log.find("WARNING"), std::string::npos) << log;
  EXPECT_TRUE(NothingLeft(tmp_.path(), work_));
}

// faultline SIGKILLed while a server that db_crash SIGKILLed is started
// again by the fault and recovers from its write-ahead log: that server (a
// child of the engine, not of the run's set-up), its backends and its data
// directory go with the run like the first one.
TEST_F(ContainmentCliTest, SigkilledDuringCrashRecoveryLeavesNothing) {
  const std::string log = tmp_ / "log";
  const pid_t pid =
      StartFaultline({"run", std::string(SCENARIO_DIR) + "/postgres-db-crash.json", "--out",
                      tmp_ / "out"},
                     Env(), log);
  ASSERT_GT(pid, 0);
  const std::string server_log = tmp_ / "out/postgres-db-crash-1/logs/postgres.log";
  ASSERT_TRUE(Eventually(
      "the crashed server recovers",
      [&] {
        return testing::ReadAll(server_log).find("automatic recovery in progress") !=
               std::string::npos;
      },
      120s, 1ms))
      << testing::ReadAll(log) << testing::ReadAll(server_log);
  const std::vector<std::string> running = containment::Marked(mark_);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run ended by itself: " << testing::ReadAll(log);
  bool server = false;
  for (const std::string& p : running) server |= p.find("postgres") != std::string::npos;
  EXPECT_TRUE(server) << "no server process ran when faultline was killed:"
                      << containment::Join(running);
  EXPECT_TRUE(NothingLeft(tmp_.path(), work_));
}

TEST_F(ContainmentCliTest, SigkilledAtRandomTimesLeavesNothing) {
  const char* kills_env = std::getenv("FAULTLINE_CONTAIN_KILLS");
  const int kills = kills_env ? std::atoi(kills_env) : 20;
  const char* seed_env = std::getenv("FAULTLINE_CONTAIN_SEED");
  const uint64_t seed =
      seed_env ? std::strtoull(seed_env, nullptr, 10)
               : static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  std::printf("FAULTLINE_CONTAIN_SEED=%llu, %d kills\n", static_cast<unsigned long long>(seed),
              kills);
  std::mt19937_64 rng(seed);
  const std::string dir = SCENARIO_DIR;
  const std::vector<std::vector<std::string>> runs = {
      {"run", dir + "/killed-worker.json", "--seeds", "200"},
      {"run", dir + "/external-queue-sh.json", "--seeds", "20"},
      {"run", dir + "/interleave-queue-sh.json", "--seeds", "20"},
      {"run", dir + "/disk-full.json", "--mode", "freerun", "--seeds", "50"},
      {"run", WriteEscapingSut(tmp_.path()), "--seeds", "20"},
      // A database server of the run, its backends and its data directory.
      {"run", dir + "/postgres-partition.json", "--seeds", "20"},
      // ... and one a fault crashed and started again (crash recovery).
      {"run", dir + "/postgres-db-crash.json", "--seeds", "20"},
  };
  int killed_mid_run = 0;
  for (int i = 0; i < kills; ++i) {
    const std::vector<std::string>& which = runs[static_cast<size_t>(i) % runs.size()];
    std::vector<std::string> args = which;
    args.insert(args.end(), {"--out", tmp_ / "out"});
    const std::string log = tmp_ / "log";
    const pid_t pid = StartFaultline(args, Env(), log);
    ASSERT_GT(pid, 0);
    // Once the run has processes of its own, a random moment within 2 s:
    // inside a run, between runs, during set-up or the final state dump.
    ASSERT_TRUE(Eventually(
        "faultline starts processes", [&] { return containment::Marked(mark_).size() >= 3; }, 60s))
        << which[1] << "\n"
        << testing::ReadAll(log);
    // The random schedule itself, not a wait for anything.
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 2000));
    const size_t running = containment::Marked(mark_).size();
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << which[1] << " ended by itself: " << testing::ReadAll(log);
    killed_mid_run += running > 1;
    ASSERT_TRUE(NothingLeft(tmp_.path(), work_)) << "kill " << i << " of " << which[1];
    std::filesystem::remove_all(tmp_ / "out");
    std::filesystem::remove(log);
  }
  // The test proves something only if faultline had a run going when killed.
  std::printf("%d of %d kills landed while the run had processes of its own\n", killed_mid_run,
              kills);
  EXPECT_GE(killed_mid_run, kills / 2);
}

}  // namespace
}  // namespace faultline
