// The power_loss fault: its storage model on trees in memory
// (faults/power_model.h), the durability journal the preload keeps in a real
// process (sh, mv, sync under LD_PRELOAD), and the fault against the fake
// context: every process killed at once, the directory rewritten, the
// evidence, a state check, the restart.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "faults/power_model.h"
#include "faults/preload/power_control.h"
#include "tests/faults/fake_fault_context.h"
#include "tests/support/subprocess.h"

namespace faultline::testing {
namespace {

using json = nlohmann::json;
using namespace faults::power;
namespace stdfs = std::filesystem;

Record Op(char kind, uint64_t seq, uint64_t ino, const std::string& dir, const std::string& name) {
  Record r;
  r.kind = kind;
  r.seq = seq;
  r.ino = ino;
  r.dir = dir;
  r.name = name;
  return r;
}
Record Content(char kind, uint64_t seq, uint64_t ino, const std::string& data) {
  Record r;
  r.kind = kind;
  r.seq = seq;
  r.ino = ino;
  r.data = data;
  return r;
}
Record DirSync(uint64_t seq, const std::string& dir, Listing entries) {
  Record r;
  r.kind = 'S';
  r.seq = seq;
  r.dir = dir;
  r.entries = std::move(entries);
  return r;
}

// The atomic write of the reference: tmp/1 (ino 7) written, fsynced (or
// not), renamed over items/a (ino 5, "old"), items/ fsynced (or not).
struct AtomicWrite {
  Tree baseline, live;
  std::vector<Record> records;
  AtomicWrite(bool fsync_file, bool fsync_dir) {
    baseline.dirs["."] = {{"items", {2, 'd'}}, {"tmp", {3, 'd'}}};
    baseline.dirs["items"] = {{"a", {5, 'f'}}};
    baseline.dirs["tmp"] = {};
    baseline.content[5] = "old";
    live = baseline;
    live.dirs["items"] = {{"a", {7, 'f'}}};
    live.content.erase(5);
    live.content[7] = "new!";
    records.push_back(Op('N', 1, 7, "tmp", "1"));
    if (fsync_file) records.push_back(Content('F', 2, 7, "new!"));
    records.push_back(Op('U', 3, 7, "tmp", "1"));
    records.push_back(Op('L', 3, 7, "items", "a"));
    records.back().type = 'f';
    records.push_back(Content('C', 3, 5, "old"));
    if (fsync_dir) records.push_back(DirSync(4, "items", {{"a", {7, 'f'}}}));
  }
  CrashState Crash(Unsynced u, UnsyncedOps ops, uint64_t seed = 1) const {
    Rng rng(seed);
    return Reconstruct(baseline, records, live, u, ops, rng);
  }
};

TEST(PowerModelTest, AFullySyncedAtomicWriteSurvivesWhateverIsDrawn) {
  AtomicWrite w(/*fsync_file=*/true, /*fsync_dir=*/true);
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    CrashState s = w.Crash(Unsynced::kAny, UnsyncedOps::kPrefix, seed);
    EXPECT_EQ(s.files.at("items/a"), "new!") << seed;
    EXPECT_TRUE(s.rolled_back.empty() && s.torn.empty()) << seed;
  }
}

TEST(PowerModelTest, AnUnsyncedRenameIsUndoneAndTheOldFileComesBack) {
  AtomicWrite w(/*fsync_file=*/true, /*fsync_dir=*/false);
  CrashState s = w.Crash(Unsynced::kDrop, UnsyncedOps::kUndo);
  EXPECT_EQ(s.files.at("items/a"), "old");
  EXPECT_FALSE(s.files.count("tmp/1")) << "nor was the temp file's creation durable";
  EXPECT_EQ(s.ops_undone, (std::vector<std::string>{"+items/a", "+tmp/1", "-tmp/1"}));
  CrashState kept = w.Crash(Unsynced::kDrop, UnsyncedOps::kKeep);
  EXPECT_EQ(kept.files.at("items/a"), "new!");
  EXPECT_FALSE(kept.files.count("tmp/1"));
}

TEST(PowerModelTest, AnUnsyncedFileRenamedIntoPlaceComesBackEmptyOrTorn) {
  AtomicWrite w(/*fsync_file=*/false, /*fsync_dir=*/true);
  CrashState dropped = w.Crash(Unsynced::kDrop, UnsyncedOps::kPrefix);
  EXPECT_EQ(dropped.files.at("items/a"), "") << "the ext4 zero-length file after rename";
  EXPECT_EQ(dropped.rolled_back, (std::vector<std::string>{"items/a"}));
  std::set<std::string> seen;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    CrashState torn = w.Crash(Unsynced::kTorn, UnsyncedOps::kPrefix, seed);
    const std::string& got = torn.files.at("items/a");
    EXPECT_EQ(std::string("new!").rfind(got, 0), 0u) << "a prefix of the new data: " << got;
    seen.insert(got);
  }
  EXPECT_GE(seen.size(), 3u) << "the cut is drawn";
  EXPECT_EQ(w.Crash(Unsynced::kKeep, UnsyncedOps::kPrefix).files.at("items/a"), "new!");
}

TEST(PowerModelTest, ATornOverwriteMixesNewAndOldData) {
  Tree base;
  base.dirs["."] = {{"f", {9, 'f'}}};
  base.content[9] = "AAAAAAAA";
  Tree live = base;
  live.content[9] = "bbb";
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Rng rng(seed);
    CrashState s = Reconstruct(base, {}, live, Unsynced::kTorn, UnsyncedOps::kPrefix, rng);
    const std::string& got = s.files.at("f");
    const size_t k = got.find('A') == std::string::npos ? got.size() : got.find('A');
    EXPECT_EQ(got, std::string("bbb").substr(0, k) + std::string("AAAAAAAA").substr(k)) << got;
  }
}

TEST(PowerModelTest, TheSameDrawsGiveTheSameStateWhateverTheInodeNumbers) {
  AtomicWrite a(false, false), b(false, false);
  // b: the same history with other inode numbers.
  for (Record& r : b.records) r.ino += 100;
  b.baseline.dirs["items"]["a"].ino += 100;
  b.baseline.content = {{105, "old"}};
  b.live.dirs["items"]["a"].ino += 100;
  b.live.content = {{107, "new!"}};
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    CrashState x = a.Crash(Unsynced::kAny, UnsyncedOps::kPrefix, seed);
    CrashState y = b.Crash(Unsynced::kAny, UnsyncedOps::kPrefix, seed);
    EXPECT_EQ(x.files, y.files) << seed;
    EXPECT_EQ(x.ops_undone, y.ops_undone) << seed;
  }
}

// --- the journal, kept by the preload in real processes ---------------------

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

std::string WritePage(const TempDir& tmp, const std::string& dir, const std::string& journal) {
  faultline_power_control page{};
  page.magic = FAULTLINE_POWER_MAGIC;
  page.version = FAULTLINE_POWER_VERSION;
  snprintf(page.dir, sizeof page.dir, "%s", dir.c_str());
  snprintf(page.dir_resolved, sizeof page.dir_resolved, "%s",
           stdfs::canonical(dir).string().c_str());
  snprintf(page.journal_dir, sizeof page.journal_dir, "%s", journal.c_str());
  const std::string path = tmp / "power.ctl";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(&page), sizeof page);
  return path;
}

TEST(PowerJournalTest, RecordsCreatesRenamesAndWhatEachFsyncMadeDurable) {
  TempDir tmp;
  const std::string dir = tmp / "coord";
  const std::string journal = tmp / "journal";
  stdfs::create_directories(dir);
  stdfs::create_directories(journal);
  const std::string ctl = WritePage(tmp, dir, journal);
  const std::string script = "cd " + dir +
                             " && printf draft > a.tmp && sync a.tmp && printf final > a.tmp && "
                             "mv a.tmp a && printf x > b && sync . && rm b";
  Ran ran =
      testing::Run({"/usr/bin/env", "LD_PRELOAD=" IOERR_PRELOAD,
                    std::string(FAULTLINE_POWER_CTL_ENV) + "=" + ctl, "/bin/sh", "-c", script},
                   tmp / "sh.log", std::chrono::seconds(60));
  ASSERT_TRUE(ran.exit.exited && ran.exit.code == 0) << ran.output;
  std::map<std::string, size_t> offsets;
  bool damaged = false;
  std::vector<Record> records = ReadJournals(journal, &offsets, &damaged);
  EXPECT_FALSE(damaged);
  std::string kinds;
  for (const Record& r : records) kinds += r.kind;
  // a.tmp created, synced with "draft"; renamed to a (U + L); b created; the
  // directory synced; b's content kept and its name removed.
  EXPECT_EQ(kinds, "NFULNSCU") << "records of: " << script;
  ASSERT_EQ(records.size(), 8u);
  EXPECT_EQ(records[1].data, "draft");
  EXPECT_EQ(records[2].seq, records[3].seq) << "a rename is one change";
  EXPECT_EQ(records[3].name, "a");
  EXPECT_EQ(records[5].dir, ".");
  EXPECT_TRUE(records[5].entries.count("a") && records[5].entries.count("b"));
  // The power goes now: the directory was synced with a and b in it, a's
  // inode holds "draft" on disk.
  Tree baseline;
  baseline.dirs["."] = {};
  Tree live = Scan(dir);
  Rng rng(1);
  CrashState s = Reconstruct(baseline, records, live, Unsynced::kDrop, UnsyncedOps::kUndo, rng);
  EXPECT_EQ(s.files, (std::map<std::string, std::string>{{"a", "draft"}, {"b", ""}}));
  EXPECT_EQ(s.ops_undone, (std::vector<std::string>{"-b"}));
  EXPECT_EQ(Apply(dir, live, s), "");
  Tree after = Scan(dir);
  EXPECT_EQ(Flatten(after).files, s.files);
}

// --- the fault against the fake context -------------------------------------

TEST(PowerLossTest, KillsEveryProcessRewritesTheDirectoryAndRestartsThem) {
  ScopedEnv preload("FAULTLINE_IOERR_PRELOAD", IOERR_PRELOAD);
  FakeFaultContext ctx(
      KindNamed("power_loss"),
      {{"at_ms", 300}, {"unsynced", "drop"}, {"unsynced_ops", "undo"}, {"restart_after_ms", 50}},
      FakeRun{.agents = 2});
  const std::string dir = ctx.Path();
  stdfs::create_directories(dir + "/items");
  std::ofstream(dir + "/items/a.json") << "{\"status\":\"pending\"}";
  ctx.Prepare();
  for (const char* p : {"reaper", "a0", "a1"}) {
    EXPECT_EQ(ctx.env(p, "LD_PRELOAD").rfind(IOERR_PRELOAD, 0), 0u) << p;
    EXPECT_NE(ctx.env(p, FAULTLINE_POWER_CTL_ENV), "") << p;
  }
  ctx.Start();
  // What the processes did without a journal: a file nobody synced the
  // directory for, an overwrite nobody fsynced.
  std::ofstream(dir + "/items/b.json") << "{}";
  std::ofstream(dir + "/items/a.json") << "{\"status\":\"do";
  ctx.RunUntil(299'999);
  EXPECT_TRUE(ctx.kills().empty());
  ctx.RunUntil(300'000);
  ASSERT_EQ(ctx.kills().size(), 3u);
  ASSERT_EQ(ctx.landings().size(), 1u);
  const json& d = ctx.landings()[0].details;
  EXPECT_EQ(d["killed"], json({"reaper", "a0", "a1"}));
  EXPECT_EQ(d["trigger"], json({{"at_ms", 300}}));
  EXPECT_EQ(d["rolled_back"], json({"items/a.json"}));
  EXPECT_EQ(ctx.state_checks(), (std::vector<int64_t>{300'000}));
  EXPECT_FALSE(stdfs::exists(dir + "/items/b.json"));
  EXPECT_EQ(ReadAll(dir + "/items/a.json"), "{\"status\":\"pending\"}");
  EXPECT_TRUE(ctx.restarts().empty());
  ctx.RunUntil(350'000);
  EXPECT_EQ(ctx.restarts().size(), 3u);
}

TEST(PowerLossTest, AtAYieldPointKillsTheParkedProcessAmongAll) {
  ScopedEnv preload("FAULTLINE_IOERR_PRELOAD", IOERR_PRELOAD);
  FakeFaultContext ctx(KindNamed("power_loss"), {{"point", "complete.ledger_written"}, {"nth", 2}},
                       FakeRun{.agents = 2});
  ctx.Start();
  EXPECT_FALSE(ctx.Yield("a0", "complete.ledger_written", "w1"));
  EXPECT_FALSE(ctx.Yield("a1", "claim.locked", "w2"));
  EXPECT_TRUE(ctx.Yield("a1", "complete.ledger_written", "w2"));
  EXPECT_EQ(ctx.kills().size(), 3u);
  ASSERT_EQ(ctx.landings().size(), 1u);
  EXPECT_EQ(
      ctx.landings()[0].details["trigger"],
      json({{"point", "complete.ledger_written"}, {"nth", 2}, {"agent", "a1"}, {"item", "w2"}}));
  ctx.SetAlive("a0", true);
  EXPECT_FALSE(ctx.Yield("a0", "complete.ledger_written", "w3")) << "the power goes once";
}

TEST(PowerLossTest, NeedsATimeOrAPoint) {
  FakeFaultContext ctx(KindNamed("power_loss"), json::object());
  ctx.Prepare();
  ASSERT_EQ(ctx.setup_failures().size(), 1u);
  EXPECT_NE(ctx.setup_failures()[0].find("at_ms"), std::string::npos);
}

// --- the power goes at the nth fsync or rename ------------------------------

// Runs `script` in the coordination directory as `proc` would run: with the
// environment the fault gave it in Prepare.
Ran RunAs(FakeFaultContext& ctx, const std::string& proc, const std::string& script) {
  return testing::Run({"/usr/bin/env", "LD_PRELOAD=" + ctx.env(proc, "LD_PRELOAD"),
                       std::string(FAULTLINE_POWER_CTL_ENV) + "=" +
                           ctx.env(proc, FAULTLINE_POWER_CTL_ENV),
                       "/bin/sh", "-c", "cd " + ctx.Path() + " && " + script},
                      ctx.Path() + "/../" + proc + ".log", std::chrono::seconds(60));
}

class PowerLossAtCallTest : public ::testing::TestWithParam<const char*> {};

// Two processes fsync in turn; only fsyncs under items/ count. The second of
// those, made by a1, is the nth: a1 dies there, and with it the power. The
// journal holds that fsync's record only when the power went after it, and
// the file's data survives only then; the call after it never happens.
TEST_P(PowerLossAtCallTest, TheNthMatchingFsyncOfAnyProcessCutsThePower) {
  const std::string moment = GetParam();
  const bool after = moment == "after";
  ScopedEnv preload("FAULTLINE_IOERR_PRELOAD", IOERR_PRELOAD);
  FakeFaultContext ctx(KindNamed("power_loss"),
                       {{"call", "fsync"}, {"nth", 2}, {"path", "items/*"}, {"moment", moment},
                        {"unsynced", "drop"}, {"unsynced_ops", "keep"}, {"restart_after_ms", -1}},
                       FakeRun{.agents = 2});
  stdfs::create_directories(ctx.Path() + "/items");
  ctx.Prepare();
  ASSERT_TRUE(ctx.setup_failures().empty()) << ctx.setup_failures()[0];
  ctx.Start();
  const Ran first = RunAs(ctx, "a0",
                          "printf x > items/x && sync items/x && printf o > other && sync other");
  ASSERT_TRUE(first.exit.exited && first.exit.code == 0) << first.output;
  EXPECT_FALSE(ctx.Died("a0")) << "one matching fsync so far: no power loss";
  EXPECT_TRUE(ctx.kills().empty());

  const Ran second = RunAs(ctx, "a1",
                           "printf y > items/y && sync -d items/y; printf z > items/z && "
                           "sync items/z; echo went on");
  EXPECT_EQ(second.exit.signal, SIGKILL) << second.output;
  EXPECT_EQ(second.output.find("went on"), std::string::npos) << second.output;
  ASSERT_TRUE(ctx.Died("a1"));
  ASSERT_EQ(ctx.kills().size(), 3u);
  ASSERT_EQ(ctx.landings().size(), 1u);
  const json& trigger = ctx.landings()[0].details["trigger"];
  EXPECT_EQ(trigger["call"], "fsync");
  EXPECT_EQ(trigger["nth"], 2);
  EXPECT_EQ(trigger["moment"], moment);
  EXPECT_EQ(trigger["agent"], "a1");
  EXPECT_EQ(trigger["did"], "fdatasync");
  EXPECT_EQ(trigger["file"], "items/y");
  // items/x, other, and items/y only if it was made.
  EXPECT_EQ(trigger["journal"]["fsyncs"], after ? 3 : 2) << trigger.dump();
  EXPECT_EQ(ReadAll(ctx.Path() + "/items/x"), "x");
  EXPECT_EQ(ReadAll(ctx.Path() + "/items/y"), after ? "y" : "");
  EXPECT_FALSE(stdfs::exists(ctx.Path() + "/items/z"));
  EXPECT_FALSE(ctx.Died("a0")) << "the power goes once";
}

INSTANTIATE_TEST_SUITE_P(Moments, PowerLossAtCallTest, ::testing::Values("after", "before"));

TEST(PowerLossTest, TheNthRenameCountsASourceOrTargetThatMatches) {
  ScopedEnv preload("FAULTLINE_IOERR_PRELOAD", IOERR_PRELOAD);
  FakeFaultContext ctx(KindNamed("power_loss"),
                       {{"call", "rename"}, {"nth", 2}, {"path", "items/*.json"},
                        {"unsynced", "keep"}, {"unsynced_ops", "keep"}, {"restart_after_ms", -1}},
                       FakeRun{.agents = 1, .reaper = false});
  stdfs::create_directories(ctx.Path() + "/items");
  ctx.Prepare();
  ctx.Start();
  const Ran ran = RunAs(ctx, "a0",
                        "printf 1 > t && mv t items/a.json && printf 2 > t && mv t b.json && "
                        "printf 3 > t && mv t items/c.json && printf 4 > t && mv t items/d.json");
  EXPECT_EQ(ran.exit.signal, SIGKILL) << ran.output;
  ASSERT_TRUE(ctx.Died("a0"));
  const json& trigger = ctx.landings()[0].details["trigger"];
  EXPECT_EQ(trigger["did"], "rename");
  EXPECT_EQ(trigger["file"], "items/c.json");
  EXPECT_EQ(trigger["from"], "t");
  EXPECT_EQ(trigger["journal"]["renames"], 3) << "b.json's too, which does not match";
  EXPECT_TRUE(stdfs::exists(ctx.Path() + "/items/c.json"));
  EXPECT_FALSE(stdfs::exists(ctx.Path() + "/items/d.json"));
}

TEST(PowerLossTest, TheCallTriggerRefusesWhatCannotWork) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"call", "fsync"}, {"point", "claim.locked"}}, "not both"},
      {{{"at_ms", 100}, {"path", "items/*"}}, "belong to \"call\""},
      {{{"at_ms", 100}, {"moment", "before"}}, "belong to \"call\""},
      {{{"call", "rename"}, {"path", "/items/*"}}, "relative to the coordination directory"},
      {{{"call", "fsync"}, {"path", std::string(300, 'x')}}, "at most 255"},
  };
  for (const auto& [options, why] : cases) {
    FakeFaultContext ctx(KindNamed("power_loss"), options);
    ctx.Prepare();
    ASSERT_EQ(ctx.setup_failures().size(), 1u) << options.dump();
    EXPECT_NE(ctx.setup_failures()[0].find(why), std::string::npos) << ctx.setup_failures()[0];
  }
  FakeFaultContext freerun(KindNamed("power_loss"), {{"call", "fsync"}},
                           FakeRun{.lockstep = false});
  freerun.Prepare();
  ASSERT_EQ(freerun.setup_failures().size(), 1u);
  EXPECT_NE(freerun.setup_failures()[0].find("needs lockstep"), std::string::npos);
}

}  // namespace
}  // namespace faultline::testing
