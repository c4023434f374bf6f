#include "coordinator/pg_conn.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "coordinator/pq_lazy.h"

namespace swarm::pg {
namespace {

int64_t MonotonicMicros() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

std::string Trim(const char* s) {
  std::string out = s == nullptr ? "" : s;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// The server's notices (CREATE ... IF NOT EXISTS that exists) are not errors
// and are not the user's business.
void IgnoreNotice(void*, const char*) {}

Status FromSqlState(const std::string& state, const std::string& message) {
  if (state == "55P03" || state == "40001" || state == "40P01") return Status::Busy(message);
  if (state == "23505") return Status::Conflict(message);
  if (state == "53100") return Status::NoSpace(message);
  return Status::IOError(message);
}

}  // namespace

Rows& Rows::operator=(Rows&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = other.result_;
    other.result_ = nullptr;
  }
  return *this;
}

Rows::~Rows() {
  if (result_ != nullptr) PQclear(result_);
}

int Rows::size() const { return result_ == nullptr ? 0 : PQntuples(result_); }
bool Rows::IsNull(int row, int col) const { return PQgetisnull(result_, row, col) != 0; }
std::string Rows::Text(int row, int col) const { return PQgetvalue(result_, row, col); }
int64_t Rows::Int(int row, int col) const {
  return std::strtoll(PQgetvalue(result_, row, col), nullptr, 10);
}
int64_t Rows::Affected() const {
  const char* n = result_ == nullptr ? "" : PQcmdTuples(result_);
  return *n == '\0' ? 0 : std::strtoll(n, nullptr, 10);
}

Param ArrayParam(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string Quote(std::string_view name) { return "\"" + std::string(name) + "\""; }

bool IsValidSchema(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'))) return false;
  for (char c : name) {
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

Connection::Connection(std::string conninfo, int64_t timeout_ms)
    : conninfo_(std::move(conninfo)), timeout_ms_(timeout_ms) {}

Connection::~Connection() { Drop(); }

void Connection::Drop() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
  in_tx_ = false;
  begin_pending_ = false;
}

std::string Connection::Where() const {
  if (conn_ == nullptr) return conninfo_.empty() ? "the server of PGHOST/PGPORT" : conninfo_;
  return fmt::format("{}:{}", Trim(PQhost(conn_)), Trim(PQport(conn_)));
}

int Connection::backend_pid() const { return conn_ == nullptr ? 0 : PQbackendPID(conn_); }

bool Connection::Wait(bool for_write, int64_t deadline_us) const {
  pollfd p{PQsocket(conn_), static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
  if (p.fd < 0) return false;
  while (true) {
    const int64_t left_us = deadline_us - MonotonicMicros();
    if (left_us <= 0) return false;
    const int r = poll(&p, 1, static_cast<int>((left_us + 999) / 1000));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

Status Connection::Lost(std::string_view what) {
  const std::string why = conn_ == nullptr ? "" : Trim(PQerrorMessage(conn_));
  const std::string where = Where();
  Drop();
  return Status::IOError(fmt::format("database at {}: {}{}{}", where, what,
                                     why.empty() ? "" : ": ", why));
}

Status Connection::Connect() {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
  Drop();
  // application_name first, so that a URL's own (dbname, expanded) wins.
  const char* keys[] = {"application_name", "dbname", nullptr};
  const char* values[] = {"swarm", conninfo_.c_str(), nullptr};
  if (conninfo_.empty()) keys[1] = nullptr;  // everything from PG* variables
  SWARM_RETURN_IF_ERROR(pq::Load());
  conn_ = PQconnectStartParams(keys, values, /*expand_dbname=*/1);
  if (conn_ == nullptr) return Status::IOError("database: out of memory starting a connection");
  if (PQstatus(conn_) == CONNECTION_BAD) return Lost("cannot connect");
  const int64_t deadline = MonotonicMicros() + timeout_ms_ * 1000;
  for (PostgresPollingStatusType s = PGRES_POLLING_WRITING;;) {
    if (s == PGRES_POLLING_OK) break;
    if (s == PGRES_POLLING_FAILED) return Lost("cannot connect");
    if (!Wait(s == PGRES_POLLING_WRITING, deadline)) {
      return Lost(fmt::format("no connection within {} ms", timeout_ms_));
    }
    s = PQconnectPoll(conn_);
  }
  PQsetNoticeProcessor(conn_, IgnoreNotice, nullptr);
  // The server's own bounds, so that it does not hold locks for a client
  // that stopped talking (a paused or partitioned agent inside a
  // transaction), and a lock wait that slipped past NOWAIT ends as Busy.
  const int64_t lock_ms = std::min<int64_t>(timeout_ms_ / 2, 1000);
  auto set = Exec(fmt::format("SET lock_timeout = {}; SET statement_timeout = {}; "
                              "SET idle_in_transaction_session_timeout = {}",
                              lock_ms, timeout_ms_, timeout_ms_));
  return set.ok() ? Status::Ok() : set.status();
}

Result<Rows> Connection::Exec(std::string_view sql, const std::vector<Param>& params) {
  CommitOutcome none = CommitOutcome::kNotSent;
  return Run(sql, params, /*commit=*/false, &none);
}

Result<Rows> Connection::ExecCommit(std::string_view sql, const std::vector<Param>& params) {
  CommitOutcome outcome = CommitOutcome::kNotSent;
  auto r = Run(sql, params, /*commit=*/true, &outcome);
  switch (outcome) {
    case CommitOutcome::kNotRun:  // the statement failed: the transaction is open
    case CommitOutcome::kNotSent:
      return r;
    case CommitOutcome::kCommitted:
    case CommitOutcome::kFailed:  // the server rolled the transaction back
      in_tx_ = false;
      return r;
    case CommitOutcome::kUnknown:
      in_tx_ = false;
      if (r.ok()) return Status::IOError("database: no answer to COMMIT");
      return Status::IOError(r.status().message() +
                             " (at commit: whether the change was made is not known)");
  }
  return r;
}

Result<Rows> Connection::Run(std::string_view sql, const std::vector<Param>& params, bool commit,
                             CommitOutcome* outcome) {
  // A pending BEGIN, and a COMMIT asked for, go in the same round trip as
  // the statement: a pipeline of the two or three queries, or, for BEGIN
  // before a statement without parameters (which may be several), one
  // simple query. The statement runs only if BEGIN did, COMMIT only if the
  // statement did. The flag is taken before Connect, whose own SET must not
  // carry it (nor be undone by a rollback), and whose reconnection clears
  // the transaction's flags.
  const bool begin = begin_pending_;
  begin_pending_ = false;
  if (Status s = Connect(); !s.ok()) return s;
  if (begin) in_tx_ = true;
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& p : params) values.push_back(p ? p->c_str() : nullptr);
  const bool pipelined = commit || (begin && !params.empty());
  const int statement = pipelined && begin ? 1 : 0;  // the query whose rows are the answer
  const int queries = statement + 1 + (commit ? 1 : 0);
  const std::string text = !pipelined && begin ? "BEGIN; " + std::string(sql) : std::string(sql);
  auto send = [&](const char* q, int n, const char* const* v) {
    return PQsendQueryParams(conn_, q, n, nullptr, v, nullptr, nullptr, 0) != 0;
  };
  bool sent = false;
  if (pipelined) {
    sent = PQenterPipelineMode(conn_) != 0 && (!begin || send("BEGIN", 0, nullptr)) &&
           send(text.c_str(), static_cast<int>(params.size()), values.data()) &&
           (!commit || send("COMMIT", 0, nullptr)) && PQpipelineSync(conn_) != 0;
  } else if (params.empty()) {
    sent = PQsendQuery(conn_, text.c_str()) != 0;
  } else {
    sent = send(text.c_str(), static_cast<int>(params.size()), values.data());
  }
  if (!sent) return Lost("cannot send");
  if (commit) *outcome = CommitOutcome::kUnknown;
  const int64_t deadline = MonotonicMicros() + timeout_ms_ * 1000;
  while (true) {
    const int f = PQflush(conn_);
    if (f == 0) break;
    if (f < 0) return Lost("cannot send");
    if (!Wait(true, deadline)) return Lost(fmt::format("no progress within {} ms", timeout_ms_));
  }
  Rows answer;
  Status error = Status::Ok();
  // A pipeline's results end with its sync, each query's with a null
  // result on the way. A simple query's follow one another; the last is
  // the statement's.
  int query = 0;
  while (true) {
    while (PQisBusy(conn_) != 0) {
      if (!Wait(false, deadline)) return Lost(fmt::format("no answer within {} ms", timeout_ms_));
      if (PQconsumeInput(conn_) == 0) return Lost("connection lost");
    }
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) {
      if (!pipelined) break;
      if (PQstatus(conn_) == CONNECTION_BAD || ++query > queries) return Lost("connection lost");
      continue;
    }
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_PIPELINE_SYNC) {
      PQclear(r);
      if (PQexitPipelineMode(conn_) == 0) return Lost("cannot leave the pipeline");
      break;
    }
    if (st == PGRES_FATAL_ERROR && error.ok()) {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      error = FromSqlState(state == nullptr ? "" : state,
                           fmt::format("database at {}: {}", Where(),
                                       Trim(PQresultErrorMessage(r))));
    }
    if (commit && query == queries - 1) {
      *outcome = st == PGRES_COMMAND_OK    ? CommitOutcome::kCommitted
                 : st == PGRES_FATAL_ERROR ? CommitOutcome::kFailed
                                           : CommitOutcome::kNotRun;  // aborted before it
    }
    if (!pipelined || query == statement) {
      answer = Rows(r);
    } else {
      PQclear(r);
    }
  }
  if (PQstatus(conn_) == CONNECTION_BAD) return Lost("connection lost");
  if (!error.ok()) return error;
  return answer;
}

Status Connection::Begin() {
  begin_pending_ = true;
  in_tx_ = true;
  return Status::Ok();
}

Status Connection::Commit() {
  if (begin_pending_) {  // nothing was sent: nothing to commit
    begin_pending_ = false;
    in_tx_ = false;
    return Status::Ok();
  }
  auto r = Exec("COMMIT");
  in_tx_ = false;
  if (!r.ok()) {
    if (r.status().code() == Status::Code::kIOError) {
      return Status::IOError(r.status().message() +
                             " (at commit: whether the change was made is not known)");
    }
    return r.status();
  }
  return Status::Ok();
}

void Connection::Rollback() {
  in_tx_ = false;
  if (begin_pending_) {
    begin_pending_ = false;
    return;
  }
  if (conn_ == nullptr) return;
  if (!Exec("ROLLBACK").ok()) Drop();
}

}  // namespace swarm::pg
