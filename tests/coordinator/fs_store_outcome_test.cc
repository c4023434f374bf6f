// Item outcomes that must agree with the item's history: a recorded effect
// means finished even when its ledger entry cannot be read, releases are not
// failed attempts, and one unreadable item file stops neither an agent's walk
// nor the reaper's pass. Each test fails on the coordinator before its fix.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "coordinator/fs_store.h"
#include "sim/protocol/control_protocol.h"
#include "tests/coordinator/store_fixture.h"

namespace swarm {
namespace {

namespace point = faultline::protocol::point;
using faultline::testing::CrashHere;

using FsStoreOutcomeTest = StoreFixture;

// Replaces `path` by a directory: opening it works, reading it fails (EISDIR),
// so readers get an I/O error, neither NotFound nor Corrupt — what a failing
// disk gives, without needing privileges the tests may not have.
void MakeUnreadable(const std::string& path) {
  ASSERT_TRUE(fs::Remove(path, /*durable=*/false).ok());
  ASSERT_EQ(mkdir(path.c_str(), 0755), 0);
}

TEST_F(FsStoreOutcomeTest, AnExpiredClaimWhoseLedgerEntryIsDamagedIsDone) {
  SubmitItems(1);
  auto g1 = store_->Claim("w1", "a1");
  ASSERT_TRUE(g1.ok());
  probe_.crash_at = point::kCompleteLedgerWritten;
  EXPECT_THROW((void)store_->Complete(*g1, "first"), CrashHere);
  std::ofstream(path_ + "/ledger/w1.json") << "{damaged";
  clock_.Advance(3'000'000);
  auto report = store_->Reap({});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->recovered, std::vector<std::string>{"w1"});
  EXPECT_TRUE(report->returned.empty());
  const ItemState s = Item("w1");
  EXPECT_EQ(s.status, ItemStatus::kDone);
  EXPECT_NE(s.reason.find("a1 (token 1) died after writing the effect, whose ledger entry cannot "
                          "be read"),
            std::string::npos)
      << s.reason;
  EXPECT_EQ(probe_.Count("complete_recovered"), 1u);
}

TEST_F(FsStoreOutcomeTest, ATakeoverFindingAnUnreadableLedgerEntryMarksTheItemDone) {
  ClusterConfig c;
  c.max_attempts = 1;  // out of attempts too: the recorded effect still wins
  Reopen(c);
  SubmitItems(1);
  auto g1 = store_->Claim("w1", "a1");
  ASSERT_TRUE(g1.ok());
  probe_.crash_at = point::kCompleteLedgerWritten;
  EXPECT_THROW((void)store_->Complete(*g1, "first"), CrashHere);
  MakeUnreadable(path_ + "/ledger/w1.json");
  clock_.Advance(3'000'000);
  EXPECT_EQ(store_->Claim("w1", "a2").status().code(), Status::Code::kConflict);
  EXPECT_EQ(Item("w1").status, ItemStatus::kDone);
}

TEST_F(FsStoreOutcomeTest, ReleasesDoNotCountAgainstMaxAttempts) {
  ClusterConfig c;
  c.max_attempts = 2;
  Reopen(c);
  SubmitItems(1);
  for (int i = 0; i < 3; ++i) {
    auto g = store_->Claim("w1", "a1");
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    ASSERT_TRUE(store_->Release(*g, "agent stopping").ok());
  }
  EXPECT_EQ(Item("w1").attempts, 0);
  ASSERT_TRUE(store_->Claim("w1", "a1").ok());
  clock_.Advance(3'000'000);
  // One failed grant of two allowed: taken over, not dead-lettered.
  auto g2 = store_->Claim("w1", "a2");
  ASSERT_TRUE(g2.ok()) << g2.status().ToString();
  EXPECT_EQ(g2->attempt, 2);
  clock_.Advance(3'000'000);
  EXPECT_EQ(store_->Claim("w1", "a3").status().code(), Status::Code::kConflict);
  EXPECT_EQ(Item("w1").status, ItemStatus::kDead);
  EXPECT_NE(Item("w1").reason.find("expired after 2 attempts of 2"), std::string::npos)
      << Item("w1").reason;
}

TEST_F(FsStoreOutcomeTest, AClaimOfAPendingItemOutOfAttemptsDeadLettersIt) {
  SubmitItems(1);
  ASSERT_TRUE(store_->Claim("w1", "a1").ok());
  clock_.Advance(3'000'000);
  ASSERT_TRUE(store_->Reap({}).ok());
  ASSERT_EQ(Item("w1").status, ItemStatus::kPending);
  ASSERT_EQ(Item("w1").attempts, 1);
  ClusterConfig lowered;
  lowered.max_attempts = 1;
  ASSERT_TRUE(store_->Reconfigure(lowered).ok());
  store_ = OpenStore();
  EXPECT_EQ(store_->Claim("w1", "a2").status().code(), Status::Code::kConflict);
  EXPECT_EQ(Item("w1").status, ItemStatus::kDead);
  EXPECT_NE(Item("w1").reason.find("pending after 1 failed attempts"), std::string::npos)
      << Item("w1").reason;
  EXPECT_EQ(probe_.Count("dead_letter"), 1u);
}

TEST_F(FsStoreOutcomeTest, AWalkPassesOverAnUnreadableItemFile) {
  // Wherever an agent's walk starts, it meets an unreadable item before the
  // readable one unless it starts there: several agent ids cover both.
  for (const char* agent : {"a0", "a1", "a2", "a3", "a4", "a5"}) {
    Reopen(ClusterConfig{});
    SubmitItems(3);
    MakeUnreadable(path_ + "/items/w1.json");
    MakeUnreadable(path_ + "/items/w2.json");
    auto out = store_->ClaimNext(agent);
    ASSERT_TRUE(out.ok()) << agent << ": " << out.status().ToString();
    ASSERT_TRUE(out->grant.has_value()) << agent;
    EXPECT_EQ(out->grant->item, "w3") << agent;
    // Nothing else is claimable: the storage error is reported.
    auto next = store_->ClaimNext(agent);
    EXPECT_EQ(next.status().code(), Status::Code::kIOError) << agent;
  }
}

TEST_F(FsStoreOutcomeTest, OneUnreadableClaimDoesNotStopTheReapersPass) {
  SubmitItems(2);
  ASSERT_TRUE(store_->Claim("w1", "a1").ok());
  ASSERT_TRUE(store_->Claim("w2", "a2").ok());
  clock_.Advance(3'000'000);
  MakeUnreadable(path_ + "/items/w1.json");
  auto report = store_->Reap({});
  EXPECT_EQ(report.status().code(), Status::Code::kIOError);
  EXPECT_EQ(Item("w2").status, ItemStatus::kPending) << "the pass stopped at w1";
}

}  // namespace
}  // namespace swarm
