// The fs backend's janitor pass (Reap) and its read-only picture of the
// whole store (Inspect, for swarm status).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "coordinator/fs_store.h"
#include "coordinator/fs_util.h"
#include "sim/protocol/control_protocol.h"

namespace swarm {
namespace {

namespace point = faultline::protocol::point;
namespace probe = faultline::protocol::probe;

using fs::StripSuffix;

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
// Every name in `dir`, sorted; none when it cannot be listed.
std::vector<std::string> SortedNames(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

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
  // One item that cannot be read (EIO) must not stop the pass for every
  // other claim, dead agent and stale lock: it is passed over, and the first
  // such error is returned once the pass is done.
  Status unread = Status::Ok();
  auto markers = fs::ListDir(Sub("claims"));
  if (!markers.ok()) return markers.status();
  for (const std::string& id : *markers) {
    auto state = ReadItem(id);
    bool expired = state.ok() && ExpiredToOthers(*state, now);
    bool stale_marker = state.ok() && state->status != ItemStatus::kClaimed;
    bool corrupt = state.status().code() == Status::Code::kCorrupt;
    bool missing = state.status().code() == Status::Code::kNotFound;
    if (!state.ok() && !corrupt && !missing) {
      if (unread.ok()) unread = state.status();
      continue;
    }
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
      if (Status expiry = ExpireLocked(*locked, "reaper", &report); !expiry.ok()) {
        if (unread.ok()) unread = expiry;
        continue;
      }
    } else if (!locked.ok() || locked->status != ItemStatus::kClaimed) {
      if (!locked.ok() && locked.status().code() != Status::Code::kNotFound) {
        if (unread.ok()) unread = locked.status();
        continue;
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
    probe_->Reached(probe::kDeclareDead);
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
  if (!unread.ok()) return unread;
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

Result<nlohmann::json> FsStore::EndState() {
  // What faultline's reference SUT reads at the end of a run, file by file:
  // nothing here may judge a file more kindly than a recovering reader.
  nlohmann::json items = nlohmann::json::array();
  bool completed = true;
  for (const std::string& name : SortedNames(Sub("items"))) {
    if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    const std::string id = name.substr(0, name.size() - 5);
    std::ifstream in(Sub("items/" + name));
    nlohmann::json state = nlohmann::json::parse(in, nullptr, false);
    const std::string status = state.is_object() ? state.value("status", "?") : "unreadable";
    const std::string reason = state.is_object() ? state.value("reason", "") : "";
    completed = completed && (status == "done" || status == "dead" || status == "quarantined");
    items.push_back({{"id", id},
                     {"status", status},
                     {"reason", reason},
                     {"effect", std::filesystem::exists(LedgerPath(id))}});
  }
  return nlohmann::json{{"completed", completed},
                        {"locks", SortedNames(Sub("locks")).size()},
                        {"temps", SortedNames(Sub("tmp")).size()},
                        {"ledger", SortedNames(Sub("ledger")).size()},
                        {"items", std::move(items)}};
}

}  // namespace swarm
