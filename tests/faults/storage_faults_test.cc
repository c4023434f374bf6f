// Unit tests of the faults that act on storage — disk_full, corrupt_file,
// io_error — against the fake context, on real files of its scratch
// directory. disk_full's private tmpfs needs privileges a unit test does not
// assume: here the full disk is /dev/full behind the ballast's name, which
// tests the fault's decisions and evidence; tests/sim/faultline_cli_test.cc
// fills a real tmpfs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "faults/preload/io_error_control.h"
#include "tests/faults/fake_fault_context.h"
#include "tests/support/subprocess.h"

namespace faultline::testing {
namespace {

using json = nlohmann::json;
namespace stdfs = std::filesystem;

// --- disk_full --------------------------------------------------------------

TEST(DiskFullTest, AsksForAPrivateTmpfsOfItsSize) {
  FakeFaultContext ctx(KindNamed("disk_full"), {{"size_mb", 8}, {"at_ms", 0}});
  EXPECT_EQ(ctx.fault().PrivateTmpfsMb(), 8);
}

TEST(DiskFullTest, FillsUntilTheDiskIsFullAndRemovesTheBallastLater) {
  FakeFaultContext ctx(KindNamed("disk_full"),
                       {{"at_ms", 300}, {"duration_ms", 400}, {"count", 2}, {"every_ms", 1000}});
  const std::string ballast = ctx.ScratchDir() + "/ballast";
  // Every write to the ballast answers ENOSPC, as a full disk does.
  ASSERT_EQ(symlink("/dev/full", ballast.c_str()), 0) << std::strerror(errno);
  ctx.Start();
  ctx.RunUntil(300'000);
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details,
            (json{{"filled_bytes", 0}, {"error", std::strerror(ENOSPC)}, {"at_us", 300'000}}));
  ctx.RunUntil(699'999);
  EXPECT_TRUE(stdfs::is_symlink(ballast));
  ctx.RunUntil(700'000);
  EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(ballast))) << "healed: the ballast is gone";
  ASSERT_EQ(ctx.landings().size(), 2u);
  EXPECT_EQ(ctx.landings()[1].details, (json{{"healed", true}, {"at_us", 700'000}}));
  EXPECT_EQ(ctx.timers_set().size(), 3u);  // two fills, one heal so far
}

TEST(DiskFullTest, AFailureOtherThanAFullDiskDoesNotLand) {
  FakeFaultContext ctx(KindNamed("disk_full"), {{"at_ms", 0}});
  // The ballast's name is taken by a directory: it cannot be opened.
  stdfs::create_directory(ctx.ScratchDir() + "/ballast");
  ctx.Start();
  ctx.RunUntil(100'000'000);
  EXPECT_TRUE(ctx.landings().empty());
  EXPECT_EQ(ctx.timers_set().size(), 1u) << "no heal for a fill that did not happen";
  EXPECT_TRUE(stdfs::is_directory(ctx.ScratchDir() + "/ballast"));
}

// --- corrupt_file -----------------------------------------------------------

void WriteState(const std::string& path, const std::string& status) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream(path) << json{{"status", status}, {"payload", std::string(40, 'x')}}.dump();
}

class CorruptFileTest : public ::testing::Test {
 protected:
  // items: two pending, one claimed, one unreadable; agents: one alive, one dead.
  void Populate(FakeFaultContext& ctx) {
    const std::string coord = ctx.Path();
    WriteState(coord + "/items/w000002.json", "pending");
    WriteState(coord + "/items/w000001.json", "pending");
    WriteState(coord + "/items/w000003.json", "claimed");
    std::ofstream(coord + "/items/w000004.json") << "{not json";
    WriteState(coord + "/agents/a0.json", "alive");
    WriteState(coord + "/agents/a1.json", "dead");
    for (const auto& entry : stdfs::recursive_directory_iterator(coord)) {
      if (entry.is_regular_file()) before_[entry.path().string()] = ReadAll(entry.path().string());
    }
  }
  // The files whose content changed.
  std::vector<std::string> Changed() const {
    std::vector<std::string> changed;
    for (const auto& [path, content] : before_) {
      if (ReadAll(path) != content) changed.push_back(path);
    }
    return changed;
  }
  std::map<std::string, std::string> before_;
};

TEST_F(CorruptFileTest, GarblesTheFirstBytesOfARandomPendingItem) {
  FakeFaultContext ctx(KindNamed("corrupt_file"),
                       {{"target", "pending_item"}, {"how", "garble"}, {"at_ms", 100}});
  Populate(ctx);
  // Candidates in sorted order.
  const std::vector<std::string> pending = {"w000001.json", "w000002.json"};
  const std::string victim = "items/" + pending[ctx.stream().Index(2)];
  ctx.Start();
  ctx.RunUntil(1'000'000);
  const std::string path = ctx.Path() + "/" + victim;
  EXPECT_EQ(Changed(), std::vector<std::string>{path});
  const std::string now = ReadAll(path);
  EXPECT_EQ(now.substr(0, 10), std::string("\x01\x7f{garbled", 10));
  EXPECT_EQ(now.size(), before_[path].size()) << "garbled in place, not cut";
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details,
            (json{{"file", victim}, {"how", "garble"}, {"at_us", 100'000}}));
}

TEST_F(CorruptFileTest, TruncatesAClaimedItemToHalf) {
  FakeFaultContext ctx(KindNamed("corrupt_file"),
                       {{"target", "claimed_item"}, {"how", "truncate"}, {"at_ms", 0}});
  Populate(ctx);
  ctx.Start();
  ctx.RunUntil(0);
  const std::string path = ctx.Path() + "/items/w000003.json";
  EXPECT_EQ(Changed(), std::vector<std::string>{path});
  EXPECT_EQ(ReadAll(path), before_[path].substr(0, before_[path].size() / 2));
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details["file"], "items/w000003.json");
}

TEST_F(CorruptFileTest, AgentTargetsOnlyLiveAgentsRecords) {
  FakeFaultContext ctx(KindNamed("corrupt_file"), {{"target", "agent"}, {"at_ms", 0}});
  Populate(ctx);
  ctx.Start();
  ctx.RunUntil(0);
  EXPECT_EQ(Changed(), std::vector<std::string>{ctx.Path() + "/agents/a0.json"});
  EXPECT_EQ(ctx.landings().size(), 1u);
}

TEST_F(CorruptFileTest, NothingOfThatKindNothingLands) {
  FakeFaultContext ctx(KindNamed("corrupt_file"),
                       {{"target", "claimed_item"}, {"at_ms", 0}, {"count", 2}, {"every_ms", 5}});
  ctx.Start();
  ctx.RunUntil(1'000'000);  // an empty coordination directory
  EXPECT_TRUE(ctx.landings().empty());
  EXPECT_EQ(ctx.rng().state(), ctx.stream().state()) << "no candidate, no draw";
}

// --- io_error ---------------------------------------------------------------

// Sets an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The control page the fault wrote, mapped as the preload maps it.
class MappedPage {
 public:
  explicit MappedPage(const std::string& path) {
    int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    void* mapped = fd < 0 ? MAP_FAILED
                          : mmap(nullptr, sizeof(faultline_ioerr_control), PROT_READ | PROT_WRITE,
                                 MAP_SHARED, fd, 0);
    if (fd >= 0) close(fd);
    page_ = mapped == MAP_FAILED ? nullptr : static_cast<faultline_ioerr_control*>(mapped);
  }
  ~MappedPage() {
    if (page_ != nullptr) munmap(page_, sizeof(faultline_ioerr_control));
  }
  faultline_ioerr_control* get() { return page_; }
  bool armed() const { return __atomic_load_n(&page_->armed, __ATOMIC_SEQ_CST) != 0; }
  // What the preload does when it fails a call of `proc`'s slot.
  void Inject(int slot, faultline_ioerr_kind kind, uint64_t n) {
    __atomic_add_fetch(&page_->injected[slot][kind], n, __ATOMIC_SEQ_CST);
  }

 private:
  faultline_ioerr_control* page_ = nullptr;
};

TEST(IoErrorTest, GivesTheVictimsThePreloadAndArmsAndDisarmsItsPage) {
  ScopedEnv preload("FAULTLINE_IOERR_PRELOAD", IOERR_PRELOAD);
  FakeFaultContext ctx(KindNamed("io_error"),
                       {{"agents", 2},
                        {"reaper", true},
                        {"calls", json::array({"write", "rename"})},
                        {"errno", "ENOSPC"},
                        {"at_ms", 100},
                        {"duration_ms", 50},
                        {"count", 2},
                        {"every_ms", 1000}},
                       {.agents = 4});
  Rng draws = ctx.stream();
  std::vector<std::string> pool = ctx.List("agent");
  std::vector<std::string> victims;
  for (int i = 0; i < 2; ++i) {
    const size_t pick = draws.Index(pool.size());
    victims.push_back(pool[pick]);
    pool.erase(pool.begin() + static_cast<long>(pick));
  }
  victims.push_back("reaper");
  ctx.Prepare();
  ASSERT_TRUE(ctx.setup_failures().empty()) << ctx.setup_failures()[0];

  const std::string page_path = ctx.dir() / "fault0-io_error-0.ctl";
  for (size_t slot = 0; slot < victims.size(); ++slot) {
    const std::string& v = victims[slot];
    EXPECT_EQ(ctx.env(v, "LD_PRELOAD").rfind(IOERR_PRELOAD, 0), 0u)
        << v << ": " << ctx.env(v, "LD_PRELOAD");
    EXPECT_EQ(ctx.env(v, FAULTLINE_IOERR_CTL_ENV), page_path) << v;
    EXPECT_EQ(ctx.env(v, FAULTLINE_IOERR_SLOT_ENV), std::to_string(slot)) << v;
    EXPECT_NE(ctx.env(v, "ASAN_OPTIONS").find("verify_asan_link_order=0"), std::string::npos);
  }
  for (const std::string& a : pool) EXPECT_TRUE(ctx.process(a).env.empty()) << a;

  MappedPage page(page_path);
  ASSERT_NE(page.get(), nullptr);
  EXPECT_EQ(page.get()->magic, FAULTLINE_IOERR_MAGIC);
  EXPECT_EQ(page.get()->error, ENOSPC);
  EXPECT_EQ(page.get()->calls, (1u << FAULTLINE_IOERR_WRITE) | (1u << FAULTLINE_IOERR_RENAME));
  EXPECT_EQ(std::string(page.get()->dir), ctx.Path());
  EXPECT_FALSE(page.armed());

  ctx.Start();
  ctx.RunUntil(100'000);
  EXPECT_TRUE(page.armed());
  page.Inject(1, FAULTLINE_IOERR_WRITE, 3);
  page.Inject(2, FAULTLINE_IOERR_RENAME, 1);
  ctx.RunUntil(150'000);
  EXPECT_FALSE(page.armed());
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(ctx.landings()[0].details,
            (json{{"when", "disarmed"},
                  {"errno", "ENOSPC"},
                  {"armed_at_us", 100'000},
                  {"at_us", 150'000},
                  {"injected", 4},
                  {"by_call", {{"write", 3}, {"rename", 1}}},
                  {"by_process", {{victims[1], {{"write", 3}}}, {"reaper", {{"rename", 1}}}}}}));

  // A window that hit nothing is no landing; errors counted after the last
  // report are reported at the end.
  ctx.RunUntil(1'150'000);
  EXPECT_EQ(ctx.landings().size(), 1u);
  page.Inject(0, FAULTLINE_IOERR_WRITE, 2);
  ctx.Finish();
  ASSERT_EQ(ctx.landings().size(), 2u);
  EXPECT_EQ(ctx.landings()[1].details["when"], "run_end");
  EXPECT_EQ(ctx.landings()[1].details["injected"], 2);
  EXPECT_EQ(ctx.landings()[1].details["by_process"], (json{{victims[0], {{"write", 2}}}}));
}

TEST(IoErrorTest, OverlappingWindowsDisarmAtTheLastClose) {
  ScopedEnv preload("FAULTLINE_IOERR_PRELOAD", IOERR_PRELOAD);
  FakeFaultContext ctx(
      KindNamed("io_error"),
      {{"agents", 1}, {"at_ms", 0}, {"duration_ms", 150}, {"count", 2}, {"every_ms", 100}});
  ctx.Start();
  MappedPage page(ctx.dir() / "fault0-io_error-0.ctl");
  ASSERT_NE(page.get(), nullptr);
  ctx.RunUntil(150'000);  // armed at 0 and 100 ms; the first window closed
  EXPECT_TRUE(page.armed());
  ctx.RunUntil(250'000);
  EXPECT_FALSE(page.armed());
}

TEST(IoErrorTest, WithoutItsPreloadLibraryTheSetupFails) {
  ScopedEnv preload("FAULTLINE_IOERR_PRELOAD", "/nonexistent/libfaultline_ioerr.so");
  FakeFaultContext ctx(KindNamed("io_error"), {{"at_ms", 0}});
  ctx.Start();
  ASSERT_EQ(ctx.setup_failures().size(), 1u);
  EXPECT_NE(ctx.setup_failures()[0].find("cannot find its preload library"), std::string::npos);
  EXPECT_NE(ctx.setup_failures()[0].find("/nonexistent/"), std::string::npos);
  for (const std::string& p : ctx.List("")) EXPECT_TRUE(ctx.process(p).env.empty()) << p;
  EXPECT_TRUE(ctx.timers_set().empty());
}

}  // namespace
}  // namespace faultline::testing
