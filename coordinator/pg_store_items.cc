// The PostgreSQL backend's operations of a grant's holder: check, renew,
// complete, release, and the heartbeat's event (pg_store.h;
// docs/coordinator.md). Each locks the item's row with NOWAIT and compares
// (item, token, owner) before it writes or reports.
#include <fmt/format.h>

#include <vector>

#include "coordinator/pg_store.h"
#include "sim/protocol/control_protocol.h"

namespace swarm {
namespace {

namespace point = faultline::protocol::point;
namespace probe = faultline::protocol::probe;

constexpr int kLockRetries = 50;
constexpr int64_t kLockRetrySleepUs = 2000;

// Done under this very grant: its completion committed, though the answer
// may have been lost (the connection broke at COMMIT).
bool DoneUnder(const ItemState& s, const Grant& grant) {
  return s.status == ItemStatus::kDone && s.token == grant.token && s.owner == grant.agent;
}

}  // namespace

Result<ItemState> PgStore::LockItem(pg::Txn& txn, const std::string& item, std::string_view op,
                                    std::string_view who) {
  for (int i = 0;; ++i) {
    Discard();
    SWARM_RETURN_IF_ERROR(txn.Begin());
    auto rows = conn_.Exec(fmt::format("SELECT {} FROM {} WHERE id = $1 FOR UPDATE NOWAIT",
                                       kItemColumns, T("items")),
                           {pg::P(item)});
    if (rows.ok()) {
      if (rows->empty()) return Status::NotFound(item + ": no such item");
      return ItemFromRow(*rows, 0);
    }
    if (!rows.status().IsBusy()) return rows.status();
    conn_.Rollback();
    if (i == kLockRetries) {
      if (probe_->recording()) {
        probe_->Emit({{"type", "lock_timeout"}, {"agent", who}, {"item", item}, {"op", op}});
      }
      return rows.status();
    }
    // Another transaction holds the row (a claim or the reaper, for a
    // moment): try again shortly, on the process's clock.
    probe_->Yield(point::kLockBusy, item);
    clock_->SleepMicros(kLockRetrySleepUs);
  }
}

Status PgStore::CheckCurrent(const ItemState& s, const Grant& grant, std::string_view op) {
  if (s.status == ItemStatus::kClaimed && s.token == grant.token && s.owner == grant.agent) {
    return Status::Ok();
  }
  probe_->Reached(op == "renew"      ? probe::kRenewStale
                  : op == "complete" ? probe::kCompleteStale
                                     : "release.stale");
  if (probe_->recording()) {
    probe_->Emit({{"type", std::string(op) + "_rejected"}, {"item", grant.item},
                  {"agent", grant.agent}, {"token", grant.token}, {"current_token", s.token},
                  {"status", Name(s.status)}});
  }
  return Status::StaleToken(fmt::format(
      "{} of {} with token {} refused: the item is {} with token {}{}", op, grant.item,
      grant.token, Name(s.status), s.token, s.owner.empty() ? "" : " held by " + s.owner));
}

Result<ItemState> PgStore::ShareItem(const std::string& item) {
  auto rows = conn_.Exec(
      fmt::format("SELECT {} FROM {} WHERE id = $1 FOR SHARE NOWAIT", kItemColumns, T("items")),
      {pg::P(item)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::NotFound(item + ": no such item");
  return ItemFromRow(*rows, 0);
}

Status PgStore::WaitForRow(int attempt, const std::string& item, std::string_view op,
                           std::string_view who) {
  if (attempt >= kLockRetries) {
    if (probe_->recording()) {
      probe_->Emit({{"type", "lock_timeout"}, {"agent", who}, {"item", item}, {"op", op}});
    }
    return Status::Busy(fmt::format("{}: {} row stayed locked by another transaction", op, item));
  }
  probe_->Yield(point::kLockBusy, item);
  clock_->SleepMicros(kLockRetrySleepUs);
  return Status::Ok();
}

Status PgStore::CheckGrant(const Grant& grant) {
  auto rows = conn_.Exec(fmt::format("SELECT {} FROM {} WHERE id = $1", kItemColumns, T("items")),
                         {pg::P(grant.item)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::NotFound(grant.item + ": no such item");
  auto state = ItemFromRow(*rows, 0);
  if (!state.ok()) return state.status();
  return CheckHeld(*state, grant);
}

Status PgStore::CheckHeld(const ItemState& s, const Grant& grant) {
  if (s.status == ItemStatus::kClaimed && s.token == grant.token && s.owner == grant.agent) {
    return Status::Ok();
  }
  // The holder's completion committed and its answer was lost: the item is
  // not lost to anyone; the holder's retry of the completion reports it.
  if (DoneUnder(s, grant)) return Status::Ok();
  probe_->Reached(probe::kHeartbeatHoldingLost);
  if (probe_->recording()) {
    probe_->Emit({{"type", "holding_lost"}, {"agent", grant.agent}, {"item", grant.item},
                  {"token", grant.token}, {"current_token", s.token},
                  {"status", Name(s.status)}});
  }
  return Status::StaleToken(fmt::format("{} is no longer held with token {}: it is {} with token {}",
                                        grant.item, grant.token, Name(s.status), s.token));
}

Status PgStore::TraceHeartbeat(AgentRecord& agent, const Grant* held, bool* lost) {
  // The row locks of the record's transaction went with its COMMIT; a
  // holder stopped after it (SIGSTOP, a loaded machine) could otherwise
  // trace, long after, a heartbeat listing an item taken over and completed
  // meanwhile. The event is emitted after the COMMIT, not before it, so that
  // a heartbeat in the history is one the reaper can see.
  std::vector<Result<ItemState>> states;
  pg::Txn txn(&conn_);
  for (int attempt = 0; !agent.holding.empty(); ++attempt) {
    SWARM_RETURN_IF_ERROR(txn.Begin());
    states.clear();
    const std::string* busy = nullptr;
    for (const std::string& item : agent.holding) {
      states.push_back(ShareItem(item));
      const Status& got = states.back().status();
      if (got.IsBusy()) {
        busy = &item;
        break;
      }
      if (!got.ok() && got.code() != Status::Code::kNotFound) return got;
    }
    if (busy == nullptr) break;
    conn_.Rollback();
    SWARM_RETURN_IF_ERROR(WaitForRow(attempt, *busy, "heartbeat", agent.id));
  }
  // `held` is checked with its token; any other item listed is the agent's
  // while it is claimed in its name.
  std::vector<std::string> listed;
  for (size_t i = 0; i < states.size(); ++i) {
    const std::string& item = agent.holding[i];
    const Result<ItemState>& state = states[i];
    bool ours = false;
    if (held != nullptr && item == held->item) {
      ours = state.ok() && CheckHeld(*state, *held).ok();
      if (!ours && lost != nullptr) *lost = true;
    } else {
      ours = state.ok() && state->status == ItemStatus::kClaimed && state->owner == agent.id;
    }
    if (ours) listed.push_back(item);
  }
  agent.holding = listed;
  probe_->Reached(probe::kHeartbeatOk);
  if (probe_->recording()) {
    nlohmann::json beat = {{"type", "heartbeat"},
                           {"agent", agent.id},
                           {"at_us", agent.heartbeat_us},
                           {"holding", agent.holding}};
    MarkClock(beat);
    probe_->Emit(beat);
  }
  // Only read and locked: ending the transaction lets the rows go.
  if (conn_.in_transaction()) conn_.Rollback();
  return Status::Ok();
}

Status PgStore::Renew(Grant& grant) {
  auto now = LeaseNow();
  if (!now.ok()) return now.status();
  pg::Txn txn(&conn_);
  auto state = LockItem(txn, grant.item, "renew", grant.agent);
  if (!state.ok()) return state.status();
  SWARM_RETURN_IF_ERROR(CheckCurrent(*state, grant, "renew"));
  const int64_t lease_until = *now + config_.lease_ms * 1000;
  auto rows = conn_.Exec(fmt::format("UPDATE {} SET lease_until_us = $2 WHERE id = $1", T("items")),
                         {pg::P(grant.item), pg::P(lease_until)});
  if (!rows.ok()) return rows.status();
  SWARM_RETURN_IF_ERROR(txn.Commit());
  grant.lease_until_us = OwnDeadline(lease_until);
  probe_->Reached(probe::kRenewOk);
  if (probe_->recording()) {
    nlohmann::json renewed = {{"type", "renew_ok"},        {"item", grant.item},
                              {"agent", grant.agent},      {"token", grant.token},
                              {"lease_until_us", lease_until}, {"now_us", *now}};
    MarkClock(renewed);
    probe_->Emit(renewed);
  }
  return Status::Ok();
}

Status PgStore::Complete(const Grant& grant, std::string_view result) {
  pg::Txn txn(&conn_);
  auto state = LockItem(txn, grant.item, "complete", grant.agent);
  if (!state.ok()) return state.status();
  if (DoneUnder(*state, grant)) {
    // Done under this very grant: an earlier call of ours committed and its
    // answer was lost (the connection broke at COMMIT). The ledger, keyed by
    // item, says whose effect it holds; if it is this grant's, that call
    // succeeded, and this one reports it, once, as that call would have.
    auto ledger = conn_.Exec(
        fmt::format("SELECT agent, token, at_us FROM {} WHERE item = $1", T("ledger")),
        {pg::P(grant.item)});
    if (!ledger.ok()) return ledger.status();
    if (!ledger->empty() && ledger->Text(0, 0) == grant.agent && ledger->Int(0, 1) == grant.token) {
      SWARM_RETURN_IF_ERROR(txn.Commit());
      const int64_t at = ledger->Int(0, 2);
      probe_->Reached(probe::kCompleteOk);
      if (probe_->recording()) {
        probe_->Emit({{"type", "effect"}, {"item", grant.item}, {"agent", grant.agent},
                      {"token", grant.token}, {"now_us", at}});
        probe_->Emit({{"type", "complete_ok"}, {"item", grant.item}, {"agent", grant.agent},
                      {"token", grant.token}, {"now_us", at}, {"settled", true}});
      }
      return Status::Ok();
    }
  }
  return CompleteLocked(txn, std::move(*state), grant, result, /*check_grant=*/true);
}

Status PgStore::CompleteLocked(pg::Txn& txn, ItemState s, const Grant& grant,
                               std::string_view result, bool check_grant) {
  if (check_grant) SWARM_RETURN_IF_ERROR(CheckCurrent(s, grant, "complete"));
  auto now = LeaseNow();
  if (!now.ok()) return now.status();
  // The primary key on ledger.item makes the effect exactly once: a second
  // insert for the item does nothing, whoever tries it. The item is marked
  // done in the same statement, owned by whoever's effect the ledger holds,
  // and the statement goes with the COMMIT (one round trip).
  auto done = txn.ExecCommit(
      fmt::format("WITH ins AS (INSERT INTO {0} (item, agent, token, at_us, result) "
                  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (item) DO NOTHING RETURNING agent), "
                  "prior AS (SELECT agent, token FROM {0} WHERE item = $1), "
                  "upd AS (UPDATE {1} SET status = 'done', lease_until_us = 0, "
                  "owner = coalesce((SELECT agent FROM ins), (SELECT agent FROM prior), $2) "
                  "WHERE id = $1 RETURNING owner) "
                  "SELECT EXISTS (SELECT 1 FROM ins), (SELECT token FROM prior), "
                  "(SELECT owner FROM upd)",
                  T("ledger"), T("items")),
      {pg::P(grant.item), pg::P(grant.agent), pg::P(grant.token), pg::P(*now), pg::P(result)});
  if (!done.ok()) return done.status();  // nothing was staged yet
  if (!done->Bool(0, 0)) {
    // An earlier holder wrote the effect and died before marking the item
    // done (only possible for tables written by another backend version or
    // by hand: here the two happen in one transaction). It stays the effect.
    StageReached(probe::kCompleteEffectPresent);
    Stage({{"type", "effect_present"}, {"item", grant.item}, {"agent", grant.agent},
           {"token", grant.token}, {"effect_token", done->IsNull(0, 1) ? 0 : done->Int(0, 1)}});
  } else {
    Stage({{"type", "effect"}, {"item", grant.item}, {"agent", grant.agent},
           {"token", grant.token}, {"now_us", *now}});
  }
  Flush();
  probe_->Yield(point::kCompleteStateWritten, grant.item);
  probe_->Reached(probe::kCompleteOk);
  if (probe_->recording()) {
    probe_->Emit({{"type", "complete_ok"}, {"item", grant.item}, {"agent", grant.agent},
                  {"token", grant.token}, {"now_us", *now}});
  }
  return Status::Ok();
}

Status PgStore::Release(const Grant& grant, std::string_view reason) {
  pg::Txn txn(&conn_);
  auto state = LockItem(txn, grant.item, "release", grant.agent);
  if (!state.ok()) return state.status();
  SWARM_RETURN_IF_ERROR(CheckCurrent(*state, grant, "release"));
  // A release gives the grant's attempt back (as in the fs backend):
  // max_attempts counts only grants that failed.
  auto rows = conn_.Exec(fmt::format("UPDATE {} SET status = 'pending', owner = '', "
                                     "lease_until_us = 0, attempts = greatest(attempts - 1, 0) "
                                     "WHERE id = $1",
                                     T("items")),
                         {pg::P(grant.item)});
  if (!rows.ok()) return rows.status();
  // Recorded while the row lock is held, as the fs backend records it under
  // the item's lock: once the COMMIT is out another agent may claim the item,
  // and a release recorded after that claim_ok (freerun orders the history by
  // when events are sent) would read as two owners at once. A COMMIT that
  // fails after this leaves the grant in force until its lease ends, which is
  // when any other agent may take the item anyway.
  probe_->Reached(probe::kReleaseOk);
  if (probe_->recording()) {
    probe_->Emit({{"type", "release"}, {"item", grant.item}, {"agent", grant.agent},
                  {"token", grant.token}, {"reason", reason}});
  }
  SWARM_RETURN_IF_ERROR(txn.Commit());
  return Status::Ok();
}

}  // namespace swarm
