// The PostgreSQL backend's claim path (pg_store.h; docs/coordinator.md,
// "The PostgreSQL backend"): a claimable row is found and locked in one
// statement with FOR UPDATE SKIP LOCKED, so that two agents never wait for
// each other and never take the same row, and is granted in the same
// transaction.
#include <fmt/format.h>

#include "coordinator/pg_store.h"
#include "sim/protocol/control_protocol.h"

namespace swarm {
namespace {

namespace point = faultline::protocol::point;
namespace probe = faultline::protocol::probe;

}  // namespace

Result<std::optional<ItemState>> PgStore::LockCandidate(const std::string& agent, int64_t now,
                                                        bool* expired) {
  const auto it = skills_.find(agent);
  const std::vector<std::string> none;
  const pg::Param skills = pg::ArrayParam(it == skills_.end() ? none : it->second);
  // Expired claims in lease order, then pending items in submission order,
  // in one round trip; each search walks its partial index. The pending
  // search runs only when the expired one found nothing (a one-time filter:
  // it locks no row otherwise). A row another transaction holds is skipped,
  // not waited for; a row changed since the statement's snapshot is
  // re-checked against the condition once locked (READ COMMITTED).
  auto rows = conn_.Exec(
      fmt::format("WITH expired AS (SELECT {0}, true AS expired FROM {1} WHERE "
                  "status = 'claimed' AND lease_until_us <= $1 AND (skill = '' OR skill = "
                  "ANY($2)) ORDER BY lease_until_us, id LIMIT 1 FOR UPDATE SKIP LOCKED), "
                  "pending AS (SELECT {0}, false AS expired FROM {1} WHERE status = 'pending' "
                  "AND (skill = '' OR skill = ANY($2)) AND NOT EXISTS (SELECT 1 FROM expired) "
                  "ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) "
                  "SELECT * FROM expired UNION ALL SELECT * FROM pending",
                  kItemColumns, T("items")),
      {pg::P(now - config_.clock_skew_ms * 1000), skills});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<ItemState>();
  auto s = ItemFromRow(*rows, 0);
  if (!s.ok()) return s.status();
  *expired = rows->Bool(0, 9);
  return std::optional<ItemState>(std::move(*s));
}

Result<bool> PgStore::WorkRemaining(const std::string& agent) {
  const auto it = skills_.find(agent);
  const std::vector<std::string> none;
  auto rows = conn_.Exec(
      fmt::format("SELECT EXISTS (SELECT 1 FROM {} WHERE status IN ('pending', 'claimed') AND "
                  "(skill = '' OR skill = ANY($1)))",
                  T("items")),
      {pg::ArrayParam(it == skills_.end() ? none : it->second)});
  if (!rows.ok()) return rows.status();
  return rows->Bool(0, 0);
}

Result<ClaimOutcome> PgStore::ClaimNext(const std::string& agent) {
  auto now = LeaseNow();
  if (!now.ok()) return now.status();
  // A row found finished on the way (recovered from the ledger,
  // dead-lettered) ends its own transaction and the search starts again;
  // each such row is terminal afterwards, so this ends.
  while (true) {
    Discard();
    pg::Txn txn(&conn_);
    SWARM_RETURN_IF_ERROR(txn.Begin());
    bool expired = false;
    auto candidate = LockCandidate(agent, *now, &expired);
    if (!candidate.ok()) return candidate.status();
    if (!candidate->has_value()) {
      // Still in the transaction, which holds no lock: its rollback is due
      // anyway, and this read needs none of its own.
      auto remaining = WorkRemaining(agent);
      if (!remaining.ok()) return remaining.status();
      return ClaimOutcome{std::nullopt, *remaining};
    }
    ItemState s = std::move(**candidate);
    if (expired && s.attempts < config_.max_attempts) {
      auto ledger = conn_.Exec(fmt::format("SELECT 1 FROM {} WHERE item = $1", T("ledger")),
                               {pg::P(s.id)});
      if (!ledger.ok()) return ledger.status();
      if (ledger->empty()) {
        auto grant = GrantLocked(s, agent, *now);
        if (!grant.ok()) return grant.status();
        return ClaimOutcome{std::move(*grant), true};
      }
    }
    if (expired) {
      StageReached(probe::kTakeoverRecovered);
      SWARM_RETURN_IF_ERROR(ExpireLocked(s, agent, nullptr));
    } else if (s.attempts >= config_.max_attempts) {
      SWARM_RETURN_IF_ERROR(DeadLetterPendingLocked(s, agent));
    } else {
      auto grant = GrantLocked(s, agent, *now);
      if (!grant.ok()) return grant.status();
      return ClaimOutcome{std::move(*grant), true};
    }
    SWARM_RETURN_IF_ERROR(txn.Commit());
    Flush();
  }
}

Result<Grant> PgStore::Claim(const std::string& id, const std::string& agent) {
  auto now = LeaseNow();
  if (!now.ok()) return now.status();
  Discard();
  pg::Txn txn(&conn_);
  SWARM_RETURN_IF_ERROR(txn.Begin());
  auto rows = conn_.Exec(fmt::format("SELECT {} FROM {} WHERE id = $1 FOR UPDATE SKIP LOCKED",
                                     kItemColumns, T("items")),
                         {pg::P(id)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) {
    auto exists = conn_.Exec(fmt::format("SELECT 1 FROM {} WHERE id = $1", T("items")),
                             {pg::P(id)});
    if (!exists.ok()) return exists.status();
    if (exists->empty()) return Status::NotFound(id + ": no such item");
    probe_->Reached(probe::kClaimBusy);
    return Status::Busy(id + " is being changed by another transaction");
  }
  auto state = ItemFromRow(*rows, 0);
  if (!state.ok()) return state.status();
  ItemState s = std::move(*state);
  if (!IsTerminal(s.status) && !CanDo(s, agent)) {
    probe_->Reached(probe::kClaimSkillConflict);
    return Status::Conflict(
        fmt::format("{} needs skill \"{}\", which agent {} does not have", id, s.skill, agent));
  }
  if (s.status == ItemStatus::kClaimed && s.LeaseExpired(*now - config_.clock_skew_ms * 1000)) {
    auto ledger = conn_.Exec(fmt::format("SELECT 1 FROM {} WHERE item = $1", T("ledger")),
                             {pg::P(id)});
    if (!ledger.ok()) return ledger.status();
    if (s.attempts >= config_.max_attempts || !ledger->empty()) {
      StageReached(probe::kTakeoverRecovered);
      SWARM_RETURN_IF_ERROR(ExpireLocked(s, agent, nullptr));
      SWARM_RETURN_IF_ERROR(txn.Commit());
      Flush();
      return Status::Conflict(fmt::format("{} is {}: {}", id, Name(s.status), s.reason));
    }
    return GrantLocked(s, agent, *now);
  }
  if (s.status != ItemStatus::kPending) {
    return Status::Conflict(fmt::format("{} is {}", id, Name(s.status)));
  }
  if (s.attempts >= config_.max_attempts) {
    SWARM_RETURN_IF_ERROR(DeadLetterPendingLocked(s, agent));
    SWARM_RETURN_IF_ERROR(txn.Commit());
    Flush();
    return Status::Conflict(fmt::format("{} is {}: {}", id, Name(s.status), s.reason));
  }
  return GrantLocked(s, agent, *now);
}

Result<Grant> PgStore::GrantLocked(const ItemState& previous, const std::string& agent,
                                   int64_t now) {
  const int64_t lease_until = now + config_.lease_ms * 1000;
  // The grant goes with the COMMIT (one round trip). A lost answer leaves
  // the grant unknown to us: if it was made, it expires unused and is taken
  // over like a crashed holder's.
  auto rows = conn_.ExecCommit(
      fmt::format("UPDATE {} SET status = 'claimed', token = token + 1, owner = $2, "
                  "lease_until_us = $3, attempts = attempts + 1 WHERE id = $1 "
                  "RETURNING token, attempts",
                  T("items")),
      {pg::P(previous.id), pg::P(agent), pg::P(lease_until)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::NotFound(previous.id + ": no such item");
  const int64_t token = rows->Int(0, 0);
  const int attempts = static_cast<int>(rows->Int(0, 1));
  const bool takeover = previous.status == ItemStatus::kClaimed;
  probe_->Yield(point::kClaimStateWritten, previous.id);
  probe_->Reached(takeover ? probe::kTakeoverAfterExpiry : probe::kClaimGranted);
  Flush();  // what the transaction found on the way
  if (probe_->recording()) {
    if (takeover) {
      probe_->Emit({{"type", "takeover"},        {"item", previous.id},
                    {"agent", agent},            {"owner", previous.owner},
                    {"token", previous.token},   {"lease_until_us", previous.lease_until_us}});
    }
    nlohmann::json granted = {{"type", "claim_ok"}, {"item", previous.id}, {"agent", agent},
                              {"token", token},     {"lease_until_us", lease_until},
                              {"now_us", now},      {"attempt", attempts}};
    if (!previous.skill.empty()) granted["skill"] = previous.skill;
    MarkClock(granted);
    probe_->Emit(granted);
  }
  return Grant{previous.id, agent, token, OwnDeadline(lease_until), attempts, previous.payload};
}

Status PgStore::ExpireLocked(ItemState& s, std::string_view who, ReapReport* report) {
  const std::string previous = s.owner;
  const int64_t token = s.token;
  // As in the fs backend: an effect in the ledger means the holder finished
  // the work under a then-current token before it died; that effect is the
  // item's one effect and the item is done.
  auto ledger = conn_.Exec(fmt::format("SELECT agent, token FROM {} WHERE item = $1", T("ledger")),
                           {pg::P(s.id)});
  if (!ledger.ok()) return ledger.status();
  nlohmann::json event;
  if (!ledger->empty()) {
    s.status = ItemStatus::kDone;
    s.owner = ledger->Text(0, 0);
    s.reason = fmt::format("{} died after writing the effect (token {}); completed by {}",
                           s.owner, ledger->Int(0, 1), who);
    StageReached(probe::kExpireDone);
    event = {{"type", "complete_recovered"}, {"item", s.id},  {"by", who},
             {"owner", previous},            {"token", token}, {"effect_token", ledger->Int(0, 1)}};
    if (report) report->recovered.push_back(s.id);
  } else if (s.attempts >= config_.max_attempts) {
    s.status = ItemStatus::kDead;
    s.owner.clear();
    s.reason = fmt::format("lease of {} (token {}) expired after {} attempts of {}", previous,
                           token, s.attempts, config_.max_attempts);
    StageReached(probe::kExpireDead);
    event = {{"type", "dead_letter"}, {"item", s.id},   {"by", who},
             {"owner", previous},     {"token", token}, {"reason", s.reason}};
    if (report) report->dead_lettered.push_back(s.id);
  } else {
    s.status = ItemStatus::kPending;
    s.owner.clear();
    StageReached(probe::kExpirePending);
    event = {{"type", "lease_expired"}, {"item", s.id},  {"by", who},
             {"owner", previous},       {"token", token}};
    if (report) report->returned.push_back(s.id);
  }
  s.lease_until_us = 0;
  auto rows = conn_.Exec(fmt::format("UPDATE {} SET status = $2, owner = $3, lease_until_us = 0, "
                                     "reason = $4 WHERE id = $1",
                                     T("items")),
                         {pg::P(s.id), pg::P(Name(s.status)), pg::P(s.owner), pg::P(s.reason)});
  if (!rows.ok()) return rows.status();
  Stage(std::move(event));
  return Status::Ok();
}

Status PgStore::DeadLetterPendingLocked(ItemState& s, std::string_view who) {
  s.status = ItemStatus::kDead;
  s.owner.clear();
  s.lease_until_us = 0;
  s.reason = fmt::format("pending after {} failed attempts, and max_attempts is {}", s.attempts,
                         config_.max_attempts);
  auto rows = conn_.Exec(fmt::format("UPDATE {} SET status = 'dead', owner = '', "
                                     "lease_until_us = 0, reason = $2 WHERE id = $1",
                                     T("items")),
                         {pg::P(s.id), pg::P(s.reason)});
  if (!rows.ok()) return rows.status();
  StageReached(probe::kClaimDeadLetter);
  Stage({{"type", "dead_letter"}, {"item", s.id}, {"by", who}, {"owner", ""},
         {"token", s.token}, {"reason", s.reason}});
  return Status::Ok();
}

}  // namespace swarm
