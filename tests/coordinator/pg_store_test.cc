// The PostgreSQL backend's own behaviour, against a private server
// (backend_fixture.h): what the shared contract test cannot show —
// concurrent processes, connections cut mid-operation, the database's clock,
// row locks held by others, schema versions, and the swarm tool on it.
#include <gtest/gtest.h>

#include <map>
#include <regex>

#include "coordinator/pg_store.h"
#include "tests/coordinator/backend_fixture.h"
#include "tests/support/poll.h"
#include "tests/support/subprocess.h"

namespace swarm {
namespace {

using namespace std::chrono_literals;
using faultline::testing::Ran;

class PgStoreTest : public BackendFixture {
 protected:
  // A connection of the test's own, for doing things behind the store's back.
  pg::Connection& Admin() {
    if (!admin_) admin_ = std::make_unique<pg::Connection>(SharedPgServer()->ConnInfo(), 10000);
    return *admin_;
  }
  void Sql(const std::string& sql) {
    auto r = Admin().Exec(sql);
    ASSERT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  }
  std::string S() const { return "\"" + schema_ + "\""; }
  PgStore* pg_store() { return dynamic_cast<PgStore*>(store_.get()); }

  // Ends the connection of the session that first fires a trigger made from
  // `trigger` (CREATE ... TRIGGER cut <trigger> EXECUTE FUNCTION cut()), once;
  // the function returns `returns` (NULL for an AFTER trigger, NEW to go on).
  void CutOnceAt(const std::string& trigger, const std::string& returns) {
    Sql("CREATE SEQUENCE " + S() + ".cut_once");
    Sql("CREATE FUNCTION " + S() + ".cut() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF nextval('" + S() + ".cut_once') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); "
        "END IF; RETURN " + returns + "; END $$");
    Sql("CREATE " + trigger + " EXECUTE FUNCTION " + S() + ".cut()");
  }

  // Ends the store's connection from outside and waits until it is gone.
  void CutConnection() {
    const int pid = pg_store()->backend_pid();
    ASSERT_NE(pid, 0);
    auto r = Admin().Exec("SELECT pg_terminate_backend($1)", {pg::P(pid)});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(faultline::testing::Eventually("the backend has ended", [&] {
      auto n = Admin().Exec("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", {pg::P(pid)});
      return n.ok() && n->Int(0, 0) == 0;
    }, 10s));
  }

  Ran Swarm(const std::vector<std::string>& args, const std::string& log) {
    std::vector<std::string> argv = {SWARM_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return faultline::testing::Run(argv, *dir_ / log, 120s);
  }

  std::unique_ptr<pg::Connection> admin_;
};

TEST_P(PgStoreTest, InitJoinsTheSameSettingsAndRefusesOthersAndOtherVersions) {
  PgLocation where{"", schema_};
  EXPECT_TRUE(PgStore::Init(where, ClusterConfig{}).ok());  // a second host joining
  ClusterConfig other;
  other.lease_ms = 9000;
  Status refused = PgStore::Init(where, other);
  EXPECT_EQ(refused.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(refused.message().find("lease_ms"), std::string::npos) << refused.message();
  Sql("UPDATE " + S() + ".meta SET value = '99' WHERE key = 'store_version'");
  auto opened = PgStore::Open(where, &clock_, &probe_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(opened.status().message().find("store version 99"), std::string::npos)
      << opened.status().message();
  EXPECT_EQ(PgStore::Init(where, ClusterConfig{}).code(), Status::Code::kInvalidArgument);
  auto missing = PgStore::Open(PgLocation{"", "nothing_here"}, &clock_, &probe_);
  EXPECT_EQ(missing.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("swarm init"), std::string::npos);
}

TEST_P(PgStoreTest, ConcurrentAgentProcessesGrantEachItemToOneHolder) {
  const std::string dir = *dir_ / "procs";
  const std::string schema = FreshSchema();
  ASSERT_EQ(Swarm({"init", dir, "--store", "postgres", "--schema", schema}, "init.log").exit.code,
            0);
  ASSERT_EQ(Swarm({"submit", dir, "--items", "200"}, "submit.log").exit.code, 0);
  std::vector<pid_t> agents;
  for (int i = 0; i < 4; ++i) {
    agents.push_back(faultline::testing::Spawn(
        {SWARM_BIN, "agent", dir, "--id", "a" + std::to_string(i), "--exit-when-idle", "-v"},
        *dir_ / ("a" + std::to_string(i) + ".log")));
  }
  std::map<std::string, int> claims;
  const std::regex claimed("claimed (\\S+) \\(token (\\d+)\\)");
  for (int i = 0; i < 4; ++i) {
    auto exit = faultline::testing::WaitFor(agents[i], 120s);
    EXPECT_TRUE(exit.exited && exit.code == 0) << i;
    const std::string log = faultline::testing::ReadAll(*dir_ / ("a" + std::to_string(i) + ".log"));
    for (std::sregex_iterator m(log.begin(), log.end(), claimed), end; m != end; ++m) {
      ++claims[(*m)[1].str()];
    }
  }
  EXPECT_EQ(claims.size(), 200u);
  for (const auto& [item, n] : claims) EXPECT_EQ(n, 1) << item << " was granted " << n << " times";
  Ran dump = Swarm({"dump", dir}, "dump.log");
  ASSERT_EQ(dump.exit.code, 0) << dump.output;
  auto end = nlohmann::json::parse(dump.output);
  EXPECT_EQ(end["completed"], true);
  EXPECT_EQ(end["ledger"], 200);
  EXPECT_EQ(end["items"].size(), 200u);
  Ran status = Swarm({"status", dir}, "status.log");
  EXPECT_NE(status.output.find("200 done"), std::string::npos) << status.output;
}

TEST_P(PgStoreTest, ConcurrentSubmittersAddEveryItem) {
  const std::string dir = *dir_ / "submit";
  ASSERT_EQ(Swarm({"init", dir, "--store", "postgres", "--schema", FreshSchema()}, "init.log")
                .exit.code,
            0);
  pid_t a = faultline::testing::Spawn({SWARM_BIN, "submit", dir, "--items", "200"}, *dir_ / "s1");
  pid_t b = faultline::testing::Spawn({SWARM_BIN, "submit", dir, "--items", "200"}, *dir_ / "s2");
  auto ea = faultline::testing::WaitFor(a, 60s);
  auto eb = faultline::testing::WaitFor(b, 60s);
  ASSERT_TRUE(ea.exited && ea.code == 0) << faultline::testing::ReadAll(*dir_ / "s1");
  ASSERT_TRUE(eb.exited && eb.code == 0) << faultline::testing::ReadAll(*dir_ / "s2");
  Ran dump = Swarm({"dump", dir}, "dump.log");
  auto end = nlohmann::json::parse(dump.output);
  EXPECT_EQ(end["items"].size(), 400u);
}

TEST_P(PgStoreTest, AConnectionCutAtCommitIsAnErrorAndTheRetryCompletesOnce) {
  SubmitItems(1);
  auto out = store_->ClaimNext("a1");
  ASSERT_TRUE(out.ok() && out->grant);
  // At the completion's COMMIT the server ends the connection (once): the
  // answer never comes, and the transaction is rolled back.
  CutOnceAt("CONSTRAINT TRIGGER cut AFTER INSERT ON " + S() +
                ".ledger DEFERRABLE INITIALLY DEFERRED FOR EACH ROW",
            "NULL");
  Status cut = store_->Complete(*out->grant, "r");
  EXPECT_EQ(cut.code(), Status::Code::kIOError) << cut.ToString();
  EXPECT_EQ(probe_.Count("complete_ok"), 0u);
  EXPECT_EQ(Item("w1")["status"], "claimed");
  EXPECT_EQ(Item("w1")["effect"], false);
  // The next operation reconnects; the grant is still current.
  ASSERT_TRUE(store_->Complete(*out->grant, "r").ok());
  EXPECT_EQ(Item("w1")["status"], "done");
  EXPECT_EQ((*store_->EndState())["ledger"], 1);
  EXPECT_EQ(probe_.Count("effect"), 1u);
}

// The connection is cut between the completion's ledger insert and its
// update of the item: the transaction rolls back, so its staged effect must
// go with it, and not come out with the next operation's events (a
// heartbeat's) as a second effect of the item.
TEST_P(PgStoreTest, ACompletionCutBeforeItsUpdateLeavesNoEffectEvent) {
  SubmitItems(1);
  auto out = store_->ClaimNext("a1");
  ASSERT_TRUE(out.ok() && out->grant);
  CutOnceAt("TRIGGER cut BEFORE UPDATE ON " + S() +
                ".items FOR EACH ROW WHEN (NEW.status = 'done')",
            "NEW");
  Status cut = store_->Complete(*out->grant, "r");
  EXPECT_EQ(cut.code(), Status::Code::kIOError) << cut.ToString();
  AgentRecord a = AgentFor("a1");
  a.holding = {"w1"};
  ASSERT_TRUE(store_->Heartbeat(a, nullptr, nullptr).ok());
  EXPECT_EQ(probe_.Count("heartbeat"), 1u);
  EXPECT_EQ(probe_.Count("effect"), 0u);
  ASSERT_TRUE(store_->Complete(*out->grant, "r").ok());
  EXPECT_EQ(probe_.Count("effect"), 1u);
  EXPECT_EQ((*store_->EndState())["ledger"], 1);
}

TEST_P(PgStoreTest, ACompletionWhoseAnswerWasLostIsSettledByTheNextOne) {
  SubmitItems(1);
  auto out = store_->ClaimNext("a1");
  ASSERT_TRUE(out.ok() && out->grant);
  ASSERT_TRUE(store_->Complete(*out->grant, "r").ok());
  // As if that answer had been lost: the agent tries again and is told it
  // succeeded, and no second effect is written.
  ASSERT_TRUE(store_->Complete(*out->grant, "r").ok());
  EXPECT_EQ((*store_->EndState())["ledger"], 1);
  Grant someone_else = *out->grant;
  someone_else.agent = "a2";
  EXPECT_EQ(store_->Complete(someone_else, "r").code(), Status::Code::kStaleToken);
  Grant older = *out->grant;
  older.token -= 1;
  EXPECT_EQ(store_->Complete(older, "r").code(), Status::Code::kStaleToken);
}

// The completion committed but its answer was lost, and the agent's
// heartbeat comes before its retry: the item, done under this very grant, is
// not lost to another holder. The retry then reports the effect (a freerun
// history with a connection reset at COMMIT once had it in the ledger with
// no effect event, because the heartbeat had given the item up).
TEST_P(PgStoreTest, AnItemDoneUnderTheHeldGrantIsNotLostToTheHeartbeat) {
  SubmitItems(1);
  auto out = store_->ClaimNext("a1");
  ASSERT_TRUE(out.ok() && out->grant);
  ASSERT_TRUE(store_->Complete(*out->grant, "r").ok());
  AgentRecord a = AgentFor("a1");
  a.holding = {"w1"};
  bool lost = false;
  ASSERT_TRUE(store_->Heartbeat(a, &*out->grant, &lost).ok());
  EXPECT_FALSE(lost);
  EXPECT_EQ(probe_.Count("holding_lost"), 0u);
  ASSERT_TRUE(store_->Complete(*out->grant, "r").ok());
  EXPECT_EQ((*store_->EndState())["ledger"], 1);
  // Done under an older grant of the same agent is lost all the same.
  Grant older = *out->grant;
  older.token -= 1;
  a.holding = {"w1"};
  ASSERT_TRUE(store_->Heartbeat(a, &older, &lost).ok());
  EXPECT_TRUE(lost);
  EXPECT_EQ(probe_.Count("holding_lost"), 1u);
}

TEST_P(PgStoreTest, ACutConnectionFailsOneOperationAndTheNextReconnects) {
  SubmitItems(2);
  auto out = store_->ClaimNext("a1");
  ASSERT_TRUE(out.ok() && out->grant);
  CutConnection();
  Grant g = *out->grant;
  Status renewed = store_->Renew(g);
  EXPECT_EQ(renewed.code(), Status::Code::kIOError) << renewed.ToString();
  EXPECT_TRUE(store_->Renew(g).ok());
  CutConnection();
  auto claim = store_->ClaimNext("a1");
  EXPECT_EQ(claim.status().code(), Status::Code::kIOError);
  claim = store_->ClaimNext("a1");
  ASSERT_TRUE(claim.ok() && claim->grant);
  EXPECT_EQ(claim->grant->item, "w2");
}

TEST_P(PgStoreTest, LeasesAreJudgedOnTheDatabasesClockNotTheAgents) {
  OffsetClock right(0), ahead(3600LL * 1000 * 1000);
  faultline::testing::RecordingProbe p1, p2;
  auto holder = OpenAnother(&right, &p1);
  auto early = OpenAnother(&ahead, &p2);
  SubmitItems(1);
  auto g = holder->ClaimNext("a1");
  ASSERT_TRUE(g.ok() && g->grant);
  // Same host: the server's clock is this wall clock, within reason.
  EXPECT_LT(std::llabs(g->grant->lease_until_us - (RealClock::WallMicros() + 3'000'000)),
            60'000'000);
  auto other = early->ClaimNext("a2");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_FALSE(other->grant.has_value()) << "taken over on a clock an hour ahead";
  EXPECT_TRUE(other->work_remaining);
  auto reaped = early->Reap({});
  ASSERT_TRUE(reaped.ok());
  EXPECT_TRUE(reaped->returned.empty());
}

TEST_P(PgStoreTest, ARowHeldByAnotherTransactionIsSkippedNotWaitedFor) {
  SubmitItems(2);
  auto held = store_->Claim("w2", "a1");
  ASSERT_TRUE(held.ok());
  Sql("BEGIN");
  Sql("SELECT 1 FROM " + S() + ".items WHERE id IN ('w1', 'w2') FOR UPDATE");
  auto out = store_->ClaimNext("a2");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_FALSE(out->grant.has_value());
  EXPECT_TRUE(out->work_remaining);
  EXPECT_EQ(store_->Claim("w1", "a2").status().code(), Status::Code::kBusy);
  EXPECT_EQ(store_->Complete(*held, "r").code(), Status::Code::kBusy);
  EXPECT_EQ(probe_.Count("lock_timeout"), 1u);
  Sql("COMMIT");
  out = store_->ClaimNext("a2");
  ASSERT_TRUE(out.ok() && out->grant);
  EXPECT_EQ(out->grant->item, "w1");
  EXPECT_TRUE(store_->Complete(*held, "r").ok());
}

TEST_P(PgStoreTest, EveryCommandOpensTheRecordedBackend) {
  const std::string dir = *dir_ / "cli";
  ASSERT_EQ(Swarm({"init", dir, "--store", "postgres", "--schema", FreshSchema()}, "i.log")
                .exit.code,
            0);
  Ran again = Swarm({"init", dir, "--store", "postgres"}, "i2.log");
  EXPECT_EQ(again.exit.code, 2) << again.output;
  EXPECT_EQ(Swarm({"init", *dir_ / "x", "--store", "mysql://h"}, "i3.log").exit.code, 2);
  EXPECT_EQ(Swarm({"submit", dir, "--items", "3"}, "s.log").exit.code, 0);
  EXPECT_EQ(Swarm({"halt", dir}, "h.log").exit.code, 0);
  Ran halted = Swarm({"agent", dir, "--exit-when-idle"}, "a.log");
  EXPECT_EQ(halted.exit.code, 0);
  EXPECT_EQ(Swarm({"resume", dir}, "r.log").exit.code, 0);
  EXPECT_EQ(Swarm({"configure", dir, "--set", "lease_ms=4000"}, "c.log").exit.code, 0);
  EXPECT_EQ(Swarm({"agent", dir, "--exit-when-idle"}, "a2.log").exit.code, 0);
  EXPECT_EQ(Swarm({"reaper", dir, "--once"}, "rp.log").exit.code, 0);
  Ran cleanup = Swarm({"cleanup", dir}, "cl.log");
  EXPECT_EQ(cleanup.exit.code, 0) << cleanup.output;
  Ran status = Swarm({"status", dir, "--json"}, "st.log");
  ASSERT_EQ(status.exit.code, 0) << status.output;
  auto j = nlohmann::json::parse(status.output.substr(status.output.find('{')));
  EXPECT_EQ(j.dump().find("\"lease_ms\":4000") != std::string::npos, true) << j.dump();
  auto end = nlohmann::json::parse(Swarm({"dump", dir}, "d.log").output);
  EXPECT_EQ(end["completed"], true);
  EXPECT_EQ(end["ledger"], 3);
  // A server that is not there: a clear error, not a hang.
  setenv("PGHOST", (*dir_ / "no-server").c_str(), 1);
  Ran down = Swarm({"status", dir}, "down.log");
  SharedPgServer()->ExportEnvironment();
  EXPECT_EQ(down.exit.code, 1) << down.output;
  EXPECT_NE(down.output.find("database"), std::string::npos) << down.output;
}

// An agent started while its database cannot be reached (a full pool, a
// server that is down or restarting) waits for it with backoff, saying so
// once, instead of exiting; it works as soon as the server is there.
TEST_P(PgStoreTest, AnAgentStartedWhileTheServerIsUnreachableWaitsForIt) {
  const std::string dir = *dir_ / "wait";
  ASSERT_EQ(Swarm({"init", dir, "--store", "postgres", "--schema", FreshSchema()}, "i.log")
                .exit.code,
            0);
  ASSERT_EQ(Swarm({"submit", dir, "--items", "3"}, "s.log").exit.code, 0);
  // The server's socket appears at `later` only when the test says so.
  const std::string later = *dir_ / "later";
  setenv("PGHOST", later.c_str(), 1);
  const std::string log = *dir_ / "agent.log";
  const pid_t agent = faultline::testing::Spawn(
      {SWARM_BIN, "agent", dir, "--id", "a0", "--exit-when-idle", "-v"}, log);
  SharedPgServer()->ExportEnvironment();
  ASSERT_GT(agent, 0);
  faultline::testing::Exit ended;
  bool gone = false;
  ASSERT_TRUE(faultline::testing::Eventually("the agent waits or exits", [&] {
    gone = gone || faultline::testing::Ended(agent, &ended);
    return gone || faultline::testing::ReadAll(log).find("waiting for the database") !=
                       std::string::npos;
  }, 30s));
  ASSERT_FALSE(gone) << "exited " << ended.code << ": " << faultline::testing::ReadAll(log);
  ASSERT_EQ(symlink(SharedPgServer()->host().c_str(), later.c_str()), 0);
  const faultline::testing::Exit exit = faultline::testing::WaitFor(agent, 60s);
  EXPECT_TRUE(exit.exited && exit.code == 0) << faultline::testing::ReadAll(log);
  const std::string out = faultline::testing::ReadAll(log);
  EXPECT_EQ(out.find("waiting for the database"), out.rfind("waiting for the database"))
      << "said once: " << out;
  auto end = nlohmann::json::parse(Swarm({"dump", dir}, "d.log").output);
  EXPECT_EQ(end["ledger"], 3);
}

INSTANTIATE_TEST_SUITE_P(Backends, PgStoreTest, ::testing::Values(BackendKind::kPostgres),
                         BackendName);

}  // namespace
}  // namespace swarm
