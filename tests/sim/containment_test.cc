// Containment of a run (sim/run_containment.h, docs/containment.md): nothing a
// run starts outlives it or a SIGKILLed faultline — no process (found by a
// mark in its environment, which every descendant inherits), no mount, no
// scratch directory or ballast file.
//
// FAULTLINE_CONTAIN_KILLS sets how many times the SIGKILL test kills
// faultline (default 20; tests/containment_kills.sh runs 100), and
// FAULTLINE_CONTAIN_SEED its random schedule (default: from the clock; the
// seed is printed).
#include <fcntl.h>
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
#include <vector>

#include "sim/process_set.h"
#include "sim/run_containment.h"
#include "tests/sim/containment_scan.h"
#include "tests/support/poll.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline::containment {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::TempDir;

class RunContainmentTest : public ScanTest {};

// In-process: a child that leaves the process group and double-forks dies
// when the containment ends; the scratch directory is the caller's to remove.
TEST_F(RunContainmentTest, EndKillsWhatLeftTheProcessGroup) {
  if (!PidNamespacesAllowed()) GTEST_SKIP() << "this host allows no PID namespace";
  TempDir tmp;
  RunContainment containment(tmp / "scratch-XXXXXX");
  ASSERT_TRUE(containment.contained()) << containment.warning();
  EXPECT_EQ(containment.warning(), "");
  ASSERT_TRUE(std::filesystem::is_directory(containment.scratch())) << containment.scratch();
  {
    ProcessSet set;
    SpawnSpec spec;
    spec.id = "escaper";
    spec.argv = {"/bin/sh", "-c", std::string(kEscape) + " exec sleep 600"};
    spec.env = {{kMarkKey, mark_}};
    spec.control_channel = false;
    ASSERT_TRUE(set.Spawn(spec).ok());
    ASSERT_TRUE(Eventually(
        "the escaped sleepers run", [&] { return Marked(mark_).size() >= 3; }, 10s));
    set.KillAll();
    // The process set's group kill does not reach what left the group.
    EXPECT_GE(Marked(mark_).size(), 2u) << "nothing escaped: the test proves nothing";
  }
  // Quiesce: all gone but the supervisor, which still holds the namespace.
  containment.Quiesce();
  EXPECT_TRUE(Marked(mark_).empty()) << Join(Marked(mark_));
  EXPECT_EQ(kill(containment.supervisor(), 0), 0);
  containment.End();
  EXPECT_TRUE(NothingLeft(tmp.path() + "/none", tmp.path() + "/none"));
  // Removing the scratch directory at a run's end is the harness's job.
  EXPECT_TRUE(std::filesystem::is_directory(containment.scratch()));
  // New children are born in this process's own namespace again.
  const pid_t child = fork();
  if (child == 0) _exit(getppid() > 0 ? 0 : 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(RunContainmentTest, TurnedOffItWarns) {
  setenv("FAULTLINE_PID_NAMESPACE", "off", 1);
  RunContainment containment("");
  unsetenv("FAULTLINE_PID_NAMESPACE");
  EXPECT_FALSE(containment.contained());
  EXPECT_NE(containment.warning().find("can outlive a SIGKILLed faultline"), std::string::npos)
      << containment.warning();
}

// The harness (a fork of this test) is SIGKILLed: its escaped descendants
// die and its scratch directory is removed, by nobody but the namespace.
TEST_F(RunContainmentTest, SigkilledHarnessLeavesNothing) {
  if (!PidNamespacesAllowed()) GTEST_SKIP() << "this host allows no PID namespace";
  TempDir tmp;
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t harness = fork();
  ASSERT_GE(harness, 0);
  if (harness == 0) {
    RunContainment containment(tmp / "faultline-run-x-XXXXXX");
    if (!containment.contained() || containment.scratch().empty()) _exit(3);
    const std::string scratch = containment.scratch();
    std::filesystem::create_directories(scratch + "/coord/deep");
    std::ofstream(scratch + "/ballast") << std::string(4096, 'x');
    ProcessSet set;
    SpawnSpec spec;
    spec.id = "escaper";
    spec.argv = {"/bin/sh", "-c", std::string(kEscape) + " exec sleep 600"};
    spec.env = {{kMarkKey, mark_}};
    spec.control_channel = false;
    if (!set.Spawn(spec).ok()) _exit(4);
    const std::string line = scratch + "\n";
    if (write(ready[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(5);
    pause();
    _exit(0);
  }
  close(ready[1]);
  std::string scratch;
  for (char c = 0; read(ready[0], &c, 1) == 1 && c != '\n';) scratch.push_back(c);
  close(ready[0]);
  ASSERT_FALSE(scratch.empty()) << "the harness did not start its child";
  ASSERT_TRUE(std::filesystem::exists(scratch + "/ballast"));
  ASSERT_TRUE(Eventually(
      "the escaped sleepers run", [&] { return Marked(mark_).size() >= 3; }, 10s));
  ASSERT_EQ(kill(harness, SIGKILL), 0);
  ASSERT_EQ(waitpid(harness, nullptr, 0), harness);
  EXPECT_TRUE(NothingLeft(tmp.path(), tmp.path()));
  EXPECT_FALSE(std::filesystem::exists(scratch));
}

}  // namespace
}  // namespace faultline::containment
