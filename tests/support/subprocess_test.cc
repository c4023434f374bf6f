// The test-side process starter: a child outlives nothing. A test binary
// killed from outside must not leave its faultline or server running.
#include "tests/support/subprocess.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "tests/support/poll.h"
#include "tests/support/temp_dir.h"

namespace faultline::testing {
namespace {

using namespace std::chrono_literals;

// Gone, or a zombie nobody has reaped yet: in either case no longer running.
bool NotRunning(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

TEST(SpawnTest, RunsTheProgramWithItsOutputInTheLog) {
  TempDir dir;
  Ran ran = testing::Run({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, dir / "log");
  EXPECT_TRUE(ran.exit.exited);
  EXPECT_EQ(ran.exit.code, 3);
  EXPECT_EQ(ran.output, "out\nerr\n");
}

TEST(SpawnTest, AProgramThatCannotStartIsAnError) {
  TempDir dir;
  EXPECT_EQ(Spawn({"/nonexistent/program"}, dir / "log"), -1);
}

// The stand-in for a test binary starts a long child and dies by SIGKILL; the
// child must end too.
TEST(SpawnTest, TheChildEndsWhenTheTestProcessIsKilled) {
  TempDir dir;
  int pids[2];
  ASSERT_EQ(pipe(pids), 0);
  pid_t test_process = fork();
  ASSERT_GE(test_process, 0);
  if (test_process == 0) {
    pid_t child = Spawn({"/bin/sleep", "600"}, dir / "log");
    ssize_t ignored = write(pids[1], &child, sizeof child);
    (void)ignored;
    pause();
    _exit(0);
  }
  close(pids[1]);
  pid_t child = -1;
  ASSERT_EQ(read(pids[0], &child, sizeof child), static_cast<ssize_t>(sizeof child));
  close(pids[0]);
  ASSERT_GT(child, 0);
  ASSERT_FALSE(NotRunning(child)) << "the child never ran";
  kill(test_process, SIGKILL);
  waitpid(test_process, nullptr, 0);
  EXPECT_TRUE(Eventually("the orphaned child to end", [&] { return NotRunning(child); }, 10s));
  kill(child, SIGKILL);  // in case it did not: never leave it behind
}

}  // namespace
}  // namespace faultline::testing
