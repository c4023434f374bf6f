// The PostgreSQL backend: the Store over tables in one schema of a server
// that agents on many hosts share. docs/coordinator.md ("The PostgreSQL
// backend") has the schema and every transition.
//
// Tables (schema `swarm` unless another is chosen at init):
//   meta(key, value)       store_version, cluster (the cluster.json text), halted
//   items(id, seq, status, token, owner, lease_until_us, attempts, reason,
//         payload, skill)  one row per item: the truth
//   ledger(item, agent, token, at_us, result)  one row per effect; the
//                          primary key on item makes it exactly once
//   agents(id, host, record)  registration and heartbeat (record: JSON)
//   item_numbers           the sequence generated ids are numbered from
//
// Every operation is one transaction (or none); its history events are
// emitted only after its COMMIT succeeded, so a rolled-back or lost
// transaction leaves no trace of having happened. (A heartbeat that holds
// items emits its event from a second, read-only transaction that holds
// their rows FOR SHARE: TraceHeartbeat.) Row locks are taken
// without waiting: claims with FOR UPDATE SKIP LOCKED (a row another
// transaction holds is not claimable now), the holder's operations with
// NOWAIT (Busy, retried briefly on the clock like the fs backend's locks).
//
// Time: leases and heartbeats are judged on one clock for all hosts. With a
// simulated clock (faultline's lockstep, FakeClock) that is the simulated
// server's clock (Clock::ServerMicros: the process's own unless the
// simulator skewed it), so a run stays deterministic; otherwise it is the
// database server's clock_timestamp(), whatever the agents' own clocks say.
// Either way clock_skew_ms keeps its meaning: the observer's tolerance. A
// Grant's lease_until_us is on the holder's own clock (OwnDeadline), which
// is what it schedules its renewals by.
//
// A connection lost in the middle of an operation returns IOError and
// nothing is assumed done; the next operation reconnects. A Complete whose
// COMMIT answer was lost is settled by the next Complete of the same grant:
// if the ledger holds this grant's effect (item, token, owner), it was
// committed and the call succeeds.
//
// Subclasses may replace single operations (tests/mutants builds its broken
// coordinators of this backend that way); the protected helpers are the
// reference's own steps.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/clock.h"
#include "coordinator/pg_conn.h"
#include "coordinator/probe.h"
#include "coordinator/store.h"

namespace swarm {

// Where a postgres-backed coordination directory's state lives.
struct PgLocation {
  std::string url;             // "" = libpq's PG* environment variables
  std::string schema = "swarm";
};

class PgStore : public Store {
 public:
  // The version of the tables this build reads and writes (meta.store_version).
  static constexpr int kStoreVersion = 1;

  // Creates the schema and tables if missing and stores `config`. Joining an
  // existing schema is allowed when its cluster settings are the same (the
  // init of a second host); InvalidArgument when they differ or the tables
  // are of another store_version.
  static Status Init(const PgLocation& where, const ClusterConfig& config);
  // Connects and checks the tables. InvalidArgument (what to do) when the
  // schema was not initialised or is of another version; IOError when the
  // server cannot be reached.
  static Result<std::unique_ptr<PgStore>> Open(const PgLocation& where, Clock* clock,
                                               Probe* probe);

  // Replaces the cluster settings (running agents see drift).
  Status Reconfigure(const ClusterConfig& config) override;

  Result<ClusterConfig> LoadCluster() override;
  bool Halted() override;
  Status SetHalted(bool halted) override;
  Result<size_t> Submit(const std::vector<std::pair<std::string, std::string>>& items,
                        std::string_view skill = {}) override;
  Result<std::vector<std::string>> SubmitGenerated(std::string_view prefix, int64_t count,
                                                   std::string_view skill = {}) override;
  Status Register(const AgentRecord& agent) override;
  Status Heartbeat(AgentRecord& agent, const Grant* held, bool* lost) override;
  Status MarkAgent(const AgentRecord& agent) override;
  Result<ClaimOutcome> ClaimNext(const std::string& agent) override;
  Result<Grant> Claim(const std::string& item, const std::string& agent) override;
  Status CheckGrant(const Grant& grant) override;
  Status Renew(Grant& grant) override;
  Status Complete(const Grant& grant, std::string_view result) override;
  Status Release(const Grant& grant, std::string_view reason) override;
  Result<ReapReport> Reap(const ReapOptions& options) override;
  Result<Snapshot> Inspect() override;
  Result<nlohmann::json> EndState() override;

  // The server process of this store's connection (0: none): tests end it
  // with pg_terminate_backend to cut the connection mid-operation.
  int backend_pid() const { return conn_.backend_pid(); }

 protected:
  PgStore(PgLocation where, ClusterConfig config, Clock* clock, Probe* probe);
  // Connects and reads the cluster settings, with Open's checks.
  static Result<ClusterConfig> LoadSchema(pg::Connection& conn, const std::string& schema);
  // LoadSchema over this store's connection, into config_ (Open calls it).
  Status LoadConfig();

  // `name` qualified by the schema: "swarm"."items".
  std::string T(std::string_view name) const;

  // The time leases and heartbeats are judged by (see the header comment).
  // Notes which clock it read (MarkClock) and this process's own clock just
  // before (OwnDeadline).
  virtual Result<int64_t> LeaseNow();
  // A deadline on the store's clock (the last LeaseNow's) as this process's
  // own clock will read it: what a Grant carries, so that the holder
  // schedules its renewals on its own clock even when that runs ahead of or
  // behind the server's. Rounded early by the time a server read takes.
  int64_t OwnDeadline(int64_t store_us) const {
    return store_us - lease_now_store_us_ + lease_now_own_us_;
  }
  // Adds "clock": "server" to a history event whose times the last LeaseNow
  // read from the server's clock while this process's own clock is skewed
  // (Clock::Skewed): checkers then take those times as they are, instead of
  // removing the process's skew from them (sim/invariants/checker_support.h).
  void MarkClock(nlohmann::json& event) const {
    if (server_clock_) event["clock"] = "server";
  }

  // History events and probes of the transaction under way: kept until it
  // commits (Flush) or dropped with it (Discard).
  void Stage(nlohmann::json event) { staged_.push_back(std::move(event)); }
  void StageReached(std::string_view probe) { staged_probes_.emplace_back(probe); }
  void Flush();
  void Discard();

  // An item row read with `SELECT kItemColumns`.
  static constexpr const char* kItemColumns =
      "id, status, token, owner, lease_until_us, attempts, reason, payload, skill";
  static Result<ItemState> ItemFromRow(const pg::Rows& rows, int row);

  // Inside a transaction holding the item's row lock: grants it to `agent`
  // (token + 1, a lease from `now`, attempts + 1) and commits; `previous` is
  // the state read under the lock. The claim_ok (and takeover) events follow
  // the commit.
  Result<Grant> GrantLocked(const ItemState& previous, const std::string& agent, int64_t now);
  // Inside a transaction holding the row lock of a claimed item whose lease
  // is over: done (its effect is in the ledger), dead (out of attempts) or
  // pending again; the event is staged. `who` names the actor.
  Status ExpireLocked(ItemState& s, std::string_view who, ReapReport* report);
  Status DeadLetterPendingLocked(ItemState& s, std::string_view who);
  // Inside a transaction: whether `grant` is the item's current grant; stages
  // OP_rejected and returns StaleToken when it is not.
  Status CheckCurrent(const ItemState& s, const Grant& grant, std::string_view op);
  // Reads the item under a NOWAIT row lock, retrying a few times on the
  // clock while another transaction holds it; Busy (and a lock_timeout
  // event) when it stays locked. Starts the transaction.
  Result<ItemState> LockItem(pg::Txn& txn, const std::string& item, std::string_view op,
                             std::string_view who);
  // Inside a transaction: the item's row under a shared lock (FOR SHARE
  // NOWAIT), which no takeover, expiry or holder's operation (all FOR
  // UPDATE) passes until the transaction ends. Busy when another
  // transaction holds the row; NotFound when there is none.
  Result<ItemState> ShareItem(const std::string& item);
  // After a NOWAIT lock on `item` was refused and its transaction rolled
  // back: waits briefly on the clock before the next try, as LockItem does.
  // Busy, with a lock_timeout event, once `attempt` reaches the limit.
  Status WaitForRow(int attempt, const std::string& item, std::string_view op,
                    std::string_view who);
  // Whether the item in state `s` is still held under `grant`; otherwise
  // the holding_lost event and StaleToken.
  Status CheckHeld(const ItemState& s, const Grant& grant);
  // A heartbeat's event, once its record has committed: in a transaction of
  // its own holding every listed item's row FOR SHARE, the items still the
  // agent's are listed (a lost `held` is dropped from agent.holding, with
  // *lost set) and the event is emitted before the locks are let go. So no
  // takeover can come before it in the history. Nothing is emitted when this
  // fails; the record stands (a heartbeat written but not traced).
  Status TraceHeartbeat(AgentRecord& agent, const Grant* held, bool* lost);
  // The reference complete with the row locked: the grant checked unless
  // `check_grant` is false, the effect inserted once, the item marked done.
  Status CompleteLocked(pg::Txn& txn, ItemState s, const Grant& grant, std::string_view result,
                        bool check_grant);
  bool CanDo(const ItemState& s, const std::string& agent) const;
  // Whether an item `agent` could do is pending or claimed (by anyone).
  Result<bool> WorkRemaining(const std::string& agent);

  PgLocation where_;
  ClusterConfig config_;  // as of Open; the lease and limits this process uses
  Clock* clock_;
  Probe* probe_;
  pg::Connection conn_;
  std::map<std::string, std::vector<std::string>> skills_;  // of agents registered here

 private:
  // ANALYZE of the items table after a submit added rows (why: pg_store.cc).
  void RefreshStatistics();
  // ClaimNext's one query: the first claimable row locked, an expired
  // claim before any pending item, or none. `*expired` says which it is.
  Result<std::optional<ItemState>> LockCandidate(const std::string& agent, int64_t now,
                                                 bool* expired);

  std::vector<nlohmann::json> staged_;
  std::vector<std::string> staged_probes_;
  // Of the last LeaseNow: the store's clock it returned, this process's own
  // clock read just before, and whether the two are apart on purpose.
  int64_t lease_now_store_us_ = 0;
  int64_t lease_now_own_us_ = 0;
  bool server_clock_ = false;
};

// The libpq connection timeout of the backend in ms: $SWARM_PG_TIMEOUT_MS,
// default 5000.
int64_t PgTimeoutMs();

}  // namespace swarm
