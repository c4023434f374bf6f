#include "coordinator/fs_store.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "coordinator/fs_util.h"
#include "sim/protocol/control_protocol.h"

namespace swarm {
namespace {

namespace point = faultline::protocol::point;

constexpr const char* kFormat = "swarm-coordination-dir";
constexpr const char* kSubdirs[] = {"items", "claims", "locks", "ledger",
                                    "agents", "quarantine", "tmp"};
constexpr int kLockRetries = 50;
constexpr int64_t kLockRetrySleepUs = 2000;

std::string StripSuffix(const std::string& name, std::string_view suffix) {
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(),
                                                  suffix) == 0) {
    return name.substr(0, name.size() - suffix.size());
  }
  return {};
}

uint64_t HashId(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// "item: needs skill S" for each item whose skill no live agent has.
std::vector<std::string> Unservable(const std::vector<std::pair<std::string, std::string>>& items,
                                    const std::vector<AgentView>& agents) {
  std::set<std::string> live_skills;
  for (const AgentView& a : agents) {
    if (a.record.status != AgentStatus::kAlive || a.presumed_dead) continue;
    live_skills.insert(a.record.skills.begin(), a.record.skills.end());
  }
  std::vector<std::string> out;
  for (const auto& [id, skill] : items) {
    if (!live_skills.count(skill)) {
      out.push_back(fmt::format("{}: needs skill {}, which no live agent has", id, skill));
    }
  }
  return out;
}

Result<ClusterConfig> ParseCluster(const std::string& text, const std::string& where) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != kFormat ||
      !j.contains("config") || !j.contains("fingerprint") || !j["fingerprint"].is_string()) {
    return Status::Corrupt(where + ": not a swarm cluster file");
  }
  auto config = ConfigFromJson(j["config"], where);
  if (!config.ok()) return Status::Corrupt(config.status().message());
  if (Fingerprint(*config) != j["fingerprint"].get<std::string>()) {
    return Status::Corrupt(where + ": fingerprint does not match its settings");
  }
  return config;
}

std::string ClusterText(const ClusterConfig& config) {
  nlohmann::json j = {{"format", kFormat}, {"config", ToJson(config)},
                      {"fingerprint", Fingerprint(config)}};
  return j.dump(2) + "\n";
}

}  // namespace

// ---------------------------------------------------------------------------
// Opening and paths

Status FsStore::Init(const std::string& dir, const ClusterConfig& config) {
  if (fs::Exists(dir + "/cluster.json")) {
    return Status::InvalidArgument(dir + " is already a swarm coordination directory");
  }
  if (fs::Exists(dir)) {
    if (!fs::IsDirectory(dir)) return Status::InvalidArgument(dir + " exists and is not a directory");
    auto names = fs::ListDir(dir);
    if (!names.ok()) return names.status();
    if (!names->empty()) {
      return Status::InvalidArgument(dir + " is not empty and not a swarm coordination directory; "
                                           "choose an empty or new directory");
    }
  }
  SWARM_RETURN_IF_ERROR(fs::MakeDir(dir));
  for (const char* sub : kSubdirs) SWARM_RETURN_IF_ERROR(fs::MakeDir(dir + "/" + sub));
  SWARM_RETURN_IF_ERROR(fs::FsyncDir(dir));
  // cluster.json last: its presence is what makes the directory usable.
  return fs::WriteAtomic(dir + "/tmp", dir + "/cluster.json", ClusterText(config));
}

Result<std::unique_ptr<FsStore>> FsStore::Open(const std::string& dir, Clock* clock,
                                               Probe* probe) {
  auto config = LoadDir(dir);
  if (!config.ok()) return config.status();
  return std::unique_ptr<FsStore>(new FsStore(dir, *config, clock, probe));
}

Result<ClusterConfig> FsStore::LoadDir(const std::string& dir) {
  if (!fs::IsDirectory(dir)) {
    return Status::InvalidArgument(dir + " does not exist; create it with `swarm init " + dir + "`");
  }
  if (!fs::Exists(dir + "/cluster.json")) {
    return Status::InvalidArgument(dir + " is not a swarm coordination directory (no cluster.json); "
                                         "create one with `swarm init DIR`");
  }
  for (const char* sub : kSubdirs) {
    if (!fs::IsDirectory(dir + "/" + sub)) {
      return Status::InvalidArgument(fmt::format(
          "{} is missing its {}/ directory; it was not made by `swarm init` or was damaged", dir,
          sub));
    }
  }
  auto text = fs::ReadFile(dir + "/cluster.json");
  if (!text.ok()) return text.status();
  return ParseCluster(*text, dir + "/cluster.json");
}

FsStore::FsStore(std::string dir, ClusterConfig config, Clock* clock, Probe* probe)
    : dir_(std::move(dir)), config_(config), clock_(clock), probe_(probe) {}

std::string FsStore::ItemPath(std::string_view id) const {
  return fmt::format("{}/items/{}.json", dir_, id);
}
std::string FsStore::ItemLockPath(std::string_view id) const {
  return fmt::format("{}/locks/{}.lock", dir_, id);
}
std::string FsStore::AgentPath(std::string_view id) const {
  return fmt::format("{}/agents/{}.json", dir_, id);
}
std::string FsStore::AgentLockPath(std::string_view id) const {
  return fmt::format("{}/locks/@agent.{}.lock", dir_, id);
}
std::string FsStore::MarkerPath(std::string_view id) const {
  return fmt::format("{}/claims/{}", dir_, id);
}
std::string FsStore::LedgerPath(std::string_view id) const {
  return fmt::format("{}/ledger/{}.json", dir_, id);
}

void FsStore::Event(nlohmann::json event) {
  // A change whose directory fsync failed (fs_util.h) stands, and the
  // operation went on as committed: reported before the operation's own
  // event, as a storage problem that did not fail an operation.
  if (Status unsynced = fs::TakeUnsyncedError(); !unsynced.ok()) {
    std::fprintf(stderr, "swarm: %s; the change was made but may not survive a crash of the "
                         "machine\n", unsynced.ToString().c_str());
    const size_t colon = unsynced.message().rfind(": ");
    if (probe_->recording()) {
      probe_->Emit({{"type", "storage_unsynced"},
                    {"code", unsynced.CodeName()},
                    {"error", unsynced.message().substr(colon == std::string::npos ? 0 : colon + 2)}});
    }
  }
  if (probe_->recording()) probe_->Emit(event);
}

Result<FileLock> FsStore::LockWithRetry(const std::string& path, std::string_view op,
                                         std::string_view who, std::string_view item) {
  for (int i = 0;; ++i) {
    auto lock = FileLock::TryAcquire(path);
    if (lock.ok() || !lock.status().IsBusy()) return lock;
    if (i == kLockRetries) {
      Event({{"type", "lock_timeout"}, {"agent", who}, {"item", item}, {"op", op}});
      return lock;
    }
    probe_->Yield(point::kLockBusy, path.substr(path.find_last_of('/') + 1));
    clock_->SleepMicros(kLockRetrySleepUs);
  }
}

// ---------------------------------------------------------------------------
// Cluster, halt, submit

Result<ClusterConfig> FsStore::LoadCluster() {
  auto text = fs::ReadFile(Sub("cluster.json"));
  if (!text.ok()) return text.status();
  return ParseCluster(*text, "cluster.json");
}

Status FsStore::Reconfigure(const ClusterConfig& config) {
  SWARM_RETURN_IF_ERROR(fs::WriteAtomic(Sub("tmp"), Sub("cluster.json"), ClusterText(config)));
  config_ = config;
  return Status::Ok();
}

bool FsStore::Halted() { return fs::Exists(Sub("HALT")); }

Status FsStore::SetHalted(bool halted) {
  if (halted) {
    return fs::WriteAtomic(Sub("tmp"), Sub("HALT"),
                           fmt::format("halted at {} us\n", clock_->NowMicros()));
  }
  return fs::Remove(Sub("HALT"), /*durable=*/true);
}

Result<size_t> FsStore::Submit(const std::vector<std::pair<std::string, std::string>>& items,
                               std::string_view skill) {
  if (!skill.empty() && !IsValidSkill(skill)) {
    return Status::InvalidArgument(fmt::format(
        "skill \"{}\" is not valid: use 1-128 of A-Z a-z 0-9 . _ - , not starting with . or -",
        skill));
  }
  size_t added = 0;
  for (const auto& [id, payload] : items) {
    if (!IsValidId(id)) {
      return Status::InvalidArgument(fmt::format(
          "item id \"{}\" is not valid: use 1-128 of A-Z a-z 0-9 . _ - , not starting with . or -",
          id));
    }
    ItemState s;
    s.id = id;
    s.payload = payload;
    s.skill = std::string(skill);
    Status st = fs::CreateAtomic(Sub("tmp"), ItemPath(id), ToJson(s).dump());
    if (st.code() == Status::Code::kConflict) continue;
    if (!st.ok()) return st;
    ++added;
  }
  return added;
}

// ---------------------------------------------------------------------------
// Agents

Status FsStore::Register(const AgentRecord& agent) {
  auto lock = LockWithRetry(AgentLockPath(agent.id), "register", agent.id, "");
  if (!lock.ok()) return lock.status();
  auto text = fs::ReadFile(AgentPath(agent.id));
  if (text.ok()) {
    auto old = AgentFromJson(*text, Rel(AgentPath(agent.id)));
    if (old.ok() && old->status == AgentStatus::kAlive && old->pid != agent.pid &&
        fs::ProcessAlive(old->pid)) {
      return Status::Conflict(fmt::format(
          "agent id \"{}\" is already in use by live process {}; choose another --id", agent.id,
          old->pid));
    }
  }
  SWARM_RETURN_IF_ERROR(fs::WriteAtomic(Sub("tmp"), AgentPath(agent.id), ToJson(agent).dump()));
  probe_->Yield(point::kRegisterWritten, "");
  skills_[agent.id] = agent.skills;
  nlohmann::json event = {{"type", "register"}, {"agent", agent.id},
                          {"fingerprint", agent.fingerprint}};
  if (!agent.skills.empty()) event["skills"] = agent.skills;
  Event(std::move(event));
  return Status::Ok();
}

Status FsStore::Heartbeat(AgentRecord& agent, const Grant* held, bool* lost) {
  auto lock = LockWithRetry(AgentLockPath(agent.id), "heartbeat", agent.id, "");
  if (!lock.ok()) return lock.status();
  probe_->Yield(point::kHeartbeatLocked, "");
  // The holding is checked after the last yield before the write, so that
  // the record written is true at the moment it is written.
  if (held != nullptr) {
    const Status checked = CheckGrant(*held);
    const Status::Code check = checked.code();
    // Stale, or the item's file is damaged or gone: nothing names this agent
    // as the holder any more. A storage error proves nothing either way: while
    // the lease runs nobody else may take the item, but once it has run out
    // (at this heartbeat's time) a holding that cannot be checked is given up
    // rather than claimed — the item may be someone else's by now.
    const bool unverifiable_after_lease =
        checked.IsStorageError() && held->lease_until_us <= agent.heartbeat_us;
    if (check == Status::Code::kStaleToken || check == Status::Code::kCorrupt ||
        check == Status::Code::kNotFound || unverifiable_after_lease) {
      agent.holding.erase(std::remove(agent.holding.begin(), agent.holding.end(), held->item),
                          agent.holding.end());
      if (lost != nullptr) *lost = true;
    }
  }
  auto text = fs::ReadFile(AgentPath(agent.id));
  if (text.ok()) {
    auto old = AgentFromJson(*text, Rel(AgentPath(agent.id)));
    if (old.ok() && old->status == AgentStatus::kDead) {
      Event({{"type", "agent_back"}, {"agent", agent.id}, {"declared_dead", old->reason}});
    }
  }
  SWARM_RETURN_IF_ERROR(fs::WriteAtomic(Sub("tmp"), AgentPath(agent.id), ToJson(agent).dump()));
  Event({{"type", "heartbeat"}, {"agent", agent.id}, {"at_us", agent.heartbeat_us},
         {"holding", agent.holding}});
  probe_->Yield(point::kHeartbeatWritten, "");
  return Status::Ok();
}

Status FsStore::MarkAgent(const AgentRecord& agent) {
  auto lock = LockWithRetry(AgentLockPath(agent.id), "mark_agent", agent.id, "");
  if (!lock.ok()) return lock.status();
  return fs::WriteAtomic(Sub("tmp"), AgentPath(agent.id), ToJson(agent).dump());
}

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

Result<ClaimOutcome> FsStore::ClaimNext(const std::string& agent) {
  // Expired claims first, a few times per lease period: the markers name
  // every live claim, so a scan costs in proportion to them, and a dead
  // holder's item is taken over promptly whether or not the reaper is up.
  const int64_t now = clock_->NowMicros();
  int tried = 0;  // claims attempted and lost in this call
  if (now >= next_expiry_scan_us_) {
    next_expiry_scan_us_ = now + config_.lease_ms * 1000 / 4;
    auto markers = fs::ListDir(Sub("claims"));
    if (!markers.ok()) return markers.status();
    for (const std::string& id : *markers) {
      auto state = ReadItem(id);
      if (state.ok() && state->status != ItemStatus::kClaimed) {
        SWARM_RETURN_IF_ERROR(DropStaleMarker(id));
        continue;
      }
      if (!state.ok() || !ExpiredToOthers(*state, now) || !CanDo(*state, agent)) continue;
      auto grant = Claim(id, agent);
      if (grant.ok()) return ClaimOutcome{std::move(*grant), true};
      if (grant.status().IsStorageError()) return grant.status();
      ++tried;
    }
  }
  // The items not yet known to be finished are kept between calls and walked
  // from a cursor, so that a claim costs a few file reads, not a read of
  // every item. New items are picked up by a fresh listing, at most once per
  // heartbeat period, and always before the agent is told no work is left.
  const bool relisted = open_.empty() || now >= next_listing_us_ || agent != listed_for_;
  if (relisted) SWARM_RETURN_IF_ERROR(Relist(agent));
  auto outcome = Walk(agent, &tried);
  if (outcome.ok() && !outcome->grant && !relisted && open_.empty()) {
    SWARM_RETURN_IF_ERROR(Relist(agent));
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
  return fs::Remove(MarkerPath(id), /*durable=*/false);
}

Status FsStore::Relist(const std::string& agent) {
  auto names = fs::ListDir(Sub("items"));
  if (!names.ok()) return names.status();
  if (agent != listed_for_) others_.clear();  // another agent's skills (tests share a store)
  listed_for_ = agent;
  open_.clear();
  for (const std::string& name : *names) {
    std::string id = StripSuffix(name, ".json");
    if (!id.empty() && !terminal_.count(id) && !others_.count(id)) open_.push_back(std::move(id));
  }
  // Agents start at different places, so that they rarely contend.
  cursor_ = open_.empty() || claim_order_ == ClaimOrder::kFifo ? 0 : HashId(agent) % open_.size();
  next_listing_us_ = clock_->NowMicros() + config_.heartbeat_ms * 1000;
  return Status::Ok();
}

Result<ClaimOutcome> FsStore::Walk(const std::string& agent, int* tried) {
  if (claim_order_ == ClaimOrder::kFifo) cursor_ = 0;
  ClaimOutcome out;
  const size_t n = open_.size();
  std::vector<bool> finished(n, false);
  size_t dropped = 0;
  size_t resume = cursor_;
  Status storage = Status::Ok();
  for (size_t k = 0; k < n; ++k) {
    const size_t index = (cursor_ + k) % n;
    const std::string& id = open_[index];
    // An item with an effect in the ledger is done: one stat instead of
    // reading and parsing its state (most of what a walk meets late in a run).
    if (terminal_.count(id) || fs::Exists(LedgerPath(id))) {
      terminal_.insert(id);
      finished[index] = true;
      ++dropped;
      continue;
    }
    auto state = ReadItem(id);
    if (!state.ok()) {
      if (state.status().code() == Status::Code::kNotFound) continue;  // being quarantined
      if (state.status().code() != Status::Code::kCorrupt) return state.status();
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
      bool claimable = state->status == ItemStatus::kPending ||
                       ExpiredToOthers(*state, clock_->NowMicros());
      if (!claimable) continue;
    }
    auto grant = Claim(id, agent);
    if (grant.ok()) {
      out.grant = std::move(*grant);
      resume = index + 1;
      break;
    }
    if (grant.status().IsStorageError()) {
      storage = grant.status();
    } else if (grant.status().IsBusy()) {
      // Another agent holds the item's lock right now: a race lost.
      Event({{"type", "claim_race_lost"}, {"agent", agent}, {"item", id}});
    }
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
    return Status::Conflict(
        fmt::format("{} needs skill \"{}\", which agent {} does not have", id, s.skill, agent));
  }
  const int64_t now = clock_->NowMicros();
  nlohmann::json takeover;
  if (s.status == ItemStatus::kClaimed && ExpiredToOthers(s, now)) {
    // Takeover of an expired lease, unless the dead holder finished the
    // work (its effect is in the ledger) or the item used up its attempts.
    if (s.attempts >= config_.max_attempts || fs::Exists(LedgerPath(id))) {
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
  }
  // The marker goes first, so that a claimed item always has one.
  SWARM_RETURN_IF_ERROR(fs::Touch(MarkerPath(id)));
  probe_->Yield(point::kClaimMarked, id);
  s.status = ItemStatus::kClaimed;
  s.token += 1;
  s.owner = agent;
  s.lease_until_us = now + config_.lease_ms * 1000;
  s.attempts += 1;
  SWARM_RETURN_IF_ERROR(WriteItem(s));
  probe_->Yield(point::kClaimStateWritten, id);
  if (!takeover.is_null()) Event(std::move(takeover));
  nlohmann::json granted = {{"type", "claim_ok"}, {"item", id}, {"agent", agent},
                            {"token", s.token}, {"lease_until_us", s.lease_until_us},
                            {"now_us", now}, {"attempt", s.attempts}};
  if (!s.skill.empty()) granted["skill"] = s.skill;
  Event(std::move(granted));
  return Grant{id, agent, s.token, s.lease_until_us, s.attempts, s.payload};
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

// ---------------------------------------------------------------------------
// The janitor and the diagnostics

Result<ReapReport> FsStore::Reap(const ReapOptions& options) {
  // The janitor follows the cluster's settings as they are now (swarm
  // configure may have changed max_attempts or agent_timeout_ms).
  if (auto current = LoadCluster(); current.ok()) config_ = *current;
  ReapReport report;
  report.dry_run = options.dry_run;
  const int64_t now = clock_->NowMicros();

  // Live claims: the markers name every claimed item (and a few stale ones),
  // so this costs in proportion to live claims, not to all items.
  auto markers = fs::ListDir(Sub("claims"));
  if (!markers.ok()) return markers.status();
  for (const std::string& id : *markers) {
    auto state = ReadItem(id);
    bool expired = state.ok() && ExpiredToOthers(*state, now);
    bool stale_marker = state.ok() && state->status != ItemStatus::kClaimed;
    bool corrupt = state.status().code() == Status::Code::kCorrupt;
    bool missing = state.status().code() == Status::Code::kNotFound;
    if (!state.ok() && !corrupt && !missing) return state.status();
    if (!expired && !stale_marker && !corrupt && !missing) continue;
    if (options.dry_run) {
      if (expired) {
        (fs::Exists(LedgerPath(id))                  ? report.recovered
         : state->attempts >= config_.max_attempts ? report.dead_lettered
                                                    : report.returned)
            .push_back(id);
      } else if (corrupt) {
        report.quarantined.push_back(id);
      } else {
        report.stale_markers.push_back(id);
      }
      continue;
    }
    auto lock = FileLock::TryAcquire(ItemLockPath(id));
    if (!lock.ok()) {
      if (lock.status().IsBusy()) continue;  // someone is working on it; next pass
      return lock.status();
    }
    probe_->Yield(point::kReapLocked, id);
    auto locked = ReadItem(id);  // re-read: it may have changed before we locked
    if (locked.status().code() == Status::Code::kCorrupt) {
      SWARM_RETURN_IF_ERROR(QuarantineItemLocked(id, locked.status()));
      report.quarantined.push_back(id);
    } else if (locked.ok() && ExpiredToOthers(*locked, clock_->NowMicros())) {
      SWARM_RETURN_IF_ERROR(ExpireLocked(*locked, "reaper", &report));
    } else if (!locked.ok() || locked->status != ItemStatus::kClaimed) {
      if (!locked.ok() && locked.status().code() != Status::Code::kNotFound) {
        return locked.status();
      }
      SWARM_RETURN_IF_ERROR(fs::Remove(MarkerPath(id), /*durable=*/false));
      report.stale_markers.push_back(id);
    }
  }

  // Agents that stopped heartbeating. The check is repeated under the
  // agent's lock, so an agent that heartbeats meanwhile is never declared dead.
  auto agents = fs::ListDir(Sub("agents"));
  if (!agents.ok()) return agents.status();
  const int64_t timeout_us = (config_.agent_timeout_ms + config_.clock_skew_ms) * 1000;
  for (const std::string& name : *agents) {
    std::string id = StripSuffix(name, ".json");
    if (id.empty()) continue;
    auto text = fs::ReadFile(AgentPath(id));
    if (!text.ok()) continue;  // removed meanwhile
    auto record = AgentFromJson(*text, Rel(AgentPath(id)));
    if (!record.ok()) {
      report.quarantined.push_back("agents/" + name);
      if (!options.dry_run) SWARM_RETURN_IF_ERROR(QuarantineAgent(id, record.status()));
      continue;
    }
    bool silent = record->status == AgentStatus::kAlive && record->heartbeat_us + timeout_us < now;
    bool gone = record->status != AgentStatus::kAlive;
    if (options.remove_dead_agents && (gone || silent)) {
      if (options.dry_run) {
        report.dead_agent_records.push_back(id);
        continue;
      }
      auto lock = FileLock::TryAcquire(AgentLockPath(id));
      if (!lock.ok()) continue;  // it is heartbeating right now: not dead
      // Re-read under the lock: a heartbeat since the first read keeps it.
      auto again = fs::ReadFile(AgentPath(id));
      auto fresh = again.ok() ? AgentFromJson(*again, Rel(AgentPath(id)))
                              : Result<AgentRecord>(again.status());
      if (!fresh.ok() || (fresh->status == AgentStatus::kAlive &&
                          fresh->heartbeat_us + timeout_us >= clock_->NowMicros())) {
        continue;
      }
      SWARM_RETURN_IF_ERROR(fs::Remove(AgentPath(id), /*durable=*/true));
      report.dead_agent_records.push_back(id);
      continue;
    }
    if (!silent) continue;
    if (options.dry_run) {
      report.agents_dead.push_back(id);
      continue;
    }
    auto lock = FileLock::TryAcquire(AgentLockPath(id));
    if (!lock.ok()) {
      if (lock.status().IsBusy()) continue;  // it is heartbeating right now
      return lock.status();
    }
    auto again = fs::ReadFile(AgentPath(id));
    if (!again.ok()) continue;
    auto fresh = AgentFromJson(*again, Rel(AgentPath(id)));
    if (!fresh.ok() || fresh->status != AgentStatus::kAlive ||
        fresh->heartbeat_us + timeout_us >= clock_->NowMicros()) {
      continue;
    }
    fresh->status = AgentStatus::kDead;
    fresh->reason = fmt::format("no heartbeat for {} ms (agent_timeout_ms {})",
                                (clock_->NowMicros() - fresh->heartbeat_us) / 1000,
                                config_.agent_timeout_ms);
    SWARM_RETURN_IF_ERROR(fs::WriteAtomic(Sub("tmp"), AgentPath(id), ToJson(*fresh).dump()));
    Event({{"type", "agent_dead"}, {"agent", id}, {"last_heartbeat_us", fresh->heartbeat_us},
           {"now_us", clock_->NowMicros()}, {"agent_timeout_ms", config_.agent_timeout_ms},
           {"reason", fresh->reason}});
    report.agents_dead.push_back(id);
  }

  // Lock files nobody holds: left by a holder that died inside its critical
  // section. Taking the lock and releasing it removes the file safely.
  auto locks = fs::ListDir(Sub("locks"));
  if (!locks.ok()) return locks.status();
  for (const std::string& name : *locks) {
    if (FileLock::Probe(Sub("locks/" + name)).ok()) {
      report.stale_locks.push_back(name);
      if (!options.dry_run) (void)FileLock::TryAcquire(Sub("locks/" + name));
    }
  }

  // Temp files whose writer is gone.
  auto temps = fs::ListDir(Sub("tmp"));
  if (!temps.ok()) return temps.status();
  for (const std::string& name : *temps) {
    int pid = fs::TempFileOwner(name);
    if (pid == getpid() || fs::ProcessAlive(pid)) continue;
    report.orphan_temps.push_back(name);
    if (!options.dry_run) SWARM_RETURN_IF_ERROR(fs::Remove(Sub("tmp/" + name), false));
  }
  if (report.Total() > 0 && !options.dry_run) {
    Event({{"type", "reap"}, {"returned", report.returned.size()},
           {"dead_lettered", report.dead_lettered.size()},
           {"agents_dead", report.agents_dead.size()}, {"stale_locks", report.stale_locks.size()},
           {"orphan_temps", report.orphan_temps.size()}});
  }
  return report;
}

Result<Snapshot> FsStore::Inspect() {
  Snapshot snap;
  snap.now_us = clock_->NowMicros();
  auto config = LoadCluster();
  if (!config.ok()) return config.status();
  snap.config = *config;
  snap.halted = Halted();

  auto items = fs::ListDir(Sub("items"));
  if (!items.ok()) return items.status();
  std::vector<std::pair<std::string, std::string>> needing_skill;  // open items: (id, skill)
  for (const std::string& name : *items) {
    std::string id = StripSuffix(name, ".json");
    if (id.empty()) continue;
    auto state = ReadItem(id);
    if (!state.ok()) {
      if (state.status().code() == Status::Code::kCorrupt) ++snap.corrupt;
      continue;
    }
    if (!state->skill.empty() && !IsTerminal(state->status)) {
      needing_skill.emplace_back(id, state->skill);
    }
    switch (state->status) {
      case ItemStatus::kPending: ++snap.pending; break;
      case ItemStatus::kClaimed:
        ++snap.claimed;
        snap.claims.push_back({id, state->owner, state->token, state->lease_until_us,
                               state->attempts});
        if (state->LeaseExpired(snap.now_us - snap.config.clock_skew_ms * 1000)) {
          snap.expired_claims.push_back(id);
        }
        break;
      case ItemStatus::kDone: ++snap.done; break;
      case ItemStatus::kDead:
        ++snap.dead;
        snap.dead_letters.push_back(id + ": " + state->reason);
        break;
      case ItemStatus::kQuarantined: ++snap.quarantined; break;
    }
  }

  auto locks = fs::ListDir(Sub("locks"));
  if (!locks.ok()) return locks.status();
  snap.locks = locks->size();
  for (const std::string& name : *locks) {
    if (FileLock::Probe(Sub("locks/" + name)).ok()) snap.stale_locks.push_back(name);
  }
  for (auto [sub, count] : {std::pair{"ledger", &snap.ledger_effects},
                            std::pair{"tmp", &snap.temp_files},
                            std::pair{"quarantine", &snap.quarantine_files}}) {
    auto names = fs::ListDir(Sub(sub));
    if (!names.ok()) return names.status();
    *count = names->size();
  }

  auto agents = fs::ListDir(Sub("agents"));
  if (!agents.ok()) return agents.status();
  for (const std::string& name : *agents) {
    std::string id = StripSuffix(name, ".json");
    auto text = fs::ReadFile(AgentPath(id));
    if (id.empty() || !text.ok()) continue;
    auto record = AgentFromJson(*text, Rel(AgentPath(id)));
    if (!record.ok()) continue;
    const int64_t timeout_us = (snap.config.agent_timeout_ms + snap.config.clock_skew_ms) * 1000;
    AgentView view{*record, record->status == AgentStatus::kAlive &&
                                record->heartbeat_us + timeout_us < snap.now_us};
    snap.agents.push_back(std::move(view));
  }
  snap.unservable = Unservable(needing_skill, snap.agents);
  return snap;
}

}  // namespace swarm
