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

}  // namespace

// ---------------------------------------------------------------------------
// Items

Result<ItemState> FsStore::ReadItem(std::string_view id) {
  std::string path = ItemPath(id);
  auto text = fs::ReadFile(path);
  if (!text.ok()) return text.status();
  auto state = ItemFromJson(*text, Rel(path));
  if (state.ok() && state->id != id) {
    return Status::Corrupt(fmt::format("{}: names item \"{}\"", Rel(path), state->id));
  }
  return state;
}

Status FsStore::WriteItem(const ItemState& state) {
  return fs::WriteAtomic(Sub("tmp"), ItemPath(state.id), ToJson(state).dump());
}

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
  // recorded was completed, whatever its state file says now.
  auto effect_text = fs::ReadFile(LedgerPath(id));
  auto effect = effect_text.ok() ? EffectFromJson(*effect_text, Rel(LedgerPath(id)))
                                 : Result<Effect>(effect_text.status());
  if (effect.ok()) {
    s.status = ItemStatus::kDone;
    s.token = effect->token;
    s.owner = effect->agent;
    s.reason = "state file was corrupt (moved to quarantine/" + name + "); done per the ledger";
  } else {
    s.status = ItemStatus::kQuarantined;
    s.reason = "state file was corrupt (" + why.message() + "); moved to quarantine/" + name;
  }
  SWARM_RETURN_IF_ERROR(WriteItem(s));
  SWARM_RETURN_IF_ERROR(fs::Remove(MarkerPath(id), /*durable=*/false));
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
  Event({{"type", "quarantine"}, {"agent", id}, {"file", "quarantine/" + name},
         {"reason", why.message()}});
  return Status::Ok();
}

Status FsStore::ExpireLocked(ItemState& s, std::string_view who, ReapReport* report) {
  std::string previous = s.owner;
  int64_t token = s.token;
  // A holder that died after writing its effect, before marking the item
  // done, did the work under a then-current token: the item is finished,
  // and the effect in the ledger is its one effect.
  auto effect_text = fs::ReadFile(LedgerPath(s.id));
  auto effect = effect_text.ok() ? EffectFromJson(*effect_text, Rel(LedgerPath(s.id)))
                                 : Result<Effect>(effect_text.status());
  enum { kPending, kDead, kDone } outcome = kPending;
  if (effect.ok()) {
    outcome = kDone;
    s.status = ItemStatus::kDone;
    s.owner = effect->agent;
    s.reason = fmt::format("{} died after writing the effect (token {}); completed by {}",
                           effect->agent, effect->token, who);
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
  SWARM_RETURN_IF_ERROR(fs::Remove(MarkerPath(s.id), /*durable=*/false));
  switch (outcome) {
    case kDone:
      Event({{"type", "complete_recovered"}, {"item", s.id}, {"by", who}, {"owner", previous},
             {"token", token}, {"effect_token", effect->token}});
      if (report) report->recovered.push_back(s.id);
      break;
    case kDead:
      Event({{"type", "dead_letter"}, {"item", s.id}, {"by", who}, {"owner", previous},
             {"token", token}, {"reason", s.reason}});
      if (report) report->dead_lettered.push_back(s.id);
      break;
    case kPending:
      Event({{"type", "lease_expired"}, {"item", s.id}, {"by", who}, {"owner", previous},
             {"token", token}});
      if (report) report->returned.push_back(s.id);
      break;
  }
  return Status::Ok();
}

Status FsStore::CheckCurrent(const ItemState& s, const Grant& grant, std::string_view op) {
  if (s.status == ItemStatus::kClaimed && s.token == grant.token && s.owner == grant.agent) {
    return Status::Ok();
  }
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
  Status wrote = fs::CreateAtomic(Sub("tmp"), LedgerPath(grant.item), ToJson(effect).dump());
  if (wrote.code() == Status::Code::kConflict) {
    // An earlier holder wrote the effect and died before marking the item
    // done. That effect was accepted under a then-current token; it stays
    // the one effect of this item.
    auto text = fs::ReadFile(LedgerPath(grant.item));
    if (!text.ok()) return text.status();
    auto earlier = EffectFromJson(*text, Rel(LedgerPath(grant.item)));
    if (!earlier.ok()) return earlier.status();
    effect = *earlier;
    Event({{"type", "effect_present"}, {"item", grant.item}, {"agent", grant.agent},
           {"token", grant.token}, {"effect_token", effect.token}});
  } else if (!wrote.ok()) {
    return wrote;
  } else {
    Event({{"type", "effect"}, {"item", grant.item}, {"agent", grant.agent},
           {"token", grant.token}, {"now_us", now}});
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
  SWARM_RETURN_IF_ERROR(fs::Remove(MarkerPath(grant.item), /*durable=*/false));
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
  SWARM_RETURN_IF_ERROR(WriteItem(s));
  SWARM_RETURN_IF_ERROR(fs::Remove(MarkerPath(grant.item), /*durable=*/false));
  Event({{"type", "release"}, {"item", grant.item}, {"agent", grant.agent},
         {"token", grant.token}, {"reason", reason}});
  return Status::Ok();
}

}  // namespace swarm
