#include "coordinator/fs_store.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <fstream>

#include "sim/protocol/control_protocol.h"
#include "tests/coordinator/store_fixture.h"

namespace swarm {
namespace {

namespace point = faultline::protocol::point;
using faultline::testing::CrashHere;

using FsStoreTest = StoreFixture;

TEST_F(FsStoreTest, OpenRejectsMissingAndForeignDirectories) {
  auto missing = FsStore::Open(path_ + "-nope", &clock_, &probe_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("swarm init"), std::string::npos);
  faultline::testing::TempDir foreign;
  std::ofstream(foreign / "notes.txt") << "hello";
  auto f = FsStore::Open(foreign.path(), &clock_, &probe_);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("not a swarm coordination directory"), std::string::npos);
  EXPECT_EQ(FsStore::Init(foreign.path(), {}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(FsStore::Init(path_, {}).code(), Status::Code::kInvalidArgument);
}

TEST_F(FsStoreTest, ClaimCompleteWritesOneEffectAndLeavesNoLocks) {
  SubmitItems(3);
  auto out = store_->ClaimNext("a1");
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(out->grant.has_value());
  Grant g = *out->grant;
  EXPECT_EQ(g.token, 1);
  EXPECT_EQ(Item(g.item).status, ItemStatus::kClaimed);
  EXPECT_EQ(Item(g.item).owner, "a1");
  EXPECT_EQ(Count("claims"), 1u);
  ASSERT_TRUE(store_->Complete(g, "r").ok());
  EXPECT_EQ(Item(g.item).status, ItemStatus::kDone);
  EXPECT_EQ(Count("ledger"), 1u);
  EXPECT_EQ(Count("locks"), 0u);
  EXPECT_EQ(Count("claims"), 0u);
  EXPECT_EQ(Count("tmp"), 0u);
  EXPECT_EQ(probe_.Count("effect"), 1u);
}

TEST_F(FsStoreTest, SubmitIsIdempotentAndValidatesIds) {
  SubmitItems(2);
  auto again = store_->Submit({{"w1", "p"}, {"w9", "p"}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 1u);
  EXPECT_EQ(store_->Submit({{"bad/id", ""}}).status().code(), Status::Code::kInvalidArgument);
}

TEST_F(FsStoreTest, GeneratedIdsPassOverIdsTakenByOthers) {
  ASSERT_TRUE(store_->Submit({{"w000002", "mine"}}).ok());
  auto ids = store_->SubmitGenerated("w", 3);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  EXPECT_EQ(*ids, (std::vector<std::string>{"w000003", "w000004", "w000005"}));
  EXPECT_EQ(Item("w000002").payload, "mine");
  EXPECT_EQ(Count("items"), 4u);
  EXPECT_EQ(store_->SubmitGenerated("bad/", 1).status().code(), Status::Code::kInvalidArgument);
}

TEST_F(FsStoreTest, TheClockAnchorIsSharedPerBootWhateverTheWallClockDoes) {
  const int64_t wall = 1'700'000'000'000'000;
  auto first = FsStore::ClockAnchor(path_, "boot-1", wall);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, wall);
  // A process started after the wall clock stepped by +10 s or -1 h reads
  // the same clock as the first: it adopts the stored anchor.
  EXPECT_EQ(*FsStore::ClockAnchor(path_, "boot-1", wall + 10'000'000), wall);
  EXPECT_EQ(*FsStore::ClockAnchor(path_, "boot-1", wall - 3'600'000'000), wall);
  // A new boot anchors afresh (its boot clock starts at zero again).
  EXPECT_EQ(*FsStore::ClockAnchor(path_, "boot-2", wall + 86'400'000'000), wall + 86'400'000'000);
  // A real clock reads the boot clock plus its anchor, not the wall clock.
  RealClock clock;
  clock.SetBootAnchor(0);
  // Read in sequence: the two arguments of one EXPECT are evaluated in an
  // unspecified order, and under load the boot clock moves between them.
  const int64_t before = RealClock::BootMicros();
  const int64_t now = clock.NowMicros();
  const int64_t after = RealClock::BootMicros();
  EXPECT_GE(now, before);
  EXPECT_LE(now, after);
}

TEST_F(FsStoreTest, AGrantedItemIsNotGrantedAgainWhileItsLeaseHolds) {
  SubmitItems(1);
  auto g = store_->Claim("w1", "a1");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(store_->Claim("w1", "a2").status().code(), Status::Code::kConflict);
  auto next = store_->ClaimNext("a2");
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->grant.has_value());
  EXPECT_TRUE(next->work_remaining);
  clock_.Advance(2'999'000);
  EXPECT_EQ(store_->Claim("w1", "a2").status().code(), Status::Code::kConflict);
}

TEST_F(FsStoreTest, ExpiredLeaseIsTakenOverWithAHigherTokenAndTheOldTokenIsFenced) {
  SubmitItems(1);
  auto g1 = store_->Claim("w1", "a1");
  ASSERT_TRUE(g1.ok());
  clock_.Advance(3'000'000);
  auto g2 = store_->Claim("w1", "a2");
  ASSERT_TRUE(g2.ok()) << g2.status().ToString();
  EXPECT_EQ(g2->token, 2);
  EXPECT_EQ(Item("w1").attempts, 2);
  EXPECT_EQ(probe_.Count("takeover"), 1u);
  // The old holder comes back: renew and complete are refused, no effect.
  Grant old = *g1;
  EXPECT_EQ(store_->Renew(old).code(), Status::Code::kStaleToken);
  Status late = store_->Complete(*g1, "late");
  EXPECT_EQ(late.code(), Status::Code::kStaleToken);
  EXPECT_NE(late.message().find("token 1"), std::string::npos) << late.message();
  EXPECT_EQ(Count("ledger"), 0u);
  ASSERT_TRUE(store_->Complete(*g2, "ok").ok());
  auto effect = EffectFromJson(*fs::ReadFile(path_ + "/ledger/w1.json"), "l");
  ASSERT_TRUE(effect.ok());
  EXPECT_EQ(effect->token, 2);
  EXPECT_EQ(effect->agent, "a2");
}

TEST_F(FsStoreTest, CheckGrantTellsAHolderItLostTheItem) {
  SubmitItems(1);
  auto g1 = store_->Claim("w1", "a1");
  ASSERT_TRUE(g1.ok());
  EXPECT_TRUE(store_->CheckGrant(*g1).ok());
  clock_.Advance(3'000'000);
  EXPECT_TRUE(store_->CheckGrant(*g1).ok()) << "expired but not taken over: still current";
  ASSERT_TRUE(store_->Claim("w1", "a2").ok());
  Status lost = store_->CheckGrant(*g1);
  EXPECT_EQ(lost.code(), Status::Code::kStaleToken);
  EXPECT_EQ(probe_.Count("holding_lost"), 1u);
  EXPECT_EQ(Count("locks"), 0u) << "a check takes no lock";
}

TEST_F(FsStoreTest, HeartbeatsCarryHoldingsAndLockTimeoutsAreEvents) {
  AgentRecord a = AgentFor("a1");
  a.holding = {"w1"};
  ASSERT_TRUE(store_->Register(a).ok());
  ASSERT_TRUE(store_->Heartbeat(a, nullptr, nullptr).ok());
  ASSERT_FALSE(probe_.events.empty());
  EXPECT_EQ(probe_.events.back()["holding"], nlohmann::json::array({"w1"}));
  // Someone sits in the agent record's critical section: the heartbeat gives
  // up after its retries and says so.
  auto held = FileLock::TryAcquire(path_ + "/locks/@agent.a1.lock");
  ASSERT_TRUE(held.ok());
  int child = fork();
  if (child == 0) {
    auto again = FsStore::Open(path_, &clock_, &probe_);
    _exit(again.ok() && (*again)->Heartbeat(a, nullptr, nullptr).IsBusy() ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(FsStoreTest, ATakeoverIsRecordedOnlyOnceItsGrantIsWritten) {
  // Regression (found by the disk-full scenario): the takeover event went out
  // before the new grant was written, so a takeover that failed on a full
  // disk still "ended" the old holder's grant in the history.
  SubmitItems(1);
  ASSERT_TRUE(store_->Claim("w1", "a1").ok());
  clock_.Advance(3'000'000);
  probe_.crash_at = point::kClaimMarked;
  EXPECT_THROW((void)store_->Claim("w1", "a2"), CrashHere);
  EXPECT_EQ(probe_.Count("takeover"), 0u);
  EXPECT_EQ(Item("w1").owner, "a1");
  ASSERT_TRUE(store_->Claim("w1", "a2").ok());
  EXPECT_EQ(probe_.Count("takeover"), 1u);
}

TEST_F(FsStoreTest, RenewExtendsTheLease) {
  SubmitItems(1);
  auto g = store_->Claim("w1", "a1");
  ASSERT_TRUE(g.ok());
  clock_.Advance(2'000'000);
  ASSERT_TRUE(store_->Renew(*g).ok());
  EXPECT_EQ(g->lease_until_us, clock_.NowMicros() + 3'000'000);
  clock_.Advance(2'000'000);
  EXPECT_EQ(store_->Claim("w1", "a2").status().code(), Status::Code::kConflict);
  ASSERT_TRUE(store_->Complete(*g, "ok").ok());
}

TEST_F(FsStoreTest, DeadLettersAfterMaxAttemptsWithTheReasonKept) {
  ClusterConfig c;
  c.max_attempts = 2;
  Reopen(c);
  SubmitItems(1);
  ASSERT_TRUE(store_->Claim("w1", "a1").ok());
  clock_.Advance(3'000'000);
  ASSERT_TRUE(store_->Claim("w1", "a2").ok());
  clock_.Advance(3'000'000);
  auto third = store_->Claim("w1", "a3");
  EXPECT_EQ(third.status().code(), Status::Code::kConflict);
  ItemState s = Item("w1");
  EXPECT_EQ(s.status, ItemStatus::kDead);
  EXPECT_NE(s.reason.find("expired after 2 attempts"), std::string::npos) << s.reason;
  EXPECT_NE(s.reason.find("a2"), std::string::npos);
  EXPECT_EQ(Count("claims"), 0u);
  auto next = store_->ClaimNext("a3");
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->work_remaining);
}

TEST_F(FsStoreTest, ReaperReturnsExpiredClaimsOnly) {
  SubmitItems(2);
  auto g1 = store_->Claim("w1", "a1");
  clock_.Advance(1'000'000);
  auto g2 = store_->Claim("w2", "a2");
  ASSERT_TRUE(g1.ok() && g2.ok());
  clock_.Advance(2'500'000);  // w1 expired, w2 not
  auto dry = store_->Reap({.dry_run = true});
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->returned, std::vector<std::string>{"w1"});
  EXPECT_EQ(Item("w1").status, ItemStatus::kClaimed) << "dry run changed state";
  auto report = store_->Reap({});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->returned, std::vector<std::string>{"w1"});
  EXPECT_EQ(Item("w1").status, ItemStatus::kPending);
  EXPECT_EQ(Item("w1").token, 1) << "the token survives the return";
  EXPECT_EQ(Item("w2").status, ItemStatus::kClaimed);
  EXPECT_EQ(Count("claims"), 1u);
  auto again = store_->Claim("w1", "a3");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->token, 2);
}

TEST_F(FsStoreTest, ReaperDeclaresSilentAgentsDeadButNotOnesThatHeartbeated) {
  ASSERT_TRUE(store_->Register(AgentFor("quiet")).ok());
  ASSERT_TRUE(store_->Register(AgentFor("busy")).ok());
  clock_.Advance(2'000'000);
  AgentRecord busy = AgentFor("busy");
  ASSERT_TRUE(store_->Heartbeat(busy, nullptr, nullptr).ok());
  clock_.Advance(1'500'000);  // quiet: 3.5 s silent; busy: 1.5 s
  auto report = store_->Reap({});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->agents_dead, std::vector<std::string>{"quiet"});
  auto snap = store_->Inspect();
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->agents.size(), 2u);
  EXPECT_EQ(snap->agents[0].record.id, "busy");
  EXPECT_EQ(snap->agents[0].record.status, AgentStatus::kAlive);
  EXPECT_EQ(snap->agents[1].record.status, AgentStatus::kDead);
  // A dead agent that heartbeats again is alive again, with an event.
  AgentRecord quiet = AgentFor("quiet");
  ASSERT_TRUE(store_->Heartbeat(quiet, nullptr, nullptr).ok());
  EXPECT_EQ(probe_.Count("agent_back"), 1u);
}

TEST_F(FsStoreTest, CrashAfterLedgerWriteKeepsExactlyOneEffect) {
  SubmitItems(1);
  auto g1 = store_->Claim("w1", "a1");
  ASSERT_TRUE(g1.ok());
  probe_.crash_at = point::kCompleteLedgerWritten;
  EXPECT_THROW((void)store_->Complete(*g1, "first"), CrashHere);
  EXPECT_EQ(Count("ledger"), 1u);
  EXPECT_EQ(Item("w1").status, ItemStatus::kClaimed);
  // Before the lease expires nobody can take it; after, the work is found
  // finished (its effect is in the ledger) and the item is marked done.
  EXPECT_EQ(store_->Claim("w1", "a2").status().code(), Status::Code::kConflict);
  EXPECT_EQ(Item("w1").status, ItemStatus::kClaimed);
  clock_.Advance(3'000'000);
  auto g2 = store_->Claim("w1", "a2");
  EXPECT_EQ(g2.status().code(), Status::Code::kConflict);
  EXPECT_EQ(Count("ledger"), 1u);
  EXPECT_EQ(probe_.Count("complete_recovered"), 1u);
  auto effect = EffectFromJson(*fs::ReadFile(path_ + "/ledger/w1.json"), "l");
  EXPECT_EQ(effect->result, "first");
  EXPECT_EQ(Item("w1").status, ItemStatus::kDone);
  EXPECT_EQ(Item("w1").owner, "a1");
  EXPECT_EQ(Count("claims"), 0u);
}

TEST_F(FsStoreTest, ReaperFinishesAnItemWhoseHolderDiedAfterTheLedgerWrite) {
  SubmitItems(1);
  auto g1 = store_->Claim("w1", "a1");
  ASSERT_TRUE(g1.ok());
  probe_.crash_at = point::kCompleteLedgerWritten;
  EXPECT_THROW((void)store_->Complete(*g1, "first"), CrashHere);
  clock_.Advance(3'000'000);
  auto report = store_->Reap({});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->recovered, std::vector<std::string>{"w1"});
  EXPECT_TRUE(report->returned.empty());
  EXPECT_EQ(Item("w1").status, ItemStatus::kDone);
  EXPECT_NE(Item("w1").reason.find("a1 died after writing the effect"), std::string::npos);
}

TEST_F(FsStoreTest, CrashAtEveryClaimPointLeavesAConsistentState) {
  for (const char* p : {point::kClaimLocked, point::kClaimMarked, point::kClaimStateWritten}) {
    SCOPED_TRACE(p);
    Reopen(ClusterConfig{});
    SubmitItems(1);
    probe_.crash_at = p;
    EXPECT_THROW((void)store_->Claim("w1", "a1"), CrashHere);
    bool granted = std::string(p) == point::kClaimStateWritten;
    EXPECT_EQ(Item("w1").status, granted ? ItemStatus::kClaimed : ItemStatus::kPending);
    clock_.Advance(3'000'000);
    auto report = store_->Reap({});
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(Item("w1").status, ItemStatus::kPending);
    EXPECT_EQ(Count("claims"), 0u);
    EXPECT_EQ(Count("locks"), 0u);
    auto g = store_->Claim("w1", "a2");
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(g->token, granted ? 2 : 1);
  }
}

TEST_F(FsStoreTest, CorruptItemIsQuarantinedAndAccountedFor) {
  SubmitItems(2);
  std::ofstream(path_ + "/items/w1.json", std::ios::trunc) << "{\"id\": \"w1\", \"stat";
  ASSERT_TRUE(store_->Claim("w2", "a1").ok());
  auto out = store_->ClaimNext("a2");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_FALSE(out->grant.has_value());
  ItemState s = Item("w1");
  EXPECT_EQ(s.status, ItemStatus::kQuarantined);
  EXPECT_NE(s.reason.find("quarantine/items.w1.json"), std::string::npos) << s.reason;
  EXPECT_EQ(Count("quarantine"), 1u);
  EXPECT_EQ(probe_.Count("quarantine"), 1u);
}

TEST_F(FsStoreTest, CrashWhileQuarantiningLeavesTheItemAccountedFor) {
  // Regression: quarantine used to move the corrupt file away before writing
  // its replacement; a crash in between left no state file at all.
  SubmitItems(2);
  std::ofstream(path_ + "/items/w1.json", std::ios::trunc) << "{torn";
  probe_.crash_at = point::kQuarantineMoved;
  EXPECT_THROW((void)store_->Claim("w1", "a1"), CrashHere);
  EXPECT_TRUE(fs::Exists(path_ + "/items/w1.json")) << "the item vanished";
  auto fresh = OpenStore();  // a new process meets the item again
  EXPECT_EQ(fresh->Claim("w1", "a2").status().code(), Status::Code::kConflict);
  EXPECT_EQ(Item("w1").status, ItemStatus::kQuarantined);
  auto snap = fresh->Inspect();
  EXPECT_EQ(snap->pending + snap->quarantined, 2u);
  EXPECT_EQ(Count("quarantine"), 2u) << "a copy per attempt; the first was interrupted";
}

TEST_F(FsStoreTest, TheReaperFollowsReconfiguredSettings) {
  SubmitItems(1);
  auto reaper = OpenStore();  // opened with max_attempts 5
  ASSERT_TRUE(store_->Claim("w1", "a1").ok());
  ClusterConfig tighter;
  tighter.max_attempts = 1;
  ASSERT_TRUE(store_->Reconfigure(tighter).ok());
  clock_.Advance(3'000'000);
  auto report = reaper->Reap({});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->dead_lettered, std::vector<std::string>{"w1"});
}

TEST_F(FsStoreTest, CorruptItemWithAnEffectIsRecoveredAsDone) {
  SubmitItems(1);
  auto g = store_->Claim("w1", "a1");
  ASSERT_TRUE(store_->Complete(*g, "r").ok());
  std::ofstream(path_ + "/items/w1.json", std::ios::trunc) << "garbage";
  ASSERT_TRUE(fs::Touch(path_ + "/claims/w1").ok());
  auto report = store_->Reap({});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->quarantined, std::vector<std::string>{"w1"});
  EXPECT_EQ(Item("w1").status, ItemStatus::kDone);
  EXPECT_EQ(Item("w1").owner, "a1");
}

TEST_F(FsStoreTest, CorruptAgentRecordIsQuarantined) {
  ASSERT_TRUE(store_->Register(AgentFor("a1")).ok());
  std::ofstream(path_ + "/agents/a1.json", std::ios::trunc) << "{";
  auto report = store_->Reap({});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->quarantined, std::vector<std::string>{"agents/a1.json"});
  EXPECT_EQ(Count("agents"), 0u);
  EXPECT_EQ(Count("quarantine"), 1u);
}

TEST_F(FsStoreTest, StaleLocksAndOrphanTempsAreCleanedAndStatusSeesThem) {
  SubmitItems(1);
  // A holder that died inside its critical section leaves an unheld lock.
  ASSERT_TRUE(fs::Touch(path_ + "/locks/w1.lock").ok());
  // A writer that died before its rename leaves a temp file (pid 1 << 22 + 1
  // cannot exist).
  ASSERT_TRUE(fs::Touch(path_ + "/tmp/4194305.0.w1.json.tmp").ok());
  auto snap = store_->Inspect();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->locks, 1u);
  EXPECT_EQ(snap->stale_locks, std::vector<std::string>{"w1.lock"});
  EXPECT_EQ(snap->temp_files, 1u);
  auto report = store_->Reap({});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->stale_locks.size(), 1u);
  EXPECT_EQ(report->orphan_temps.size(), 1u);
  EXPECT_EQ(Count("locks"), 0u);
  EXPECT_EQ(Count("tmp"), 0u);
}

TEST_F(FsStoreTest, HaltFile) {
  EXPECT_FALSE(store_->Halted());
  ASSERT_TRUE(store_->SetHalted(true).ok());
  EXPECT_TRUE(store_->Halted());
  EXPECT_TRUE(fs::Exists(path_ + "/HALT"));
  ASSERT_TRUE(store_->SetHalted(false).ok());
  EXPECT_FALSE(store_->Halted());
}

TEST_F(FsStoreTest, RegisterRefusesAnIdHeldByALiveProcess) {
  AgentRecord mine = AgentFor("a1");
  mine.pid = getppid();  // alive, and not us
  ASSERT_TRUE(store_->Register(mine).ok());
  Status s = store_->Register(AgentFor("a1"));
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_NE(s.message().find("already in use"), std::string::npos);
}

TEST_F(FsStoreTest, YieldPointsNameEveryStep) {
  SubmitItems(1);
  auto g = store_->Claim("w1", "a1");
  ASSERT_TRUE(store_->Renew(*g).ok());
  ASSERT_TRUE(store_->Complete(*g, "r").ok());
  std::vector<std::string> expected = {
      "claim.locked w1",    "claim.marked w1",           "claim.state_written w1",
      "renew.locked w1",    "complete.locked w1",        "complete.ledger_written w1",
      "complete.state_written w1"};
  EXPECT_EQ(probe_.yields, expected);
}

TEST_F(FsStoreTest, InspectCountsEverything) {
  SubmitItems(4);
  auto g = store_->Claim("w1", "a1");
  ASSERT_TRUE(store_->Complete(*g, "r").ok());
  ASSERT_TRUE(store_->Claim("w2", "a1").ok());
  auto snap = store_->Inspect();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->pending, 2u);
  EXPECT_EQ(snap->claimed, 1u);
  EXPECT_EQ(snap->done, 1u);
  EXPECT_EQ(snap->ledger_effects, 1u);
  ASSERT_EQ(snap->claims.size(), 1u);
  EXPECT_EQ(snap->claims[0].item, "w2");
  EXPECT_EQ(snap->locks, 0u);
}

// The walk's listing leaves out the items with a ledger entry; an agent's
// walk still starts where it would over the whole listing, so that it meets
// the items left in the same order as before.
TEST_F(FsStoreTest, LedgerEntriesDoNotMoveWhereAWalkStarts) {
  for (const std::string agent : {"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"}) {
    SubmitItems(10);
    auto first = store_->ClaimNext(agent);
    ASSERT_TRUE(first.ok() && first->grant) << agent;
    const std::string k = first->grant->item;
    Reopen(ClusterConfig{});
    SubmitItems(10);
    auto names = fs::ListDir(path_ + "/items");
    ASSERT_TRUE(names.ok());
    int n = 0;
    for (const std::string& name : *names) {
      const std::string id = fs::StripSuffix(name, ".json");
      if (id == k || n++ % 2 == 1) continue;
      Effect e{id, "earlier", 1, 0, "r"};
      ASSERT_TRUE(
          fs::CreateAtomic(path_ + "/tmp", path_ + "/ledger/" + name, ToJson(e).dump()).ok());
    }
    auto again = store_->ClaimNext(agent);
    ASSERT_TRUE(again.ok() && again->grant) << agent;
    EXPECT_EQ(again->grant->item, k) << agent;
    Reopen(ClusterConfig{});
  }
}

// The walk's cache (docs/coordinator.md, "claim"): what it keeps between
// calls never hides claimable work for longer than the rules say.

TEST_F(FsStoreTest, ItemsSubmittedWhileAnAgentWorksAreSeenAtItsNextClaim) {
  SubmitItems(1);
  auto first = store_->ClaimNext("a1");
  ASSERT_TRUE(first.ok() && first->grant);
  // Its listing is fresh (no time has passed); the submission log says
  // items/ grew.
  auto other = OpenStore();
  ASSERT_TRUE(other->Submit({{"x1", "p"}}).ok());
  auto next = store_->ClaimNext("a1");
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(next->grant) << "a submitted item was not seen";
  EXPECT_EQ(next->grant->item, "x1");
}

TEST_F(FsStoreTest, AnItemMadeWithoutALineInTheLogIsFoundBeforeNoWorkIsReported) {
  SubmitItems(1);
  auto first = store_->ClaimNext("a1");
  ASSERT_TRUE(first.ok() && first->grant);
  ASSERT_TRUE(store_->Complete(*first->grant, "r").ok());
  // Made the way a submitter that died before its append leaves it.
  ItemState s;
  s.id = "h1";
  ASSERT_TRUE(fs::CreateAtomic(path_ + "/tmp", path_ + "/items/h1.json", ToJson(s).dump()).ok());
  auto next = store_->ClaimNext("a1");
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(next->grant) << "work left behind: " << next->work_remaining;
  EXPECT_EQ(next->grant->item, "h1");
}

TEST_F(FsStoreTest, AReleasedItemIsClaimableAtOnceThoughTheLeaseAsReadHasNotRunOut) {
  SubmitItems(1);
  auto held = store_->Claim("w1", "a1");
  ASSERT_TRUE(held.ok());
  auto other = OpenStore();
  auto none = other->ClaimNext("a2");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->grant);
  EXPECT_TRUE(none->work_remaining);
  ASSERT_TRUE(store_->Release(*held, "stopping").ok());  // the marker goes with it
  auto next = other->ClaimNext("a2");
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(next->grant) << "a released item was passed over";
  EXPECT_EQ(next->grant->item, "w1");
}

TEST_F(FsStoreTest, AStaleMarkerDelaysAnItemByAtMostTheLeaseAsRead) {
  SubmitItems(1);
  ASSERT_TRUE(store_->Claim("w1", "a1").ok());
  auto other = OpenStore();
  ASSERT_TRUE(other->ClaimNext("a2").ok());
  // The holder gave the item back and died before unlinking its marker.
  ItemState s = Item("w1");
  s.status = ItemStatus::kPending;
  s.owner.clear();
  s.lease_until_us = 0;
  ASSERT_TRUE(fs::WriteAtomic(path_ + "/tmp", path_ + "/items/w1.json", ToJson(s).dump()).ok());
  auto early = other->ClaimNext("a2");
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(early->grant) << "the item was read again although its marker stands";
  EXPECT_TRUE(early->work_remaining);
  clock_.Advance(3'000'000);  // the lease as a2 read it is over
  auto late = other->ClaimNext("a2");
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE(late->grant) << "the item stayed hidden after the lease as read ran out";
  EXPECT_EQ(late->grant->item, "w1");
}

}  // namespace
}  // namespace swarm
