#include "coordinator/fs_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/support/temp_dir.h"

namespace swarm {
namespace {

using faultline::testing::CountEntries;
using faultline::testing::TempDir;

TEST(FsUtilTest, WriteAtomicReplacesAndLeavesNoTemp) {
  TempDir dir;
  ASSERT_TRUE(fs::MakeDir(dir / "tmp").ok());
  ASSERT_TRUE(fs::WriteAtomic(dir / "tmp", dir / "f", "one").ok());
  ASSERT_TRUE(fs::WriteAtomic(dir / "tmp", dir / "f", "two").ok());
  EXPECT_EQ(*fs::ReadFile(dir / "f"), "two");
  EXPECT_EQ(CountEntries(dir / "tmp"), 0u);
}

TEST(FsUtilTest, WriteAtomicFailureLeavesTargetUntouched) {
  TempDir dir;
  ASSERT_TRUE(fs::MakeDir(dir / "tmp").ok());
  ASSERT_TRUE(fs::WriteAtomic(dir / "tmp", dir / "f", "old").ok());
  // A target in a directory that does not exist: the rename fails.
  Status s = fs::WriteAtomic(dir / "tmp", dir / "nodir/f", "new");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("nodir/f"), std::string::npos) << s.message();
  EXPECT_EQ(CountEntries(dir / "tmp"), 0u);
  EXPECT_EQ(*fs::ReadFile(dir / "f"), "old");
}

TEST(FsUtilTest, CreateAtomicIsExclusive) {
  TempDir dir;
  ASSERT_TRUE(fs::MakeDir(dir / "tmp").ok());
  ASSERT_TRUE(fs::CreateAtomic(dir / "tmp", dir / "e", "first").ok());
  Status again = fs::CreateAtomic(dir / "tmp", dir / "e", "second");
  EXPECT_EQ(again.code(), Status::Code::kConflict);
  EXPECT_EQ(*fs::ReadFile(dir / "e"), "first");
  EXPECT_EQ(CountEntries(dir / "tmp"), 0u);
}

TEST(FsUtilTest, ListDirIsSortedAndSkipsDotFiles) {
  TempDir dir;
  for (const char* n : {"c", "a", ".hidden", "b"}) ASSERT_TRUE(fs::Touch(dir / n).ok());
  auto names = fs::ListDir(dir.path());
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(fs::ListDir(dir / "none").status().code(), Status::Code::kNotFound);
}

TEST(FsUtilTest, ANewDirectoryGoesWhereThereIsNothingOrAnEmptyDirectory) {
  TempDir dir;
  EXPECT_TRUE(fs::CheckEmptyOrNew(dir / "new").ok());
  ASSERT_TRUE(fs::MakeDir(dir / "empty").ok());
  ASSERT_TRUE(fs::Touch(dir / "empty/.hidden").ok());
  EXPECT_TRUE(fs::CheckEmptyOrNew(dir / "empty").ok());
  ASSERT_TRUE(fs::Touch(dir / "file").ok());
  Status file = fs::CheckEmptyOrNew(dir / "file");
  EXPECT_EQ(file.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(file.message(), dir / "file" + " exists and is not a directory");
  ASSERT_TRUE(fs::Touch(dir / "empty/notes.txt").ok());
  Status full = fs::CheckEmptyOrNew(dir / "empty");
  EXPECT_EQ(full.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(full.message().find("empty is not empty and not a swarm coordination directory; "
                                "choose an empty or new directory"),
            std::string::npos)
      << full.message();
}

TEST(FsUtilTest, ErrnoMapping) {
  EXPECT_EQ(Status::FromErrno(ENOSPC, "x").code(), Status::Code::kNoSpace);
  EXPECT_EQ(Status::FromErrno(EDQUOT, "x").code(), Status::Code::kNoSpace);
  EXPECT_EQ(Status::FromErrno(EIO, "x").code(), Status::Code::kIOError);
  EXPECT_EQ(Status::FromErrno(ENOENT, "x").code(), Status::Code::kNotFound);
  EXPECT_EQ(Status::FromErrno(EIO, "write f").message(), "write f: Input/output error");
}

TEST(FsUtilTest, TempNamesCarryTheirWriter) {
  std::string p = fs::TempPath("/t", "w1.json");
  std::string name = p.substr(3);
  EXPECT_EQ(fs::TempFileOwner(name), getpid());
  EXPECT_EQ(fs::TempFileOwner("x.1.tmp"), 0);
  EXPECT_TRUE(fs::ProcessAlive(getpid()));
  EXPECT_FALSE(fs::ProcessAlive(0));
}

// The calls in a kept directory do what their path-taking namesakes do, and
// name full paths in their errors.
TEST(FsUtilTest, KeptDirectoryCallsMatchThePathCalls) {
  TempDir dir;
  ASSERT_TRUE(fs::MakeDir(dir / "tmp").ok());
  ASSERT_TRUE(fs::MakeDir(dir / "d").ok());
  fs::Dir tmp(dir / "tmp"), d(dir / "d");
  ASSERT_TRUE(fs::WriteAtomic(tmp, d, "f", "one").ok());
  ASSERT_TRUE(fs::WriteAtomic(tmp, d, "f", "two").ok());
  EXPECT_GE(d.fd(), 0);
  EXPECT_EQ(*fs::ReadFile(d, "f"), "two");
  EXPECT_EQ(*fs::ReadFile(dir / "d/f"), "two");
  ASSERT_TRUE(fs::CreateAtomic(tmp, d, "e", "first").ok());
  EXPECT_EQ(fs::CreateAtomic(tmp, d, "e", "second").code(), Status::Code::kConflict);
  EXPECT_EQ(*fs::ReadFile(d, "e"), "first");
  EXPECT_EQ(CountEntries(dir / "tmp"), 0u);
  ASSERT_TRUE(fs::Touch(d, "m").ok());
  EXPECT_TRUE(fs::Exists(d, "m"));
  ASSERT_TRUE(fs::Remove(d, "m", /*durable=*/false).ok());
  EXPECT_FALSE(fs::Exists(d, "m"));
  EXPECT_TRUE(fs::Remove(d, "m", /*durable=*/true).ok());  // already gone: fine
  EXPECT_TRUE(fs::FsyncDir(d).ok());
  Result<std::string> missing = fs::ReadFile(d, "none");
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_NE(missing.status().message().find(dir / "d/none"), std::string::npos)
      << missing.status().message();
}

// A directory that cannot be opened yet is worked on by path, and kept once
// it can be.
TEST(FsUtilTest, KeptDirectoryIsOpenedOnceItExists) {
  TempDir dir;
  ASSERT_TRUE(fs::MakeDir(dir / "tmp").ok());
  fs::Dir tmp(dir / "tmp"), d(dir / "later");
  EXPECT_LT(d.fd(), 0);
  Status s = fs::WriteAtomic(tmp, d, "f", "x");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(dir / "later/f"), std::string::npos) << s.message();
  EXPECT_EQ(CountEntries(dir / "tmp"), 0u);
  EXPECT_FALSE(fs::Exists(d, "f"));
  ASSERT_TRUE(fs::MakeDir(dir / "later").ok());
  ASSERT_TRUE(fs::WriteAtomic(tmp, d, "f", "x").ok());
  EXPECT_GE(d.fd(), 0);
  EXPECT_EQ(*fs::ReadFile(dir / "later/f"), "x");
}

}  // namespace
}  // namespace swarm
