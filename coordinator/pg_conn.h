// One libpq connection of the PostgreSQL backend (pg_store.h), with the
// error contract the Store needs:
// - Every wait on the server is bounded by a deadline on the real clock
//   (`timeout_ms`): a server that does not answer (a partition that drops
//   packets, a stopped server) costs at most that long, then the connection
//   is dropped and the call returns IOError. libpq alone would wait forever
//   on a silent peer.
// - A lost connection is IOError and is re-established by the next call
//   (Connect is implicit in Exec), never retried inside the call: the caller
//   decides whether the operation may be repeated.
// - SQLSTATEs are mapped to the coordinator's codes: a lock not available at
//   once (NOWAIT, lock_timeout) or a serialization failure is Busy, a unique
//   violation Conflict, a full disk NoSpace, everything else IOError.
//
// Thread-compatible: one connection per Store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/status.h"

struct pg_conn;
struct pg_result;

namespace swarm::pg {

// The result of one statement: its rows as text.
class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* result) : result_(result) {}
  Rows(Rows&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  Rows& operator=(Rows&& other) noexcept;
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  ~Rows();

  int size() const;
  bool empty() const { return size() == 0; }
  bool IsNull(int row, int col) const;
  std::string Text(int row, int col) const;
  int64_t Int(int row, int col) const;
  bool Bool(int row, int col) const { return Text(row, col) == "t"; }
  // The number of rows an INSERT/UPDATE/DELETE touched.
  int64_t Affected() const;

 private:
  pg_result* result_ = nullptr;
};

// A statement parameter: text, or SQL NULL.
using Param = std::optional<std::string>;
inline Param P(std::string_view s) { return std::string(s); }
inline Param P(int64_t v) { return std::to_string(v); }
inline Param P(int v) { return std::to_string(v); }
// A text[] literal of `values` (each double-quoted, quotes and backslashes escaped).
Param ArrayParam(const std::vector<std::string>& values);

class Connection {
 public:
  // `conninfo`: a postgres:// URL or key=value string; "" takes everything
  // from libpq's PG* environment variables (PGHOST, PGPORT, PGUSER, ...).
  Connection(std::string conninfo, int64_t timeout_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects unless connected. IOError (what and where) when it cannot.
  Status Connect();
  bool connected() const { return conn_ != nullptr; }
  // Closes the connection (the server rolls back an open transaction).
  void Drop();

  // Runs one statement with text parameters $1..$n.
  Result<Rows> Exec(std::string_view sql, const std::vector<Param>& params = {});
  // Runs the open transaction's last statement (one, with parameters) and
  // commits, in one round trip. The statement's error leaves the
  // transaction open (and failed: roll it back); after a COMMIT that
  // failed or whose answer is lost the transaction is over, and an IOError
  // says that whether the change was made is not known (as Commit's).
  Result<Rows> ExecCommit(std::string_view sql, const std::vector<Param>& params);

  // Transactions. Begin starts one (READ COMMITTED); Commit ends it. A
  // Commit whose answer is lost returns IOError although the server may
  // have committed: callers that must know re-read what they wrote.
  // Begin sends nothing: BEGIN travels with the transaction's first
  // statement, in one round trip (a pipeline), so a failure to reach the
  // server shows at that Exec. A transaction without a statement costs no
  // round trip to commit or roll back.
  Status Begin();
  Status Commit();
  // Rolls back an open transaction; a failure drops the connection.
  void Rollback();
  bool in_transaction() const { return in_tx_; }

  // The server's process id of this connection (pg_backend_pid), 0 when
  // not connected: tests use it to terminate the connection from outside.
  int backend_pid() const;
  // Where the connection goes, for messages: host:port or socket directory.
  std::string Where() const;

 private:
  // Waits for the socket to be readable (or writable) until `deadline_us`
  // on CLOCK_MONOTONIC. False on timeout or error.
  bool Wait(bool for_write, int64_t deadline_us) const;
  Status Lost(std::string_view what);
  // What became of the COMMIT of a Run with `commit`.
  enum class CommitOutcome { kNotSent, kUnknown, kNotRun, kCommitted, kFailed };
  // Exec and ExecCommit: the statement, with a pending BEGIN before it and
  // COMMIT after it when `commit`.
  Result<Rows> Run(std::string_view sql, const std::vector<Param>& params, bool commit,
                   CommitOutcome* outcome);

  std::string conninfo_;
  int64_t timeout_ms_;
  pg_conn* conn_ = nullptr;
  bool in_tx_ = false;
  bool begin_pending_ = false;  // Begin was called; BEGIN goes with the next Exec
};

// A transaction scope: rolls back on destruction unless committed.
class Txn {
 public:
  explicit Txn(Connection* c) : c_(c) {}
  ~Txn() {
    if (c_->in_transaction()) c_->Rollback();
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  Status Begin() { return c_->Begin(); }
  Status Commit() { return c_->Commit(); }
  // The last statement and the commit in one round trip (Connection::ExecCommit).
  Result<Rows> ExecCommit(std::string_view sql, const std::vector<Param>& params) {
    return c_->ExecCommit(sql, params);
  }

 private:
  Connection* c_;
};

// `name` as a quoted SQL identifier ("sw"."items"); names are checked by
// IsValidSchema before they get here.
std::string Quote(std::string_view name);
// A schema name the backend accepts: 1-63 of [a-z0-9_], starting with a
// letter or '_'.
bool IsValidSchema(std::string_view name);

}  // namespace swarm::pg
