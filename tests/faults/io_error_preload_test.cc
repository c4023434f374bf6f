// Tests of the io_error preload layer (faults/preload/) on its own: a probe
// program runs file operations under LD_PRELOAD with a control page the test
// writes, and the test checks which operations failed, what reached the
// files, and the counters in the page; and the coordinator's own CLI under
// the layer. The preload and the probe are built without sanitizers, so
// these tests run in every build (swarm, when it is, gets
// ASAN_OPTIONS=verify_asan_link_order=0 as the fault gives it).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "faults/preload/io_error_control.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

namespace stdfs = std::filesystem;
using testing::ReadAll;
using testing::TempDir;

constexpr uint32_t Bit(faultline_ioerr_kind kind) { return 1u << kind; }
constexpr uint32_t kAllCalls = Bit(FAULTLINE_IOERR_WRITE) | Bit(FAULTLINE_IOERR_FSYNC) |
                               Bit(FAULTLINE_IOERR_RENAME) | Bit(FAULTLINE_IOERR_OPEN);

class IoErrorPreloadTest : public ::testing::Test {
 public:
  void SetUp() override {
    coord_ = tmp_ / "coord";
    other_ = tmp_ / "other";
    stdfs::create_directories(coord_);
    stdfs::create_directories(other_);
    // The control page, as the fault writes it: settings first, disarmed.
    faultline_ioerr_control page{};
    page.magic = FAULTLINE_IOERR_MAGIC;
    page.version = FAULTLINE_IOERR_VERSION;
    page.error = EIO;
    page.calls = kAllCalls;
    for (uint32_t& nth : page.every_nth) nth = 1;
    std::strcpy(page.dir, coord_.c_str());
    std::strcpy(page.dir_resolved, stdfs::canonical(coord_).c_str());
    control_path_ = tmp_ / "io_error-0.ctl";
    std::ofstream(control_path_, std::ios::binary)
        .write(reinterpret_cast<const char*>(&page), sizeof page);
    int fd = open(control_path_.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    void* mapped = mmap(nullptr, sizeof page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    ASSERT_NE(mapped, MAP_FAILED);
    page_ = static_cast<faultline_ioerr_control*>(mapped);
  }
  void TearDown() override {
    if (page_ != nullptr) munmap(page_, sizeof *page_);
  }

  void Arm(uint32_t calls, int error = EIO) {
    page_->calls = calls;
    page_->error = error;
    __atomic_store_n(&page_->armed, 1u, __ATOMIC_SEQ_CST);
  }
  uint64_t Injected(faultline_ioerr_kind kind, int slot = 0) const {
    return __atomic_load_n(&page_->injected[slot][kind], __ATOMIC_SEQ_CST);
  }

  // Runs the probe with `ops` under the preload; returns "op result" lines.
  std::vector<std::string> Probe(const std::vector<std::string>& ops,
                                 std::map<std::string, std::string> env = {},
                                 bool with_control = true) {
    std::vector<std::string> argv = {IOERR_PROBE};
    argv.insert(argv.end(), ops.begin(), ops.end());
    testing::Exit exit = RunUnderPreload(argv, std::move(env), with_control);
    EXPECT_TRUE(exit.exited && exit.code == 0) << stderr_;
    std::vector<std::string> lines;
    std::ifstream in(tmp_ / "run.out");
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  // Runs `argv` with LD_PRELOAD (and the control page); stdout goes to
  // run.out, stderr to stderr_.
  testing::Exit RunUnderPreload(const std::vector<std::string>& argv_in,
                                std::map<std::string, std::string> env = {},
                                bool with_control = true) {
    env["LD_PRELOAD"] = IOERR_PRELOAD;
    if (with_control) {
      env.emplace(FAULTLINE_IOERR_CTL_ENV, control_path_);
      env.emplace(FAULTLINE_IOERR_SLOT_ENV, "0");
    }
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_strings = argv_in;
    std::vector<char*> argv;
    for (std::string& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    const std::string out = tmp_ / "run.out";
    const std::string err = tmp_ / "run.err";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&fa);
    testing::Exit exit = testing::WaitFor(pid, std::chrono::seconds(60));
    stderr_ = ReadAll(err);
    return exit;
  }

  TempDir tmp_;
  std::string coord_, other_, control_path_;
  faultline_ioerr_control* page_ = nullptr;
  std::string stderr_;
};

using Lines = std::vector<std::string>;

TEST_F(IoErrorPreloadTest, DisarmedEveryCallWorksAndNothingIsCounted) {
  const std::string a = coord_ + "/a", b = coord_ + "/b";
  EXPECT_EQ(Probe({"open:" + a, "write", "pwrite", "writev", "fsync", "fdatasync",
                   "rename:" + a + ":" + b, "creat:" + a, "stderr"}),
            (Lines{"open ok", "write ok", "pwrite ok", "writev ok", "fsync ok", "fdatasync ok",
                   "rename ok", "creat ok", "stderr ok"}));
  EXPECT_EQ(ReadAll(b), "probe data\nprobe data\n");  // write, pwrite over it at 0, writev
  for (int kind = 0; kind < FAULTLINE_IOERR_KINDS; ++kind) {
    EXPECT_EQ(page_->matched[kind], 0u);
    EXPECT_EQ(Injected(static_cast<faultline_ioerr_kind>(kind)), 0u);
  }
}

TEST_F(IoErrorPreloadTest, ArmedOpensUnderTheDirectoryFailOthersWork) {
  Arm(kAllCalls);
  EXPECT_EQ(Probe({"open:" + coord_ + "/a", "creat:" + coord_ + "/b",
                   "openat:" + coord_ + ":c", "open:" + other_ + "/a", "write", "stderr"}),
            (Lines{"open EIO", "creat EIO", "openat EIO", "open ok", "write ok", "stderr ok"}));
  EXPECT_NE(stderr_.find("stderr still works"), std::string::npos) << stderr_;
  EXPECT_FALSE(stdfs::exists(coord_ + "/a"));
  EXPECT_FALSE(stdfs::exists(coord_ + "/c"));
  EXPECT_EQ(ReadAll(other_ + "/a"), "probe data\n");
  EXPECT_EQ(Injected(FAULTLINE_IOERR_OPEN), 3u);
  EXPECT_EQ(Injected(FAULTLINE_IOERR_WRITE), 0u);
}

TEST_F(IoErrorPreloadTest, WritesAndSyncsFailWithoutWritingThenDisarmedWork) {
  Arm(Bit(FAULTLINE_IOERR_WRITE) | Bit(FAULTLINE_IOERR_FSYNC));
  const std::string a = coord_ + "/a";
  EXPECT_EQ(Probe({"open:" + a, "write", "pwrite", "writev", "fsync", "fdatasync", "stderr"}),
            (Lines{"open ok", "write EIO", "pwrite EIO", "writev EIO", "fsync EIO",
                   "fdatasync EIO", "stderr ok"}));
  EXPECT_EQ(ReadAll(a), "") << "a failed write must not write";
  EXPECT_EQ(Injected(FAULTLINE_IOERR_WRITE), 3u);
  EXPECT_EQ(Injected(FAULTLINE_IOERR_FSYNC), 2u);

  __atomic_store_n(&page_->armed, 0u, __ATOMIC_SEQ_CST);
  EXPECT_EQ(Probe({"open:" + a, "write", "fsync"}), (Lines{"open ok", "write ok", "fsync ok"}));
  EXPECT_EQ(ReadAll(a), "probe data\n");
  EXPECT_EQ(Injected(FAULTLINE_IOERR_WRITE), 3u) << "disarmed calls are not counted";
}

TEST_F(IoErrorPreloadTest, RenamesFailAndLeaveBothNamesAlone) {
  std::ofstream(coord_ + "/a") << "old";
  std::ofstream(other_ + "/x") << "x";
  Arm(Bit(FAULTLINE_IOERR_RENAME));
  EXPECT_EQ(Probe({"rename:" + coord_ + "/a:" + coord_ + "/b",
                   "renameat:" + coord_ + "/a:" + coord_ + "/b",
                   "rename:" + other_ + "/x:" + other_ + "/y"}),
            (Lines{"rename EIO", "renameat EIO", "rename ok"}));
  EXPECT_EQ(ReadAll(coord_ + "/a"), "old");
  EXPECT_FALSE(stdfs::exists(coord_ + "/b"));
  EXPECT_TRUE(stdfs::exists(other_ + "/y"));
  EXPECT_EQ(Injected(FAULTLINE_IOERR_RENAME), 2u);
}

TEST_F(IoErrorPreloadTest, PathFilterIsHonoured) {
  std::strcpy(page_->path_contains, "/items/");
  stdfs::create_directories(coord_ + "/items");
  stdfs::create_directories(coord_ + "/locks");
  Arm(kAllCalls);
  EXPECT_EQ(Probe({"open:" + coord_ + "/items/w1.json", "open:" + coord_ + "/locks/w1.lock",
                   "write", "fsync"}),
            (Lines{"open EIO", "open ok", "write ok", "fsync ok"}));
  EXPECT_EQ(Injected(FAULTLINE_IOERR_OPEN), 1u);
}

TEST_F(IoErrorPreloadTest, EveryNthMatchingCallFails) {
  page_->every_nth[FAULTLINE_IOERR_WRITE] = 2;
  Arm(Bit(FAULTLINE_IOERR_WRITE));
  EXPECT_EQ(Probe({"open:" + coord_ + "/a", "write", "write", "write", "write"}),
            (Lines{"open ok", "write ok", "write EIO", "write ok", "write EIO"}));
  EXPECT_EQ(page_->matched[FAULTLINE_IOERR_WRITE], 4u);
  EXPECT_EQ(Injected(FAULTLINE_IOERR_WRITE), 2u);
}

TEST_F(IoErrorPreloadTest, EnospcFailsOnlyOpensThatCreate) {
  std::ofstream(coord_ + "/a") << "existing";
  Arm(kAllCalls, ENOSPC);
  EXPECT_EQ(Probe({"openr:" + coord_ + "/a", "open:" + coord_ + "/b", "open:" + other_ + "/b",
                   "write"}),
            (Lines{"openr ok", "open ENOSPC", "open ok", "write ok"}));
  Arm(Bit(FAULTLINE_IOERR_WRITE), ENOSPC);
  EXPECT_EQ(Probe({"open:" + coord_ + "/b", "write"}), (Lines{"open ok", "write ENOSPC"}));
}

TEST_F(IoErrorPreloadTest, SymlinkedDirectoryIsMatchedByEitherName) {
  stdfs::create_directory_symlink(coord_, tmp_ / "link");
  std::strcpy(page_->dir, (tmp_ / "link").c_str());  // as given; resolved stays coord_
  Arm(kAllCalls & ~Bit(FAULTLINE_IOERR_OPEN));
  // The descriptor's /proc name is the resolved path.
  EXPECT_EQ(Probe({"open:" + (tmp_ / "link/a"), "write"}), (Lines{"open ok", "write EIO"}));
  Arm(Bit(FAULTLINE_IOERR_OPEN));
  EXPECT_EQ(Probe({"open:" + (tmp_ / "link/b")}), (Lines{"open EIO"}));
}

TEST_F(IoErrorPreloadTest, ControlChannelDescriptorIsNeverTouched) {
  Arm(Bit(FAULTLINE_IOERR_WRITE));
  const std::vector<std::string> ops = {"open:" + coord_ + "/a", "dup2:9", "write"};
  EXPECT_EQ(Probe(ops, {{"FAULTLINE_CTL_FD", "9"}}), (Lines{"open ok", "dup2 ok", "write ok"}));
  EXPECT_EQ(Probe(ops), (Lines{"open ok", "dup2 ok", "write EIO"}));
}

TEST_F(IoErrorPreloadTest, WhatTheLayerCannotReach) {
  // stdio calls the system calls from inside libc, and syscall(2) is raw:
  // both get past the layer (docs/faults.md, io_error limits).
  Arm(kAllCalls);
  page_->calls = Bit(FAULTLINE_IOERR_WRITE);
  EXPECT_EQ(Probe({"fopen:" + coord_ + "/stdio", "open:" + coord_ + "/raw", "syscall_write",
                   "write"}),
            (Lines{"fopen ok", "open ok", "syscall_write ok", "write EIO"}));
  EXPECT_EQ(ReadAll(coord_ + "/stdio"), "written through stdio\n");
  EXPECT_EQ(ReadAll(coord_ + "/raw"), "probe data\n");
}

TEST_F(IoErrorPreloadTest, InertWithoutAControlPage) {
  Arm(kAllCalls);
  // LD_PRELOAD alone: nothing is injected, nothing is said.
  EXPECT_EQ(Probe({"open:" + coord_ + "/a", "write", "fsync"}, {}, /*with_control=*/false),
            (Lines{"open ok", "write ok", "fsync ok"}));
  EXPECT_EQ(stderr_, "");
  // A control page that cannot be used: one line on stderr, then inert.
  EXPECT_EQ(Probe({"open:" + coord_ + "/a", "write"},
                  {{FAULTLINE_IOERR_CTL_ENV, tmp_ / "missing.ctl"}, {FAULTLINE_IOERR_SLOT_ENV, "0"}},
                  /*with_control=*/false),
            (Lines{"open ok", "write ok"}));
  EXPECT_NE(stderr_.find("cannot open the control file"), std::string::npos) << stderr_;
  EXPECT_EQ(Injected(FAULTLINE_IOERR_OPEN), 0u);
}

// The coordinator under the layer: a directory fsync that fails after the
// change it was to make durable does not fail the operation (the change has
// happened; coordinator/fs_util.h). swarm submit creates each item with a
// link into items/ and then fsyncs items/.
TEST_F(IoErrorPreloadTest, SwarmSubmitStandsWhenOnlyTheDirectoryFsyncFails) {
  const std::string dir = coord_ + "/swarm";
  ASSERT_TRUE(testing::Run({SWARM_BIN, "init", dir}, tmp_ / "init.log").exit.code == 0)
      << ReadAll(tmp_ / "init.log");
  std::strcpy(page_->path_contains, "/items");  // items/ itself, not the temp files
  Arm(Bit(FAULTLINE_IOERR_FSYNC));
  testing::Exit exit = RunUnderPreload({SWARM_BIN, "submit", dir, "--items", "3"},
                                       {{"ASAN_OPTIONS", "verify_asan_link_order=0"}});
  EXPECT_TRUE(exit.exited && exit.code == 0) << stderr_;
  EXPECT_EQ(testing::CountEntries(dir + "/items"), 3u);
  EXPECT_EQ(testing::CountEntries(dir + "/tmp"), 0u) << "no temp file left";
  EXPECT_EQ(Injected(FAULTLINE_IOERR_FSYNC), 3u) << "one failed fsync of items/ per item";
}

}  // namespace
}  // namespace faultline
