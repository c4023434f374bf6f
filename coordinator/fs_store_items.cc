// The fs backend's item operations: reading and writing state files,
// quarantine, expiry, and the grant holder's renew/complete/release
// (fs_store.h; docs/coordinator.md explains each transition).
#include <fmt/format.h>

#include "coordinator/fs_store.h"
#include "coordinator/fs_util.h"
#include "sim/protocol/control_protocol.h"

namespace swarm {
namespace {

namespace point = faultline::protocol::point;
namespace probe = faultline::protocol::probe;

}  // namespace

// ---------------------------------------------------------------------------
// Items

Result<ItemState> FsStore::ReadItem(std::string_view id) {
  const std::string rel = fmt::format("items/{}.json", id);  // Rel(ItemPath(id))
  auto text = fs::ReadFile(items_dir_, std::string_view(rel).substr(6));
  if (!text.ok()) return text.status();
  auto state = ItemFromJson(*text, rel);
  if (state.ok() && state->id != id) {
    return Status::Corrupt(fmt::format("{}: names item \"{}\"", rel, state->id));
  }
  return state;
}

Status FsStore::WriteItem(const ItemState& state) {
  return fs::WriteAtomic(tmp_dir_, items_dir_, state.id + ".json", ToJson(state).dump());
}

Result<FsStore::LedgerEntry> FsStore::LookUpLedger(std::string_view id) {
  LedgerEntry entry;
  const std::string path = LedgerPath(id);
  auto present = fs::Present(path);
  if (!present.ok()) return present.status();
  if (!*present) return entry;
  entry.present = true;
  auto text = fs::ReadFile(path);
  auto effect = text.ok() ? EffectFromJson(*text, Rel(path)) : Result<Effect>(text.status());
  if (effect.ok()) {
    entry.effect = std::move(*effect);
  } else {
    // The error without the path, which names the directory: the reason
    // is written to the state and the trace.
    const std::string& message = effect.status().message();
    const size_t colon = message.rfind(": ");
    entry.unreadable = colon == std::string::npos ? message : message.substr(colon + 2);
  }
  return entry;
}

Status FsStore::SyncLedger() { return fs::FsyncDir(ledger_dir_); }

Status FsStore::QuarantineItemLocked(std::string_view id, const Status& why) {
  // A copy goes to quarantine first (a hard link), and the new state then
  // replaces the corrupt file in one rename: a crash in between leaves the
  // corrupt file in place, to be quarantined again, never no file at all.
  // A second attempt at the same time gets a suffixed name.
  std::string name;
  for (int n = 0;; ++n) {
    name = fmt::format("items.{}.json.{}{}", id, clock_->NowMicros(),
                       n == 0 ? "" : fmt::format(".{}", n));
    if (!fs::Exists(Sub("quarantine/" + name))) break;
  }
  SWARM_RETURN_IF_ERROR(fs::Link(ItemPath(id), Sub("quarantine/" + name)));
  probe_->Yield(point::kQuarantineMoved, id);
  ItemState s;
  s.id = std::string(id);
  // The ledger outlives a corrupt state file: an item whose effect is
  // recorded was completed, whatever its state file says now, and whether or
  // not the ledger entry can be read here.
  auto ledger = LookUpLedger(id);
  if (!ledger.ok()) return ledger.status();  // the corrupt file stays; quarantined again later
  if (ledger->present) {
    SWARM_RETURN_IF_ERROR(SyncLedger());  // the corrupt file stays; quarantined again later
    s.status = ItemStatus::kDone;
    if (ledger->effect) {
      s.token = ledger->effect->token;
      s.owner = ledger->effect->agent;
    }
    s.reason = "state file was corrupt (moved to quarantine/" + name + "); done per the ledger";
  } else {
    s.status = ItemStatus::kQuarantined;
    s.reason = "state file was corrupt (" + why.message() + "); moved to quarantine/" + name;
  }
  SWARM_RETURN_IF_ERROR(WriteItem(s));
  SWARM_RETURN_IF_ERROR(fs::Remove(claims_dir_, id, /*durable=*/false));
  probe_->Reached(probe::kQuarantineItem);
  Event({{"type", "quarantine"}, {"item", id}, {"file", "quarantine/" + name},
         {"status", Name(s.status)}, {"reason", why.message()}});
  return Status::Ok();
}

Status FsStore::QuarantineAgent(std::string_view id, const Status& why) {
  auto lock = LockWithRetry(AgentLockPath(id), "quarantine", "", "");
  if (!lock.ok()) return lock.status();
  auto text = fs::ReadFile(AgentPath(id));
  if (!text.ok() || AgentFromJson(*text, Rel(AgentPath(id))).ok()) {
    return Status::Ok();  // rewritten meanwhile (or gone): nothing to quarantine
  }
  std::string name = fmt::format("agents.{}.json.{}", id, clock_->NowMicros());
  SWARM_RETURN_IF_ERROR(fs::Rename(AgentPath(id), Sub("quarantine/" + name)));
  probe_->Reached(probe::kQuarantineAgent);
  Event({{"type", "quarantine"}, {"agent", id}, {"file", "quarantine/" + name},
         {"reason", why.message()}});
  return Status::Ok();
}

Status FsStore::ExpireLocked(ItemState& s, std::string_view who, ReapReport* report) {
  std::string previous = s.owner;
  int64_t token = s.token;
  // A holder that died after writing its effect, before marking the item
  // done, did the work under a then-current token: the item is finished,
  // and the effect in the ledger is its one effect. The entry's existence
  // decides, as everywhere (a walk drops an item that has one): an entry
  // that cannot be read or parsed here is still a recorded effect, and an
  // item taken for unfinished on that account would never be claimed again.
  auto ledger = LookUpLedger(s.id);
  if (!ledger.ok()) return ledger.status();  // cannot tell: nothing changes; tried again later
  const std::optional<Effect>& effect = ledger->effect;
  enum { kPending, kDead, kDone } outcome = kPending;
  if (ledger->present) {
    SWARM_RETURN_IF_ERROR(SyncLedger());  // not durable yet: nothing changes; tried again later
    outcome = kDone;
    s.status = ItemStatus::kDone;
    if (effect) {
      s.owner = effect->agent;
      s.reason = fmt::format("{} died after writing the effect (token {}); completed by {}",
                             effect->agent, effect->token, who);
    } else {
      s.reason = fmt::format(
          "{} (token {}) died after writing the effect, whose ledger entry cannot be read ({}); "
          "completed by {}",
          previous, token, ledger->unreadable, who);
    }
  } else if (s.attempts >= config_.max_attempts) {
    outcome = kDead;
    s.status = ItemStatus::kDead;
    s.owner.clear();
    s.reason = fmt::format("lease of {} (token {}) expired after {} attempts of {}", previous,
                           token, s.attempts, config_.max_attempts);
  } else {
    s.status = ItemStatus::kPending;
    s.owner.clear();
  }
  s.lease_until_us = 0;
  SWARM_RETURN_IF_ERROR(WriteItem(s));
  probe_->Yield(point::kReapStateWritten, s.id);
  SWARM_RETURN_IF_ERROR(fs::Remove(claims_dir_, s.id, /*durable=*/false));
  switch (outcome) {
    case kDone:
      if (effect) {
        probe_->Reached(probe::kExpireDone);
        Event({{"type", "complete_recovered"}, {"item", s.id}, {"by", who}, {"owner", previous},
               {"token", token}, {"effect_token", effect->token}});
      } else {
        probe_->Reached(probe::kExpireDone);
        Event({{"type", "complete_recovered"}, {"item", s.id}, {"by", who}, {"owner", previous},
               {"token", token}, {"unreadable", ledger->unreadable}});
      }
      if (report) report->recovered.push_back(s.id);
      break;
    case kDead:
      probe_->Reached(probe::kExpireDead);
      Event({{"type", "dead_letter"}, {"item", s.id}, {"by", who}, {"owner", previous},
             {"token", token}, {"reason", s.reason}});
      if (report) report->dead_lettered.push_back(s.id);
      break;
    case kPending:
      probe_->Reached(probe::kExpirePending);
      Event({{"type", "lease_expired"}, {"item", s.id}, {"by", who}, {"owner", previous},
             {"token", token}});
      if (report) report->returned.push_back(s.id);
      break;
  }
  return Status::Ok();
}

Status FsStore::DeadLetterPendingLocked(ItemState& s, std::string_view who) {
  s.status = ItemStatus::kDead;
  s.owner.clear();
  s.lease_until_us = 0;
  s.reason = fmt::format("pending after {} failed attempts, and max_attempts is {}", s.attempts,
                         config_.max_attempts);
  SWARM_RETURN_IF_ERROR(WriteItem(s));
  probe_->Reached(probe::kClaimDeadLetter);
  Event({{"type", "dead_letter"}, {"item", s.id}, {"by", who}, {"owner", ""},
         {"token", s.token}, {"reason", s.reason}});
  return Status::Ok();
}

Status FsStore::CheckCurrent(const ItemState& s, const Grant& grant, std::string_view op) {
  if (s.status == ItemStatus::kClaimed && s.token == grant.token && s.owner == grant.agent) {
    return Status::Ok();
  }
  probe_->Reached(op == "renew" ? probe::kRenewStale : op == "complete" ? probe::kCompleteStale : "release.stale");
  Event({{"type", std::string(op) + "_rejected"}, {"item", grant.item}, {"agent", grant.agent},
         {"token", grant.token}, {"current_token", s.token}, {"status", Name(s.status)}});
  return Status::StaleToken(fmt::format(
      "{} of {} with token {} refused: the item is {} with token {}{}", op, grant.item,
      grant.token, Name(s.status), s.token, s.owner.empty() ? "" : " held by " + s.owner));
}

Status FsStore::CheckGrant(const Grant& grant) {
  auto state = ReadItem(grant.item);
  if (!state.ok()) return state.status();
  const ItemState& s = *state;
  if (s.status == ItemStatus::kClaimed && s.token == grant.token && s.owner == grant.agent) {
    return Status::Ok();
  }
  probe_->Reached(probe::kHeartbeatHoldingLost);
  Event({{"type", "holding_lost"}, {"agent", grant.agent}, {"item", grant.item},
         {"token", grant.token}, {"current_token", s.token}, {"status", Name(s.status)}});
  return Status::StaleToken(fmt::format("{} is no longer held with token {}: it is {} with token {}",
                                        grant.item, grant.token, Name(s.status), s.token));
}

Status FsStore::Renew(Grant& grant) {
  auto lock = LockWithRetry(ItemLockPath(grant.item), "renew", grant.agent, grant.item);
  if (!lock.ok()) return lock.status();
  probe_->Yield(point::kRenewLocked, grant.item);
  auto state = ReadItem(grant.item);
  if (!state.ok()) return state.status();
  SWARM_RETURN_IF_ERROR(CheckCurrent(*state, grant, "renew"));
  state->lease_until_us = clock_->NowMicros() + config_.lease_ms * 1000;
  SWARM_RETURN_IF_ERROR(WriteItem(*state));
  grant.lease_until_us = state->lease_until_us;
  probe_->Reached(probe::kRenewOk);
  Event({{"type", "renew_ok"}, {"item", grant.item}, {"agent", grant.agent},
         {"token", grant.token}, {"lease_until_us", grant.lease_until_us},
         {"now_us", clock_->NowMicros()}});
  return Status::Ok();
}

Status FsStore::Complete(const Grant& grant, std::string_view result) {
  auto lock = LockWithRetry(ItemLockPath(grant.item), "complete", grant.agent, grant.item);
  if (!lock.ok()) return lock.status();
  probe_->Yield(point::kCompleteLocked, grant.item);
  auto state = ReadItem(grant.item);
  if (!state.ok()) return state.status();
  SWARM_RETURN_IF_ERROR(CheckCurrent(*state, grant, "complete"));
  const int64_t now = clock_->NowMicros();
  Effect effect{grant.item, grant.agent, grant.token, now, std::string(result)};
  // The item is marked done only once its effect is durable (rule 1 of
  // docs/coordinator.md across a power loss): a failed fsync of ledger/ after
  // the link fails this complete, and its retry (or recovery) syncs again.
  Status unsynced = Status::Ok();
  Status wrote = fs::CreateAtomic(tmp_dir_, ledger_dir_, grant.item + ".json",
                                  ToJson(effect).dump(), &unsynced);
  if (wrote.code() == Status::Code::kConflict) {
    // An earlier holder wrote the effect and died before marking the item
    // done. That effect was accepted under a then-current token; it stays
    // the one effect of this item — also when it cannot be read here (its
    // existence is what makes the item finished; the owner then stays ours).
    auto ledger = LookUpLedger(grant.item);
    if (!ledger.ok()) return ledger.status();
    nlohmann::json present = {{"type", "effect_present"}, {"item", grant.item},
                              {"agent", grant.agent}, {"token", grant.token}};
    if (ledger->effect) {
      effect = *ledger->effect;
      present["effect_token"] = effect.token;
    } else {
      present["unreadable"] = ledger->unreadable;
    }
    probe_->Reached(probe::kCompleteEffectPresent);
    Event(std::move(present));
    SWARM_RETURN_IF_ERROR(SyncLedger());
  } else if (!wrote.ok()) {
    return wrote;
  } else {
    Event({{"type", "effect"}, {"item", grant.item}, {"agent", grant.agent},
           {"token", grant.token}, {"now_us", now}});
    if (!unsynced.ok()) return unsynced;  // made, not synced: the retry finds it and syncs
  }
  probe_->Yield(point::kCompleteLedgerWritten, grant.item);
  ItemState s = std::move(*state);
  s.status = ItemStatus::kDone;
  s.owner = effect.agent;
  s.lease_until_us = 0;
  SWARM_RETURN_IF_ERROR(WriteItem(s));
  probe_->Yield(point::kCompleteStateWritten, grant.item);
  terminal_.insert(grant.item);
  // The marker is only a hint; losing this unlink to a crash is repaired by
  // the reaper.
  SWARM_RETURN_IF_ERROR(fs::Remove(claims_dir_, grant.item, /*durable=*/false));
  probe_->Reached(probe::kCompleteOk);
  Event({{"type", "complete_ok"}, {"item", grant.item}, {"agent", grant.agent},
         {"token", grant.token}, {"now_us", now}});
  return Status::Ok();
}

Status FsStore::Release(const Grant& grant, std::string_view reason) {
  auto lock = LockWithRetry(ItemLockPath(grant.item), "release", grant.agent, grant.item);
  if (!lock.ok()) return lock.status();
  probe_->Yield(point::kReleaseLocked, grant.item);
  auto state = ReadItem(grant.item);
  if (!state.ok()) return state.status();
  SWARM_RETURN_IF_ERROR(CheckCurrent(*state, grant, "release"));
  ItemState s = std::move(*state);
  s.status = ItemStatus::kPending;
  s.owner.clear();
  s.lease_until_us = 0;
  // A release is not a failed attempt: the holder gave the item back
  // (stopping, drift, a failed model call), so the grant's attempt is given
  // back too and `attempts` counts only grants that failed (lease lost,
  // holder crashed) plus a live one. max_attempts judges those alone.
  if (s.attempts > 0) s.attempts -= 1;
  SWARM_RETURN_IF_ERROR(WriteItem(s));
  SWARM_RETURN_IF_ERROR(fs::Remove(claims_dir_, grant.item, /*durable=*/false));
  probe_->Reached(probe::kReleaseOk);
  Event({{"type", "release"}, {"item", grant.item}, {"agent", grant.agent},
         {"token", grant.token}, {"reason", reason}});
  return Status::Ok();
}

}  // namespace swarm
