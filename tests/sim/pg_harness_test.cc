// The database server of a run (sim/pg_server.h) and the relay in front of
// it (sim/net_relay.h), against a real PostgreSQL with libpq as the client.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "base/monotonic_clock.h"
#include "sim/net_relay.h"
#include "sim/pg_server.h"
#include "tests/support/poll.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

using namespace std::chrono_literals;

std::string Conninfo(int port) {
  return "host=127.0.0.1 port=" + std::to_string(port) + " user=" + PgServer::kUser +
         " dbname=" + PgServer::kDatabase + " connect_timeout=10";
}

struct Conn {
  explicit Conn(int port) : c(PQconnectdb(Conninfo(port).c_str())) {}
  ~Conn() { PQfinish(c); }
  bool ok() const { return PQstatus(c) == CONNECTION_OK; }
  // The first value of `sql`'s result; "ERROR: ..." on failure.
  std::string Query(const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    std::string out;
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK) {
      out = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "(none)";
    } else if (st == PGRES_COMMAND_OK) {
      out = "OK";
    } else {
      out = std::string("ERROR: ") + PQerrorMessage(c);
    }
    PQclear(r);
    return out;
  }
  PGconn* c;
};

class PgHarnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!FindPostgresBin().ok()) GTEST_SKIP() << FindPostgresBin().status().message();
    ASSERT_FALSE(dir_.path().empty());
    auto server = PgServer::Create(dir_ / "pg", dir_ / "pg.log");
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);
    const base::Status st = server_->Start(30'000);
    ASSERT_TRUE(st.ok()) << st.message();
    auto relay = NetRelay::Start(server_->socket_path(), /*hang_ms=*/300);
    ASSERT_TRUE(relay.ok()) << relay.status().message();
    relay_ = std::move(*relay);
    for (const char* proc : {"a0", "a1", "tool"}) {
      auto port = relay_->AddEndpoint(proc);
      ASSERT_TRUE(port.ok()) << port.status().message();
      (proc == std::string("a0") ? a0_ : proc == std::string("a1") ? a1_ : tool_) = *port;
    }
    Conn tool(tool_);
    ASSERT_TRUE(tool.ok()) << PQerrorMessage(tool.c);
    ASSERT_EQ(tool.Query("CREATE TABLE items (id int PRIMARY KEY, owner text)"), "OK");
    ASSERT_EQ(tool.Query("INSERT INTO items VALUES (1, NULL)"), "OK");
  }
  void TearDown() override {
    relay_.reset();
    if (server_) {
      EXPECT_TRUE(server_->Stop(10'000).ok());
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<PgServer> server_;
  std::unique_ptr<NetRelay> relay_;
  int a0_ = 0, a1_ = 0, tool_ = 0;
};

TEST_F(PgHarnessTest, ForwardsAndCountsRoundTrips) {
  Conn a(a0_);
  ASSERT_TRUE(a.ok()) << PQerrorMessage(a.c);
  const uint64_t before = relay_->RoundTrips("a0");
  EXPECT_EQ(a.Query("SELECT 40 + 2"), "42");
  EXPECT_EQ(a.Query("SELECT count(*) FROM items"), "1");
  EXPECT_EQ(relay_->RoundTrips("a0"), before + 2);
  EXPECT_EQ(relay_->RoundTrips("a1"), 0u);
  std::printf("server: create %.1f ms (template made: %d), start %.1f ms\n",
              server_->create_us() / 1e3, server_->made_template(), server_->start_us() / 1e3);
}

TEST_F(PgHarnessTest, ResetModeResetsAndRefusesUntilUp) {
  Conn a(a0_);
  ASSERT_TRUE(a.ok());
  relay_->SetMode("a0", NetRelay::Mode::kReset);
  EXPECT_EQ(a.Query("SELECT 1").rfind("ERROR", 0), 0u);
  Conn refused(a0_);
  EXPECT_FALSE(refused.ok());
  Conn other(a1_);  // only a0 is cut off
  EXPECT_TRUE(other.ok());
  relay_->SetMode("a0", NetRelay::Mode::kUp);
  Conn again(a0_);
  ASSERT_TRUE(again.ok()) << PQerrorMessage(again.c);
  EXPECT_EQ(again.Query("SELECT 7"), "7");
}

TEST_F(PgHarnessTest, BlackholeHoldsUntilTheClientGivesUp) {
  Conn a(a0_);
  ASSERT_TRUE(a.ok());
  relay_->SetMode("a0", NetRelay::Mode::kBlackhole);
  const int64_t t0 = base::MonotonicMicros();
  EXPECT_EQ(a.Query("SELECT 1").rfind("ERROR", 0), 0u);
  EXPECT_GE(base::MonotonicMicros() - t0, 300'000);  // it hung first
  relay_->SetMode("a0", NetRelay::Mode::kUp);
  Conn again(a0_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.Query("SELECT 8"), "8");
}

// What held in the blackhole passes once the partition heals, like TCP
// retransmission: a transaction open across a partition carries on.
TEST_F(PgHarnessTest, BlackholedIdleTransactionResumesAfterHeal) {
  Conn a(a0_);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a.Query("BEGIN"), "OK");
  ASSERT_EQ(a.Query("UPDATE items SET owner = 'a0' WHERE id = 1"), "OK");
  relay_->SetMode("a0", NetRelay::Mode::kBlackhole);
  Conn b(a1_);
  // a0's row lock is held by the server all through the partition.
  EXPECT_EQ(b.Query("SELECT id FROM items FOR UPDATE SKIP LOCKED"), "(none)");
  relay_->SetMode("a0", NetRelay::Mode::kUp);
  EXPECT_EQ(a.Query("COMMIT"), "OK");
  EXPECT_EQ(b.Query("SELECT owner FROM items WHERE id = 1"), "a0");
}

// A refused connection (the server is down, or the link resets) fails the
// same way every time: at the client's first read, after its start-up packet
// went out, never at that send. Which of the two it was depended on timing
// when the relay reset at the accept, and the error text reaches the trace.
TEST_F(PgHarnessTest, RefusedConnectionsFailTheSameWayEveryTime) {
  auto error_of = [&](int port) {
    Conn c(port);
    EXPECT_FALSE(c.ok());
    const std::string error = PQerrorMessage(c.c);
    // What follows "connection to server at ..., port N failed: ".
    const size_t colon = error.rfind(": ");
    return colon == std::string::npos ? error : error.substr(colon + 2);
  };
  const std::string closed = "server closed the connection unexpectedly";
  relay_->SetMode("a0", NetRelay::Mode::kReset);
  for (int round = 0; round < 50; ++round) {
    EXPECT_EQ(error_of(a0_).rfind(closed, 0), 0u) << "link reset, round " << round;
  }
  relay_->SetMode("a0", NetRelay::Mode::kUp);
  server_->Kill();
  relay_->ResetAll();
  for (int round = 0; round < 50; ++round) {
    EXPECT_EQ(error_of(a1_).rfind(closed, 0), 0u) << "server down, round " << round;
  }
  ASSERT_TRUE(server_->Start(30'000).ok());
  Conn again(a1_);
  ASSERT_TRUE(again.ok()) << PQerrorMessage(again.c);
  EXPECT_EQ(again.Query("SELECT 9"), "9");
}

// A client killed inside a transaction: after Settle, its backend has ended
// and its row locks are free, at once, every time.
TEST_F(PgHarnessTest, SettleWaitsUntilAKilledClientsLocksAreReleased) {
  for (int round = 0; round < 5; ++round) {
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      Conn a(a0_);
      const bool locked = a.ok() && a.Query("BEGIN") == "OK" &&
                          a.Query("SELECT id FROM items WHERE id = 1 FOR UPDATE") == "1";
      const char c = locked ? '1' : '0';
      (void)!write(ready[1], &c, 1);
      pause();
      _exit(0);
    }
    close(ready[1]);
    char c = 0;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    close(ready[0]);
    ASSERT_EQ(c, '1');
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    ASSERT_TRUE(relay_->Settle({"a0"}, 10'000));
    Conn b(a1_);
    EXPECT_EQ(b.Query("SELECT id FROM items FOR UPDATE SKIP LOCKED"), "1") << "round " << round;
  }
}

TEST_F(PgHarnessTest, CrashKeepsCommittedAndRecovers) {
  {
    Conn a(a0_);
    ASSERT_EQ(a.Query("INSERT INTO items VALUES (2, 'acked')"), "OK");
  }
  ASSERT_TRUE(relay_->Settle({}, 10'000));
  server_->Kill();
  EXPECT_FALSE(server_->running());
  EXPECT_FALSE(Conn(a0_).ok());  // nobody answers: refused
  ASSERT_TRUE(server_->Start(30'000).ok());
  Conn b(a1_);
  ASSERT_TRUE(b.ok()) << PQerrorMessage(b.c);
  EXPECT_EQ(b.Query("SELECT owner FROM items WHERE id = 2"), "acked");
  std::printf("restart after crash (recovery) %.1f ms\n", server_->start_us() / 1e3);
}

// A connection attempt with verbose errors (the SQLSTATE in the message):
// what libpq says when it fails, "" when it connects.
std::string ConnectError(int port) {
  PGconn* c = PQconnectStart(Conninfo(port).c_str());
  PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
  PostgresPollingStatusType s = PGRES_POLLING_WRITING;
  while (s != PGRES_POLLING_OK && s != PGRES_POLLING_FAILED && PQstatus(c) != CONNECTION_BAD) {
    pollfd p{PQsocket(c), static_cast<short>(s == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    if (poll(&p, 1, 10'000) <= 0) break;
    s = PQconnectPoll(c);
  }
  const std::string error = PQstatus(c) == CONNECTION_OK ? "" : PQerrorMessage(c);
  PQfinish(c);
  return error;
}

// A connection beyond the limit gets what a full server answers, and libpq
// reports it as from the server: FATAL, SQLSTATE 53300. Open connections
// stay usable, other processes are not limited, and the lift admits again.
TEST_F(PgHarnessTest, ConnectionLimitRefusesAsAFullServer) {
  Conn a(a0_);
  ASSERT_TRUE(a.ok());
  relay_->LimitConnections({"a0", "a1"}, 1);
  const std::string error = ConnectError(a1_);
  EXPECT_NE(error.find("FATAL:  53300: sorry, too many clients already"), std::string::npos)
      << error;
  Conn refused(a1_);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(std::string(PQerrorMessage(refused.c)).find("sorry, too many clients already"),
            std::string::npos);
  EXPECT_EQ(relay_->LimitRefusals("a1"), 2u);
  EXPECT_EQ(relay_->stats().limit_refusals, 2u);
  EXPECT_EQ(a.Query("SELECT 5"), "5") << "an open connection stays";
  EXPECT_EQ(ConnectError(tool_), "") << "the tool is not limited";
  EXPECT_NE(ConnectError(a0_).find("53300"), std::string::npos)
      << "a second connection of a0 is beyond the limit too";
  relay_->LimitConnections({}, -1);
  Conn again(a1_);
  ASSERT_TRUE(again.ok()) << PQerrorMessage(again.c);
  EXPECT_EQ(again.Query("SELECT 6"), "6");
}

// A client that closes its connection and opens a new one at once (libpq's
// reconnect) has given its place back, every time: in lockstep the decision
// depends on who holds connections, not on when the relay saw the close.
TEST_F(PgHarnessTest, ConnectionLimitCountsACloseBeforeTheNextConnect) {
  relay_->LimitConnections({"a0", "a1"}, 1);
  for (int round = 0; round < 50; ++round) {
    {
      Conn first(round % 2 == 0 ? a0_ : a1_);
      ASSERT_TRUE(first.ok()) << "round " << round << ": " << PQerrorMessage(first.c);
      EXPECT_EQ(first.Query("SELECT 1"), "1");
      EXPECT_NE(ConnectError(a1_).find("53300"), std::string::npos) << "round " << round;
    }
  }
  EXPECT_EQ(relay_->LimitRefusals("a1"), 50u);
}

// Lines of /proc/sysvipc/shm: the System V segments of this IPC namespace.
size_t SysvSegments() {
  FILE* f = std::fopen("/proc/sysvipc/shm", "r");
  if (f == nullptr) return 0;
  size_t lines = 0;
  for (int c; (c = std::fgetc(f)) != EOF;) lines += c == '\n';
  std::fclose(f);
  return lines;
}

// A killed server leaves no shared memory segment behind (as root it has an
// IPC namespace of its own, which goes with its last process).
TEST_F(PgHarnessTest, KilledServerLeavesNoSharedMemory) {
  if (geteuid() != 0) GTEST_SKIP() << "without root the server shares this IPC namespace";
  const size_t before = SysvSegments();
  testing::TempDir other;
  auto second = PgServer::Create(other / "pg", other / "pg.log");
  ASSERT_TRUE(second.ok()) << second.status().message();
  ASSERT_TRUE((*second)->Start(30'000).ok());
  EXPECT_EQ(SysvSegments(), before) << "the server's segment is in its own namespace";
  (*second)->Kill();
  EXPECT_EQ(SysvSegments(), before);
  EXPECT_FALSE(std::filesystem::exists(other / "pg/data/pg_dynshmem/none"));
}

TEST_F(PgHarnessTest, CleanRestart) {
  Conn a(a0_);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(server_->Stop(10'000).ok());
  relay_->ResetAll();
  EXPECT_EQ(a.Query("SELECT 1").rfind("ERROR", 0), 0u);
  ASSERT_TRUE(server_->Start(30'000).ok());
  Conn b(a0_);
  EXPECT_EQ(b.Query("SELECT count(*) FROM items"), "1");
}

}  // namespace
}  // namespace faultline
