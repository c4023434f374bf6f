// Round trips of the PostgreSQL backend, counted by the harness's relay
// (sim/net_relay.h) between the store and a private server: what each
// operation costs on the network, and the transaction contract of
// pg::Connection that keeps it low (BEGIN with the first statement, COMMIT
// with the last). Every round trip is a wait on the network; on a loaded
// host or a distant server it is what a claim costs. And what a claim costs
// the server: a submit leaves the planner statistics, so that a claim walks
// the pending index instead of sorting the queue.
#include <gtest/gtest.h>

#include "coordinator/pg_conn.h"
#include "coordinator/pg_store.h"
#include "sim/net_relay.h"
#include "tests/coordinator/backend_fixture.h"

namespace swarm {
namespace {

class PgRoundTripsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = SharedPgServer();
    ASSERT_NE(server_, nullptr);
    auto relay = faultline::NetRelay::Start(server_->host() + "/.s.PGSQL.5432", /*hang_ms=*/300);
    ASSERT_TRUE(relay.ok()) << relay.status().message();
    relay_ = std::move(*relay);
    auto port = relay_->AddEndpoint("a0");
    ASSERT_TRUE(port.ok()) << port.status().message();
    conninfo_ = "host=127.0.0.1 port=" + std::to_string(*port) + " user=" + server_->user() +
                " dbname=postgres sslmode=disable gssencmode=disable";
    Admin("CREATE TABLE IF NOT EXISTS rt_rows (id int PRIMARY KEY)");
    Admin("TRUNCATE rt_rows");
  }

  // A statement on a connection of its own, straight to the server.
  void Admin(const std::string& sql) {
    pg::Connection admin(server_->ConnInfo(), 10000);
    auto r = admin.Exec(sql);
    ASSERT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  }
  int64_t Rows() {
    pg::Connection admin(server_->ConnInfo(), 10000);
    auto r = admin.Exec("SELECT count(*) FROM rt_rows");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->Int(0, 0) : -1;
  }
  // Round trips of the connections through the relay since the last call.
  uint64_t Trips() {
    const uint64_t now = relay_->RoundTrips("a0");
    const uint64_t delta = now - seen_;
    seen_ = now;
    return delta;
  }

  faultline::testing::PgServer* server_ = nullptr;
  std::unique_ptr<faultline::NetRelay> relay_;
  std::string conninfo_;
  uint64_t seen_ = 0;
};

TEST_F(PgRoundTripsTest, BeginTravelsWithTheFirstStatementAndCommitWithTheLast) {
  pg::Connection c(conninfo_, 10000);
  ASSERT_TRUE(c.Connect().ok());
  Trips();
  ASSERT_TRUE(c.Begin().ok());
  EXPECT_TRUE(c.in_transaction());
  EXPECT_EQ(Trips(), 0u) << "BEGIN alone is not sent";
  ASSERT_TRUE(c.Exec("INSERT INTO rt_rows VALUES ($1)", {pg::P(1)}).ok());
  EXPECT_EQ(Trips(), 1u) << "BEGIN and the statement in one round trip";
  auto last = c.ExecCommit("INSERT INTO rt_rows VALUES ($1) RETURNING id", {pg::P(2)});
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->Int(0, 0), 2) << "the statement's rows, not COMMIT's";
  EXPECT_EQ(Trips(), 1u) << "the statement and COMMIT in one round trip";
  EXPECT_FALSE(c.in_transaction());
  EXPECT_EQ(Rows(), 2);

  ASSERT_TRUE(c.Begin().ok());
  ASSERT_TRUE(c.Commit().ok());
  c.Begin();
  c.Rollback();
  EXPECT_EQ(Trips(), 0u) << "a transaction without a statement costs nothing";
}

TEST_F(PgRoundTripsTest, TheFirstStatementRunsInsideTheTransactionAlsoWhenItConnects) {
  // The connection is made by the statement that carries BEGIN: the
  // statement must still be inside the transaction, and the rollback undo it.
  pg::Connection c(conninfo_, 10000);
  ASSERT_TRUE(c.Begin().ok());
  ASSERT_TRUE(c.Exec("INSERT INTO rt_rows VALUES ($1)", {pg::P(1)}).ok());
  ASSERT_TRUE(c.Exec("INSERT INTO rt_rows VALUES (2)").ok());  // simple query, in the transaction
  EXPECT_TRUE(c.in_transaction());
  c.Rollback();
  EXPECT_EQ(Rows(), 0);
  // Without parameters BEGIN travels as part of one simple query.
  Trips();
  ASSERT_TRUE(c.Begin().ok());
  ASSERT_TRUE(c.Exec("INSERT INTO rt_rows VALUES (3)").ok());
  EXPECT_EQ(Trips(), 1u);
  c.Rollback();
  EXPECT_EQ(Rows(), 0);
}

TEST_F(PgRoundTripsTest, AFailedLastStatementLeavesTheTransactionOpenAndUncommitted) {
  pg::Connection c(conninfo_, 10000);
  ASSERT_TRUE(c.Begin().ok());
  ASSERT_TRUE(c.Exec("INSERT INTO rt_rows VALUES ($1)", {pg::P(1)}).ok());
  auto dup = c.ExecCommit("INSERT INTO rt_rows VALUES ($1)", {pg::P(1)});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), Status::Code::kConflict) << dup.status().ToString();
  EXPECT_TRUE(c.in_transaction()) << "COMMIT did not run: the caller rolls back";
  c.Rollback();
  EXPECT_EQ(Rows(), 0);
  // The connection is usable afterwards (the pipeline was left).
  auto one = c.Exec("SELECT $1::int", {pg::P(7)});
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->Int(0, 0), 7);
}

TEST_F(PgRoundTripsTest, AClaimTakesTwoRoundTripsAndACompletionTwo) {
  PgLocation where{conninfo_, FreshSchema()};
  ASSERT_TRUE(PgStore::Init(where, ClusterConfig{}).ok());
  FakeClock clock;  // simulated: the lease clock costs no query
  NullProbe probe;
  auto store = PgStore::Open(where, &clock, &probe);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Submit({{"w1", ""}, {"w2", ""}}).ok());
  Trips();
  auto claimed = (*store)->ClaimNext("a0");
  ASSERT_TRUE(claimed.ok() && claimed->grant) << claimed.status().ToString();
  // The search (an expired claim, else a pending item) with BEGIN, the
  // grant with COMMIT.
  EXPECT_EQ(Trips(), 2u);
  ASSERT_TRUE((*store)->Complete(*claimed->grant, "r").ok());
  // The row lock with BEGIN, the effect and the item with COMMIT.
  EXPECT_EQ(Trips(), 2u);
  auto again = (*store)->ClaimNext("a0");
  ASSERT_TRUE(again.ok() && again->grant);
  ASSERT_TRUE((*store)->Complete(*again->grant, "r").ok());
  Trips();
  auto none = (*store)->ClaimNext("a0");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->grant);
  EXPECT_FALSE(none->work_remaining);
  // The search, what remains, the rollback.
  EXPECT_EQ(Trips(), 3u);
}

TEST_F(PgRoundTripsTest, AnExpiredClaimIsTakenBeforeAPendingItem) {
  PgLocation where{conninfo_, FreshSchema()};
  ClusterConfig config;
  ASSERT_TRUE(PgStore::Init(where, config).ok());
  FakeClock clock;
  NullProbe probe;
  auto store = PgStore::Open(where, &clock, &probe);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Submit({{"w1", ""}, {"w2", ""}}).ok());
  auto first = (*store)->ClaimNext("a0");
  ASSERT_TRUE(first.ok() && first->grant);
  EXPECT_EQ(first->grant->item, "w1");
  clock.Advance((config.lease_ms + 1) * 1000);
  Trips();
  auto taken = (*store)->ClaimNext("a1");
  ASSERT_TRUE(taken.ok() && taken->grant) << taken.status().ToString();
  EXPECT_EQ(taken->grant->item, "w1") << "the expired claim first";
  EXPECT_EQ(taken->grant->token, first->grant->token + 1);
  // The search with BEGIN, the ledger (no effect yet), the grant with COMMIT.
  EXPECT_EQ(Trips(), 3u);
  auto next = (*store)->ClaimNext("a1");
  ASSERT_TRUE(next.ok() && next->grant);
  EXPECT_EQ(next->grant->item, "w2");
}

TEST_F(PgRoundTripsTest, ASubmitLeavesStatisticsSoAClaimDoesNotSortTheQueue) {
  PgLocation where{conninfo_, FreshSchema()};
  ASSERT_TRUE(PgStore::Init(where, ClusterConfig{}).ok());
  FakeClock clock;
  NullProbe probe;
  auto store = PgStore::Open(where, &clock, &probe);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto added = (*store)->SubmitGenerated("w", 500);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  pg::Connection admin(server_->ConnInfo(), 10000);
  const std::string items = "\"" + where.schema + "\".items";
  auto tuples = admin.Exec("SELECT reltuples FROM pg_class WHERE oid = $1::regclass",
                           {pg::P(items)});
  ASSERT_TRUE(tuples.ok()) << tuples.status().ToString();
  EXPECT_EQ(tuples->Text(0, 0), "500") << "never analysed: -1";
  // The pending search's shape (pg_store_claim.cc), planned as a claim plans it.
  auto plan = admin.Exec("EXPLAIN SELECT id FROM " + items +
                         " WHERE status = 'pending' AND (skill = '' OR skill = ANY('{}')) "
                         "ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  std::string text;
  for (int r = 0; r < plan->size(); ++r) text += plan->Text(r, 0) + "\n";
  EXPECT_EQ(text.find("Sort"), std::string::npos) << text;
  EXPECT_NE(text.find("items_pending"), std::string::npos) << text;
}

}  // namespace
}  // namespace swarm
