#include "coordinator/file_lock.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coordinator/fs_util.h"
#include "tests/support/temp_dir.h"

namespace swarm {
namespace {

using faultline::testing::TempDir;

// Runs `body` in a forked child and returns its exit code.
template <typename F>
int InChild(F body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(FileLockTest, ExclusiveAcrossProcessesAndRemovedOnRelease) {
  TempDir dir;
  std::string path = dir / "w1.lock";
  {
    auto lock = FileLock::TryAcquire(path);
    ASSERT_TRUE(lock.ok()) << lock.status().ToString();
    EXPECT_TRUE(fs::Exists(path));
    int rc = InChild([&] { return FileLock::TryAcquire(path).status().IsBusy() ? 0 : 1; });
    EXPECT_EQ(rc, 0) << "a second process got the lock";
    EXPECT_TRUE(FileLock::Probe(path).IsBusy());
  }
  EXPECT_FALSE(fs::Exists(path)) << "release must remove the lock file";
  EXPECT_EQ(FileLock::Probe(path).code(), Status::Code::kNotFound);
}

TEST(FileLockTest, HolderDeathFreesTheLockAndTheNextHolderRemovesTheFile) {
  TempDir dir;
  std::string path = dir / "w1.lock";
  // The child takes the lock and dies without releasing it (SIGKILL-like).
  int rc = InChild([&] {
    auto lock = FileLock::TryAcquire(path);
    if (!lock.ok()) return 1;
    _exit(0);
  });
  ASSERT_EQ(rc, 0);
  EXPECT_TRUE(fs::Exists(path)) << "a crashed holder leaves its file";
  EXPECT_TRUE(FileLock::Probe(path).ok()) << "but not its lock";
  {
    auto lock = FileLock::TryAcquire(path);
    ASSERT_TRUE(lock.ok());
  }
  EXPECT_FALSE(fs::Exists(path));
}

TEST(FileLockTest, LockOnAnUnlinkedInodeIsNotTaken) {
  // The unlink/recreate race: process B opened the lock file of holder A;
  // A removes the file and releases; C creates a new file and locks it. B's
  // flock on the old inode succeeds but must not count as the lock.
  TempDir dir;
  std::string path = dir / "w1.lock";
  int stale_fd = -1;
  {
    auto a = FileLock::TryAcquire(path);
    ASSERT_TRUE(a.ok());
    stale_fd = open(path.c_str(), O_RDWR);  // B opens the same file
    ASSERT_GE(stale_fd, 0);
  }  // A unlinks and releases
  auto c = FileLock::TryAcquire(path);
  ASSERT_TRUE(c.ok());
  // B's flock on the unlinked inode succeeds at the kernel level...
  EXPECT_EQ(flock(stale_fd, LOCK_EX | LOCK_NB), 0);
  close(stale_fd);
  // ...while TryAcquire, which checks the inode, sees the live lock as held.
  int rc = InChild([&] { return FileLock::TryAcquire(path).status().IsBusy() ? 0 : 1; });
  EXPECT_EQ(rc, 0);
}

TEST(FileLockTest, MoveKeepsOneOwner) {
  TempDir dir;
  std::string path = dir / "m.lock";
  auto a = FileLock::TryAcquire(path);
  ASSERT_TRUE(a.ok());
  FileLock moved = std::move(*a);
  EXPECT_TRUE(fs::Exists(path));
  EXPECT_TRUE(FileLock::Probe(path).IsBusy());
}

}  // namespace
}  // namespace swarm
