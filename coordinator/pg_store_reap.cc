// The PostgreSQL backend's janitor pass (Reap) and its read-only views
// (Inspect for swarm status, EndState for swarm dump).
#include <fmt/format.h>

#include <set>

#include "coordinator/pg_store.h"
#include "sim/protocol/control_protocol.h"

namespace swarm {
namespace {

namespace point = faultline::protocol::point;
namespace probe = faultline::protocol::probe;

}  // namespace

Result<ReapReport> PgStore::Reap(const ReapOptions& options) {
  // The janitor follows the cluster's settings as they are now.
  if (auto current = LoadCluster(); current.ok()) config_ = *current;
  ReapReport report;
  report.dry_run = options.dry_run;
  auto now = LeaseNow();
  if (!now.ok()) return now.status();

  auto expired = conn_.Exec(
      fmt::format("SELECT i.id, i.attempts, l.item IS NOT NULL FROM {} i LEFT JOIN {} l "
                  "ON l.item = i.id WHERE i.status = 'claimed' AND i.lease_until_us <= $1 "
                  "ORDER BY i.id",
                  T("items"), T("ledger")),
      {pg::P(*now - config_.clock_skew_ms * 1000)});
  if (!expired.ok()) return expired.status();
  for (int r = 0; r < expired->size(); ++r) {
    const std::string id = expired->Text(r, 0);
    if (options.dry_run) {
      (expired->Bool(r, 2)                                ? report.recovered
       : expired->Int(r, 1) >= config_.max_attempts ? report.dead_lettered
                                                          : report.returned)
          .push_back(id);
      continue;
    }
    Discard();
    pg::Txn txn(&conn_);
    SWARM_RETURN_IF_ERROR(txn.Begin());
    // Re-read under the row lock; a row held by someone else (its holder
    // renewing, an agent taking it over) is theirs now: next pass.
    auto rows = conn_.Exec(fmt::format("SELECT {} FROM {} WHERE id = $1 FOR UPDATE SKIP LOCKED",
                                       kItemColumns, T("items")),
                           {pg::P(id)});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) continue;
    auto state = ItemFromRow(*rows, 0);
    if (!state.ok()) return state.status();
    if (!state->LeaseExpired(*now - config_.clock_skew_ms * 1000)) continue;
    SWARM_RETURN_IF_ERROR(ExpireLocked(*state, "reaper", &report));
    SWARM_RETURN_IF_ERROR(txn.Commit());
    Flush();
    probe_->Yield(point::kReapStateWritten, id);
  }

  // Agents that stopped heartbeating, re-checked under the row lock so that
  // one heartbeating meanwhile is never declared dead.
  auto agents = conn_.Exec(fmt::format("SELECT id, record FROM {} ORDER BY id", T("agents")));
  if (!agents.ok()) return agents.status();
  const int64_t timeout_us = (config_.agent_timeout_ms + config_.clock_skew_ms) * 1000;
  for (int r = 0; r < agents->size(); ++r) {
    const std::string id = agents->Text(r, 0);
    auto record = AgentFromJson(agents->Text(r, 1), "agents/" + id);
    if (!record.ok()) continue;  // written whole by this backend; a foreign row is left alone
    const bool silent =
        record->status == AgentStatus::kAlive && record->heartbeat_us + timeout_us < *now;
    const bool gone = record->status != AgentStatus::kAlive;
    const bool remove = options.remove_dead_agents && (gone || silent);
    if (!remove && !silent) continue;
    if (options.dry_run) {
      (remove ? report.dead_agent_records : report.agents_dead).push_back(id);
      continue;
    }
    Discard();
    pg::Txn txn(&conn_);
    SWARM_RETURN_IF_ERROR(txn.Begin());
    auto again = conn_.Exec(
        fmt::format("SELECT record FROM {} WHERE id = $1 FOR UPDATE SKIP LOCKED", T("agents")),
        {pg::P(id)});
    if (!again.ok()) return again.status();
    if (again->empty()) continue;  // heartbeating right now: not dead
    auto fresh = AgentFromJson(again->Text(0, 0), "agents/" + id);
    if (!fresh.ok()) continue;
    const bool still_silent =
        fresh->status == AgentStatus::kAlive && fresh->heartbeat_us + timeout_us < *now;
    if (remove) {
      if (fresh->status == AgentStatus::kAlive && !still_silent) continue;
      auto gone_row = conn_.Exec(fmt::format("DELETE FROM {} WHERE id = $1", T("agents")),
                                 {pg::P(id)});
      if (!gone_row.ok()) return gone_row.status();
      SWARM_RETURN_IF_ERROR(txn.Commit());
      report.dead_agent_records.push_back(id);
      continue;
    }
    if (!still_silent) continue;
    fresh->status = AgentStatus::kDead;
    fresh->reason = fmt::format("no heartbeat for {} ms (agent_timeout_ms {})",
                                (*now - fresh->heartbeat_us) / 1000, config_.agent_timeout_ms);
    auto wrote = conn_.Exec(fmt::format("UPDATE {} SET record = $2 WHERE id = $1", T("agents")),
                            {pg::P(id), pg::P(ToJson(*fresh).dump())});
    if (!wrote.ok()) return wrote.status();
    SWARM_RETURN_IF_ERROR(txn.Commit());
    probe_->Reached(probe::kDeclareDead);
    if (probe_->recording()) {
      nlohmann::json dead = {{"type", "agent_dead"},
                             {"agent", id},
                             {"last_heartbeat_us", fresh->heartbeat_us},
                             {"now_us", *now},
                             {"agent_timeout_ms", config_.agent_timeout_ms},
                             {"reason", fresh->reason}};
      MarkClock(dead);
      probe_->Emit(dead);
    }
    report.agents_dead.push_back(id);
  }
  if (report.Total() > 0 && !options.dry_run && probe_->recording()) {
    probe_->Emit({{"type", "reap"}, {"returned", report.returned.size()},
                  {"dead_lettered", report.dead_lettered.size()},
                  {"agents_dead", report.agents_dead.size()}, {"stale_locks", 0},
                  {"orphan_temps", 0}});
  }
  return report;
}

Result<Snapshot> PgStore::Inspect() {
  Snapshot snap;
  auto now = LeaseNow();
  if (!now.ok()) return now.status();
  snap.now_us = *now;
  auto config = LoadCluster();
  if (!config.ok()) return config.status();
  snap.config = *config;
  snap.halted = Halted();
  auto items = conn_.Exec(fmt::format("SELECT {} FROM {} WHERE status <> 'done' ORDER BY id",
                                      kItemColumns, T("items")));
  if (!items.ok()) return items.status();
  std::vector<std::pair<std::string, std::string>> needing_skill;
  for (int r = 0; r < items->size(); ++r) {
    auto s = ItemFromRow(*items, r);
    if (!s.ok()) {
      ++snap.corrupt;
      continue;
    }
    if (!s->skill.empty() && !IsTerminal(s->status)) needing_skill.emplace_back(s->id, s->skill);
    switch (s->status) {
      case ItemStatus::kPending: ++snap.pending; break;
      case ItemStatus::kClaimed:
        ++snap.claimed;
        snap.claims.push_back({s->id, s->owner, s->token, s->lease_until_us, s->attempts});
        if (s->LeaseExpired(snap.now_us - snap.config.clock_skew_ms * 1000)) {
          snap.expired_claims.push_back(s->id);
        }
        break;
      case ItemStatus::kDone: break;
      case ItemStatus::kDead:
        ++snap.dead;
        snap.dead_letters.push_back(s->id + ": " + s->reason);
        break;
      case ItemStatus::kQuarantined: ++snap.quarantined; break;
    }
  }
  auto counts = conn_.Exec(fmt::format(
      "SELECT (SELECT count(*) FROM {} WHERE status = 'done'), (SELECT count(*) FROM {})",
      T("items"), T("ledger")));
  if (!counts.ok()) return counts.status();
  snap.done = static_cast<size_t>(counts->Int(0, 0));
  snap.ledger_effects = static_cast<size_t>(counts->Int(0, 1));

  auto agents = conn_.Exec(fmt::format("SELECT id, record FROM {} ORDER BY id", T("agents")));
  if (!agents.ok()) return agents.status();
  const int64_t timeout_us = (snap.config.agent_timeout_ms + snap.config.clock_skew_ms) * 1000;
  std::set<std::string> live_skills;
  for (int r = 0; r < agents->size(); ++r) {
    auto record = AgentFromJson(agents->Text(r, 1), "agents/" + agents->Text(r, 0));
    if (!record.ok()) continue;
    AgentView view{*record, record->status == AgentStatus::kAlive &&
                                record->heartbeat_us + timeout_us < snap.now_us};
    if (record->status == AgentStatus::kAlive && !view.presumed_dead) {
      live_skills.insert(record->skills.begin(), record->skills.end());
    }
    snap.agents.push_back(std::move(view));
  }
  for (const auto& [id, skill] : needing_skill) {
    if (!live_skills.count(skill)) {
      snap.unservable.push_back(
          fmt::format("{}: needs skill {}, which no live agent has", id, skill));
    }
  }
  return snap;
}

Result<nlohmann::json> PgStore::EndState() {
  auto rows = conn_.Exec(fmt::format("SELECT i.id, i.status, i.reason, l.item IS NOT NULL "
                                     "FROM {} i LEFT JOIN {} l ON l.item = i.id ORDER BY i.id",
                                     T("items"), T("ledger")));
  if (!rows.ok()) return rows.status();
  nlohmann::json items = nlohmann::json::array();
  bool completed = true;
  size_t ledger = 0;
  for (int r = 0; r < rows->size(); ++r) {
    const std::string status = rows->Text(r, 1);
    completed = completed && (status == "done" || status == "dead" || status == "quarantined");
    ledger += rows->Bool(r, 3) ? 1 : 0;
    items.push_back({{"id", rows->Text(r, 0)},
                     {"status", status},
                     {"reason", rows->Text(r, 2)},
                     {"effect", rows->Bool(r, 3)}});
  }
  // No lock files or temp files exist in this backend: row locks end with
  // their transaction.
  return nlohmann::json{{"completed", completed},
                        {"locks", 0},
                        {"temps", 0},
                        {"ledger", ledger},
                        {"items", std::move(items)}};
}

}  // namespace swarm
