// The fs backend's claim path: finding claimable work (expired claims
// first, then a cursor walk over the open items) and the claim itself
// (fs_store.h; docs/coordinator.md, "claim").
#include <fmt/format.h>

#include <algorithm>

#include "coordinator/fs_store.h"
#include "coordinator/fs_util.h"
#include "sim/protocol/control_protocol.h"

namespace swarm {
namespace {

namespace point = faultline::protocol::point;
namespace probe = faultline::protocol::probe;

using fs::StripSuffix;

// A walk that found nothing to claim lists items/ again at most this many
// heartbeat periods after the last listing (unless the agent is about to be
// told no work is left): a fallback for items added without a line in the
// submission log.
constexpr int64_t kRelistEveryHeartbeats = 10;
// A stat of one ledger entry costs a syscall and a path lookup; a listing of
// ledger/ costs a few syscalls and the names. After this many entries found
// one stat at a time, the walk lists ledger/ again.
constexpr int kLedgerFoundBeforeListing = 64;

uint64_t HashId(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

// ---------------------------------------------------------------------------
// Claims

Result<ClaimOutcome> FsStore::ClaimNext(const std::string& agent) {
  // Expired claims first, a few times per lease period: the markers name
  // every live claim, so a scan costs in proportion to them, and a dead
  // holder's item is taken over promptly whether or not the reaper is up.
  // A claim this process read before, with a lease that has not run out
  // since, cannot have expired (a lease only moves later while it is
  // claimed): it is not read again.
  const int64_t now = clock_->NowMicros();
  int tried = 0;  // claims attempted and lost in this call
  if (now >= next_expiry_scan_us_) {
    next_expiry_scan_us_ = now + config_.lease_ms * 1000 / 4;
    auto markers = fs::ListDir(Sub("claims"));
    if (!markers.ok()) return markers.status();
    for (const std::string& id : *markers) {
      if (auto held = held_.find(id); held != held_.end() && !HeldPast(held->second, now)) continue;
      auto state = ReadItem(id);
      if (state.ok() && state->status != ItemStatus::kClaimed) {
        held_.erase(id);
        SWARM_RETURN_IF_ERROR(DropStaleMarker(id));
        continue;
      }
      if (!state.ok() || !CanDo(*state, agent)) continue;
      if (!ExpiredToOthers(*state, now)) {
        held_[id] = state->lease_until_us;
        continue;
      }
      held_.erase(id);
      auto grant = Claim(id, agent);
      if (grant.ok()) return ClaimOutcome{std::move(*grant), true};
      if (grant.status().IsStorageError()) return grant.status();
      ++tried;
    }
  }
  // The items not yet known to be finished are kept between calls and walked
  // from a cursor, so that a claim costs a few file reads, not a read of
  // every item. items/ is listed again only when it may have gained names:
  // when the submission log grew (every submit appends the ids it added),
  // and, for items added without a word in the log (a submitter that died
  // before appending, a hand-made file), when a walk found nothing to claim
  // — always before the agent is told no work is left, else at most once
  // per kRelistEveryHeartbeats heartbeat periods.
  const int64_t announced = Announced();
  const bool relisted = agent != listed_for_ || announced != announced_;
  if (relisted) SWARM_RETURN_IF_ERROR(Relist(agent, announced));
  auto outcome = Walk(agent, &tried);
  if (outcome.ok() && !outcome->grant && !relisted &&
      (!outcome->work_remaining ||
       now >= listed_at_us_ + kRelistEveryHeartbeats * config_.heartbeat_ms * 1000)) {
    SWARM_RETURN_IF_ERROR(Relist(agent, announced));
    outcome = Walk(agent, &tried);
  }
  if (outcome.ok() && !outcome->grant && tried > 0) {
    // Work was there but every race for it was lost: what the coordination
    // success rate of the runbooks counts against.
    Event({{"type", "claim_contended"}, {"agent", agent}, {"tried", tried}});
  }
  if (outcome.ok() && !outcome->grant && !outcome->work_remaining) {
    // The walk counts an item with a ledger effect as finished; one whose
    // holder died between the ledger write and the done write is still
    // claimed, and its marker says so: the work is not over until it is
    // taken over and marked done.
    // Only the claims this agent could take over count: an item needing a
    // skill it lacks is never its work.
    auto markers = fs::ListDir(Sub("claims"));
    if (!markers.ok()) return markers.status();
    outcome->work_remaining =
        std::any_of(markers->begin(), markers->end(),
                    [&](const std::string& id) { return MarkerConcerns(id, agent); });
  }
  return outcome;
}

bool FsStore::CanDo(const ItemState& state, const std::string& agent) const {
  if (state.skill.empty()) return true;
  const auto it = skills_.find(agent);
  return it != skills_.end() && HasSkill(it->second, state.skill);
}

bool FsStore::MarkerConcerns(const std::string& id, const std::string& agent) {
  auto state = ReadItem(id);
  return !state.ok() || CanDo(*state, agent);
}

Status FsStore::DropStaleMarker(const std::string& id) {
  auto lock = FileLock::TryAcquire(ItemLockPath(id));
  if (!lock.ok()) return lock.status().IsBusy() ? Status::Ok() : lock.status();
  auto state = ReadItem(id);
  if (state.ok() && state->status == ItemStatus::kClaimed) return Status::Ok();
  return fs::Remove(claims_dir_, id, /*durable=*/false);
}

Status FsStore::Relist(const std::string& agent, int64_t announced) {
  auto names = fs::ListDir(Sub("items"));
  if (!names.ok()) return names.status();
  if (agent != listed_for_) {
    // Another agent's skills (tests share a store): what was learnt for the
    // last one does not hold for this one.
    others_.clear();
    held_.clear();
  }
  listed_for_ = agent;
  announced_ = announced;
  listed_at_us_ = clock_->NowMicros();
  open_.clear();
  for (const std::string& name : *names) {
    std::string id = StripSuffix(name, ".json");
    if (!id.empty() && !terminal_.count(id) && !others_.count(id)) open_.push_back(std::move(id));
  }
  // Agents start at different places, so that they rarely contend.
  cursor_ = open_.empty() || claim_order_ == ClaimOrder::kFifo ? 0 : HashId(agent) % open_.size();
  // An item with a ledger entry is finished (its existence decides): one
  // listing of ledger/ tells the walk of all of them at once, where it would
  // stat each as it met it — late in a run, every agent would stat nearly
  // every item. They stay in open_, so the walk meets and drops them exactly
  // where it did (the order of claims is unchanged), only without the stat.
  // The listing is only a shortcut: when it cannot be had, the walk stats.
  ListLedger();
  return Status::Ok();
}

void FsStore::ListLedger() {
  // Straight into terminal_ (an entry is never removed, so its item stays
  // finished): one set of finished items, not a second copy of the ledger.
  // open_ is made before this, so the items stay in it until a walk meets
  // them.
  ledger_found_ = 0;
  if (auto effects = fs::ListDir(Sub("ledger")); effects.ok()) {
    for (const std::string& name : *effects) {
      std::string id = StripSuffix(name, ".json");
      if (!id.empty()) terminal_.insert(std::move(id));
    }
  }
}

bool FsStore::StillHeld(const std::string& id, int64_t now_us,
                        std::optional<std::set<std::string>>* markers) {
  const auto held = held_.find(id);
  if (held == held_.end()) return false;
  if (HeldPast(held->second, now_us)) {
    held_.erase(held);
    return false;
  }
  if (!markers->has_value()) {
    // One listing of claims/ a walk, and only when it meets such an item.
    // When it cannot be had, every item is read as before.
    auto listed = fs::ListDir(Sub("claims"));
    markers->emplace();
    if (listed.ok()) (*markers)->insert(listed->begin(), listed->end());
  }
  if ((*markers)->count(id)) return true;
  // No marker: the item is not claimed any more (a claimed item always has
  // one: it is made durable before the claimed state, and removed only after
  // the state left claimed). Read it.
  held_.erase(id);
  return false;
}

Result<ClaimOutcome> FsStore::Walk(const std::string& agent, int* tried) {
  if (claim_order_ == ClaimOrder::kFifo) cursor_ = 0;
  ClaimOutcome out;
  const size_t n = open_.size();
  std::vector<bool> finished(n, false);
  size_t dropped = 0;
  size_t resume = cursor_;
  Status storage = Status::Ok();
  std::optional<std::set<std::string>> markers;  // claims/, listed when first needed
  // Whether the walk met another agent's live claim or lost a race before
  // its grant: another agent is working through the same stretch, and two
  // agents that follow each other item by item would meet at every claim.
  bool crowded = false;
  for (size_t k = 0; k < n; ++k) {
    const size_t index = (cursor_ + k) % n;
    const std::string& id = open_[index];
    if (terminal_.count(id)) {
      finished[index] = true;
      ++dropped;
      continue;
    }
    // Held by a live grant when last read, and still marked: its work (the
    // agent may do it), but nothing to claim now. Not read again until its
    // lease as read runs out or its marker goes (see StillHeld).
    if (StillHeld(id, clock_->NowMicros(), &markers)) {
      out.work_remaining = true;
      crowded = true;
      continue;
    }
    // An item with an effect in the ledger is done: one stat instead of
    // reading and parsing its state (most of what a walk meets late in a run).
    // Once the walks have found that many entries made since ledger/ was
    // listed, listing it again is the cheaper way to learn of the rest.
    if (ledger_found_ >= kLedgerFoundBeforeListing) {
      ListLedger();
      if (terminal_.count(id)) {
        finished[index] = true;
        ++dropped;
        continue;
      }
    }
    if (fs::Exists(ledger_dir_, id + ".json")) {
      ++ledger_found_;
      terminal_.insert(id);
      finished[index] = true;
      ++dropped;
      continue;
    }
    auto state = ReadItem(id);
    if (!state.ok()) {
      if (state.status().code() == Status::Code::kNotFound) continue;  // being quarantined
      if (state.status().code() != Status::Code::kCorrupt) {
        // This item cannot be read now (EIO, EMFILE): pass over it rather
        // than end the walk, so that one bad file does not stop the agent
        // from claiming everything after it. It is still work; the error is
        // reported if the walk finds nothing else.
        storage = state.status();
        out.work_remaining = true;
        continue;
      }
      out.work_remaining = true;  // Claim() re-reads under the lock and quarantines
    } else if (IsTerminal(state->status)) {
      terminal_.insert(id);
      finished[index] = true;
      ++dropped;
      continue;
    } else {
      if (!CanDo(*state, agent)) {
        // Someone else's work, never this agent's (an item's skill never
        // changes): out of this agent's walks for good.
        others_.insert(id);
        finished[index] = true;
        ++dropped;
        continue;
      }
      out.work_remaining = true;
      const int64_t now = clock_->NowMicros();
      bool claimable = state->status == ItemStatus::kPending || ExpiredToOthers(*state, now);
      if (!claimable) {
        held_[id] = state->lease_until_us;
        crowded = true;
        continue;
      }
    }
    auto grant = Claim(id, agent);
    if (grant.ok()) {
      out.grant = std::move(*grant);
      // The next walk goes on after the item granted, or, when this one was
      // crowded, starts at a fresh place of its own (kSpread): where the
      // listing once placed this agent, the places ahead of it are taken.
      resume = crowded && claim_order_ == ClaimOrder::kSpread
                   ? static_cast<size_t>(HashId(agent) ^ (++jumps_ * 0x9e3779b97f4a7c15ULL)) % n
                   : index + 1;
      break;
    }
    if (grant.status().IsStorageError()) {
      storage = grant.status();
    } else if (grant.status().IsBusy()) {
    probe_->Reached(probe::kClaimBusy);
      // Another agent holds the item's lock right now: a race lost.
      Event({{"type", "claim_race_lost"}, {"agent", agent}, {"item", id}});
    }
    crowded = true;
    ++*tried;
  }
  // Drop the items found finished; the next walk starts after the one granted.
  if (dropped == 0) {
    cursor_ = n == 0 ? 0 : resume % n;
  } else {
    std::vector<std::string> still_open;
    still_open.reserve(n - dropped);
    size_t new_cursor = 0;
    for (size_t i = 0; i < n; ++i) {
      if (i == resume % n) new_cursor = still_open.size();
      if (!finished[i]) still_open.push_back(std::move(open_[i]));
    }
    open_ = std::move(still_open);
    cursor_ = open_.empty() ? 0 : new_cursor % open_.size();
  }
  if (out.grant) return out;
  if (!storage.ok()) return storage;
  return out;
}

Result<Grant> FsStore::Claim(const std::string& id, const std::string& agent) {
  auto lock = FileLock::TryAcquire(ItemLockPath(id));
  if (!lock.ok()) return lock.status();
  probe_->Yield(point::kClaimLocked, id);
  auto state = ReadItem(id);
  if (!state.ok()) {
    if (state.status().code() == Status::Code::kCorrupt) {
      SWARM_RETURN_IF_ERROR(QuarantineItemLocked(id, state.status()));
      return Status::Conflict(id + " was corrupt and has been quarantined");
    }
    return state.status();
  }
  ItemState s = std::move(*state);
  if (!IsTerminal(s.status) && !CanDo(s, agent)) {
    probe_->Reached(probe::kClaimSkillConflict);
    return Status::Conflict(
        fmt::format("{} needs skill \"{}\", which agent {} does not have", id, s.skill, agent));
  }
  const int64_t now = clock_->NowMicros();
  nlohmann::json takeover;
  if (s.status == ItemStatus::kClaimed && ExpiredToOthers(s, now)) {
    // Takeover of an expired lease, unless the dead holder finished the
    // work (its effect is in the ledger) or the item used up its attempts.
    if (s.attempts >= config_.max_attempts || fs::Exists(ledger_dir_, id + ".json")) {
      probe_->Reached(probe::kTakeoverRecovered);
      SWARM_RETURN_IF_ERROR(ExpireLocked(s, agent, nullptr));
      terminal_.insert(id);
      return Status::Conflict(fmt::format("{} is {}: {}", id, Name(s.status), s.reason));
    }
    // Recorded once the new grant is written: a takeover whose write fails
    // (a full disk) did not happen.
    takeover = nlohmann::json{{"type", "takeover"},         {"item", id},
                              {"agent", agent},             {"owner", s.owner},
                              {"token", s.token},           {"lease_until_us", s.lease_until_us}};
  } else if (s.status != ItemStatus::kPending) {
    if (IsTerminal(s.status)) terminal_.insert(id);
    return Status::Conflict(fmt::format("{} is {}", id, Name(s.status)));
  } else if (s.attempts >= config_.max_attempts) {
    // Pending with its attempts used up: max_attempts was lowered since
    // (swarm configure), or the item was written by a version that counted
    // releases. Every claim path keeps the limit, not only takeovers.
    SWARM_RETURN_IF_ERROR(DeadLetterPendingLocked(s, agent));
    terminal_.insert(id);
    return Status::Conflict(fmt::format("{} is {}: {}", id, Name(s.status), s.reason));
  }
  // The marker goes first, so that a claimed item always has one.
  SWARM_RETURN_IF_ERROR(fs::Touch(claims_dir_, id));
  probe_->Yield(point::kClaimMarked, id);
  s.status = ItemStatus::kClaimed;
  s.token += 1;
  s.owner = agent;
  s.lease_until_us = now + config_.lease_ms * 1000;
  s.attempts += 1;
  SWARM_RETURN_IF_ERROR(WriteItem(s));
  probe_->Yield(point::kClaimStateWritten, id);
  probe_->Reached(takeover.is_null() ? probe::kClaimGranted : probe::kTakeoverAfterExpiry);
  if (!takeover.is_null()) Event(std::move(takeover));
  nlohmann::json granted = {{"type", "claim_ok"}, {"item", id}, {"agent", agent},
                            {"token", s.token}, {"lease_until_us", s.lease_until_us},
                            {"now_us", now}, {"attempt", s.attempts}};
  if (!s.skill.empty()) granted["skill"] = s.skill;
  Event(std::move(granted));
  return Grant{id, agent, s.token, s.lease_until_us, s.attempts, s.payload};
}

}  // namespace swarm
