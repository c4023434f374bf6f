// The PostgreSQL backend (pg_store.h): the tables, opening, the cluster
// settings, submit and agent records. The claim path is in
// pg_store_claim.cc, the holder's operations in pg_store_items.cc, the
// janitor and the read-only views in pg_store_reap.cc.
#include "coordinator/pg_store.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "coordinator/fs_util.h"
#include "sim/protocol/control_protocol.h"

namespace swarm {
namespace {

namespace point = faultline::protocol::point;
namespace probe = faultline::protocol::probe;

// The tables of one schema (pg_store.h). Ids sort bytewise (COLLATE "C"), as
// file names do, so that listings agree with the fs backend's.
std::string SchemaSql(const std::string& s) {
  const std::string q = pg::Quote(s);
  return fmt::format(
      "CREATE SCHEMA IF NOT EXISTS {0};"
      "CREATE TABLE IF NOT EXISTS {0}.meta (key text PRIMARY KEY, value text NOT NULL);"
      "CREATE TABLE IF NOT EXISTS {0}.items ("
      "  id text COLLATE \"C\" PRIMARY KEY,"
      "  seq bigserial NOT NULL,"
      "  status text NOT NULL CHECK (status IN "
      "    ('pending', 'claimed', 'done', 'dead', 'quarantined')),"
      "  token bigint NOT NULL DEFAULT 0,"
      "  owner text NOT NULL DEFAULT '',"
      "  lease_until_us bigint NOT NULL DEFAULT 0,"
      "  attempts integer NOT NULL DEFAULT 0,"
      "  reason text NOT NULL DEFAULT '',"
      "  payload text NOT NULL DEFAULT '',"
      "  skill text NOT NULL DEFAULT '');"
      "CREATE INDEX IF NOT EXISTS items_pending ON {0}.items (seq) WHERE status = 'pending';"
      "CREATE INDEX IF NOT EXISTS items_claimed ON {0}.items (lease_until_us) "
      "  WHERE status = 'claimed';"
      "CREATE TABLE IF NOT EXISTS {0}.ledger ("
      "  item text COLLATE \"C\" PRIMARY KEY REFERENCES {0}.items (id),"
      "  agent text NOT NULL, token bigint NOT NULL, at_us bigint NOT NULL,"
      "  result text NOT NULL);"
      "CREATE TABLE IF NOT EXISTS {0}.agents ("
      "  id text COLLATE \"C\" PRIMARY KEY, host text NOT NULL, record text NOT NULL);"
      "CREATE SEQUENCE IF NOT EXISTS {0}.item_numbers;",
      q);
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

}  // namespace

int64_t PgTimeoutMs() {
  const char* env = std::getenv("SWARM_PG_TIMEOUT_MS");
  const long long v = env == nullptr ? 0 : std::atoll(env);
  return v > 0 ? v : 5000;
}

// ---------------------------------------------------------------------------
// Creating and opening

Status PgStore::Init(const PgLocation& where, const ClusterConfig& config) {
  if (!pg::IsValidSchema(where.schema)) {
    return Status::InvalidArgument(fmt::format(
        "schema \"{}\" is not valid: use 1-63 of a-z 0-9 _, starting with a letter or _",
        where.schema));
  }
  pg::Connection conn(where.url, PgTimeoutMs());
  pg::Txn txn(&conn);
  SWARM_RETURN_IF_ERROR(txn.Begin());
  // Hosts initialising the same schema at once take turns.
  auto turn = conn.Exec("SELECT pg_advisory_xact_lock(hashtext($1))",
                        {pg::P("swarm-init:" + where.schema)});
  if (!turn.ok()) return turn.status();
  auto exists = conn.Exec("SELECT to_regclass($1) IS NOT NULL",
                          {pg::P(pg::Quote(where.schema) + ".meta")});
  if (!exists.ok()) return exists.status();
  if (exists->Bool(0, 0)) {
    // Before anything is created: tables of another version are not touched.
    auto version = LoadSchema(conn, where.schema);
    if (!version.ok() && version.status().code() != Status::Code::kNotFound) {
      return version.status();
    }
    if (version.ok()) {
      if (Fingerprint(*version) != Fingerprint(config)) {
        return Status::InvalidArgument(fmt::format(
            "schema \"{}\" at {} already holds a swarm cluster with other settings ({}); "
            "initialise with the same --config to join it, change it with `swarm configure`, "
            "or choose another --schema",
            where.schema, conn.Where(), DescribeDifference(*version, config)));
      }
      return txn.Commit();  // joining: nothing to create
    }
  }
  auto made = conn.Exec(SchemaSql(where.schema));
  if (!made.ok()) return made.status();
  const std::string meta = pg::Quote(where.schema) + ".meta";
  auto wrote = conn.Exec(
      fmt::format("INSERT INTO {} (key, value) VALUES ('store_version', $1), ('cluster', $2) "
                  "ON CONFLICT (key) DO NOTHING",
                  meta),
      {pg::P(kStoreVersion), pg::P(ClusterText(config, kClusterRecord))});
  if (!wrote.ok()) return wrote.status();
  return txn.Commit();
}

Result<ClusterConfig> PgStore::LoadSchema(pg::Connection& conn, const std::string& schema) {
  const std::string q = pg::Quote(schema);
  auto exists = conn.Exec("SELECT to_regclass($1) IS NOT NULL", {pg::P(q + ".meta")});
  if (!exists.ok()) return exists.status();
  if (!exists->Bool(0, 0)) {
    return Status::InvalidArgument(fmt::format(
        "the database at {} has no swarm tables in schema \"{}\"; create them with `swarm init "
        "DIR --store postgres`",
        conn.Where(), schema));
  }
  auto rows = conn.Exec(fmt::format("SELECT key, value FROM {}.meta WHERE key IN "
                                    "('store_version', 'cluster') ORDER BY key",
                                    q));
  if (!rows.ok()) return rows.status();
  std::string version, cluster;
  for (int r = 0; r < rows->size(); ++r) {
    (rows->Text(r, 0) == "cluster" ? cluster : version) = rows->Text(r, 1);
  }
  if (version != std::to_string(kStoreVersion)) {
    return Status::InvalidArgument(fmt::format(
        "schema \"{}\" at {} holds swarm tables of store version {}, and this swarm reads "
        "version {}; use the swarm that made them, or initialise another --schema",
        schema, conn.Where(), version.empty() ? "(none)" : version, kStoreVersion));
  }
  if (cluster.empty()) return Status::NotFound("schema \"" + schema + "\" has no cluster record");
  return ParseCluster(cluster, kClusterRecord, "schema " + schema + " meta.cluster");
}

Result<std::unique_ptr<PgStore>> PgStore::Open(const PgLocation& where, Clock* clock,
                                               Probe* probe) {
  if (!pg::IsValidSchema(where.schema)) {
    return Status::InvalidArgument("schema \"" + where.schema + "\" is not valid");
  }
  std::unique_ptr<PgStore> store(new PgStore(where, ClusterConfig{}, clock, probe));
  SWARM_RETURN_IF_ERROR(store->LoadConfig());
  return store;
}

Status PgStore::LoadConfig() {
  auto config = LoadSchema(conn_, where_.schema);
  if (!config.ok()) return config.status();
  config_ = *config;
  return Status::Ok();
}

PgStore::PgStore(PgLocation where, ClusterConfig config, Clock* clock, Probe* probe)
    : where_(std::move(where)),
      config_(config),
      clock_(clock),
      probe_(probe),
      conn_(where_.url, PgTimeoutMs()) {}

std::string PgStore::T(std::string_view name) const {
  return pg::Quote(where_.schema) + "." + std::string(name);
}

Result<int64_t> PgStore::LeaseNow() {
  server_clock_ = clock_->Skewed();
  lease_now_own_us_ = clock_->NowMicros();
  if (clock_->Simulated()) {
    lease_now_store_us_ = clock_->ServerMicros();
    return lease_now_store_us_;
  }
  auto rows = conn_.Exec("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint");
  if (!rows.ok()) return rows.status();
  lease_now_store_us_ = rows->Int(0, 0);
  return lease_now_store_us_;
}

void PgStore::Flush() {
  for (const std::string& p : staged_probes_) probe_->Reached(p);
  if (probe_->recording()) {
    for (const nlohmann::json& e : staged_) probe_->Emit(e);
  }
  Discard();
}

void PgStore::Discard() {
  staged_.clear();
  staged_probes_.clear();
}

Result<ItemState> PgStore::ItemFromRow(const pg::Rows& rows, int r) {
  ItemState s;
  s.id = rows.Text(r, 0);
  const std::string status = rows.Text(r, 1);
  bool known = false;
  for (ItemStatus st : {ItemStatus::kPending, ItemStatus::kClaimed, ItemStatus::kDone,
                        ItemStatus::kDead, ItemStatus::kQuarantined}) {
    if (Name(st) == status) s.status = st, known = true;
  }
  if (!known) return Status::Corrupt(fmt::format("item {}: unknown status \"{}\"", s.id, status));
  s.token = rows.Int(r, 2);
  s.owner = rows.Text(r, 3);
  s.lease_until_us = rows.Int(r, 4);
  s.attempts = static_cast<int>(rows.Int(r, 5));
  s.reason = rows.Text(r, 6);
  s.payload = rows.Text(r, 7);
  s.skill = rows.Text(r, 8);
  return s;
}

bool PgStore::CanDo(const ItemState& s, const std::string& agent) const {
  if (s.skill.empty()) return true;
  const auto it = skills_.find(agent);
  return it != skills_.end() && HasSkill(it->second, s.skill);
}

// ---------------------------------------------------------------------------
// Cluster, halt, submit

Result<ClusterConfig> PgStore::LoadCluster() {
  auto rows = conn_.Exec(fmt::format("SELECT value FROM {} WHERE key = 'cluster'", T("meta")));
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::Corrupt("schema " + where_.schema + ": no cluster record");
  return ParseCluster(rows->Text(0, 0), kClusterRecord, "schema " + where_.schema + " meta.cluster");
}

Status PgStore::Reconfigure(const ClusterConfig& config) {
  auto rows = conn_.Exec(fmt::format("UPDATE {} SET value = $1 WHERE key = 'cluster'", T("meta")),
                         {pg::P(ClusterText(config, kClusterRecord))});
  if (!rows.ok()) return rows.status();
  config_ = config;
  return Status::Ok();
}

bool PgStore::Halted() {
  // Unknown (the server unreachable) reads as not halted: an agent then
  // finds out at its claim, which fails the same way, rather than taking the
  // outage for a halt and, with --exit-when-idle, leaving.
  auto rows = conn_.Exec(fmt::format("SELECT 1 FROM {} WHERE key = 'halted'", T("meta")));
  return rows.ok() && !rows->empty();
}

Status PgStore::SetHalted(bool halted) {
  Result<pg::Rows> rows =
      halted ? conn_.Exec(fmt::format("INSERT INTO {} (key, value) VALUES ('halted', $1) "
                                      "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                                      T("meta")),
                          {pg::P(fmt::format("halted at {} us", clock_->NowMicros()))})
             : conn_.Exec(fmt::format("DELETE FROM {} WHERE key = 'halted'", T("meta")));
  return rows.ok() ? Status::Ok() : rows.status();
}

Result<size_t> PgStore::Submit(const std::vector<std::pair<std::string, std::string>>& items,
                               std::string_view skill) {
  if (!skill.empty() && !IsValidSkill(skill)) {
    return Status::InvalidArgument(fmt::format(
        "skill \"{}\" is not valid: use 1-128 of A-Z a-z 0-9 . _ - , not starting with . or -",
        skill));
  }
  std::vector<std::string> ids, payloads;
  for (const auto& [id, payload] : items) {
    if (!IsValidId(id)) {
      return Status::InvalidArgument(fmt::format(
          "item id \"{}\" is not valid: use 1-128 of A-Z a-z 0-9 . _ - , not starting with . or -",
          id));
    }
    ids.push_back(id);
    payloads.push_back(payload);
  }
  if (ids.empty()) return size_t{0};
  // One statement: the batch is added whole or not at all; ids already
  // present are left alone; seq follows the batch's order.
  auto rows = conn_.Exec(
      fmt::format("INSERT INTO {} (id, status, payload, skill) "
                  "SELECT u.id, 'pending', u.payload, $3 FROM unnest($1::text[], $2::text[]) "
                  "WITH ORDINALITY AS u(id, payload, n) ORDER BY u.n "
                  "ON CONFLICT (id) DO NOTHING",
                  T("items")),
      {pg::ArrayParam(ids), pg::ArrayParam(payloads), pg::P(skill)});
  if (!rows.ok()) return rows.status();
  if (rows->Affected() > 0) RefreshStatistics();
  return static_cast<size_t>(rows->Affected());
}

void PgStore::RefreshStatistics() {
  // Without statistics (a table just filled) the planner reckons a handful
  // of pending rows and answers each claim's `ORDER BY seq LIMIT 1` by
  // reading and sorting every pending row, on every claim (quadratic in the
  // queue). With them it walks the pending index in order and stops at the
  // first row it can lock. Autovacuum would analyse the table too, but only
  // after its nap (a minute by default). Only speed depends on it: a failure
  // (a role that does not own the table is warned, not refused) changes no
  // outcome, so it is not the submit's.
  (void)conn_.Exec(fmt::format("ANALYZE {}", T("items")));
}

Result<std::vector<std::string>> PgStore::SubmitGenerated(std::string_view prefix, int64_t count,
                                                          std::string_view skill) {
  if (!IsValidId(fmt::format("{}{:06}", prefix, 1))) {
    return Status::InvalidArgument(fmt::format(
        "prefix \"{}\" does not make valid item ids: use A-Z a-z 0-9 . _ - , not starting with . "
        "or -, and at most 122 characters",
        prefix));
  }
  if (!skill.empty() && !IsValidSkill(skill)) {
    return Status::InvalidArgument(fmt::format(
        "skill \"{}\" is not valid: use 1-128 of A-Z a-z 0-9 . _ - , not starting with . or -",
        skill));
  }
  // Numbers come from a sequence, which never hands one out twice, so that
  // concurrent submitters never collide; an id taken by name meanwhile is
  // passed over (ON CONFLICT) and another number drawn. All in one
  // transaction: the items are added together or not at all.
  pg::Txn txn(&conn_);
  SWARM_RETURN_IF_ERROR(txn.Begin());
  std::vector<std::string> added;
  while (static_cast<int64_t>(added.size()) < count) {
    const int64_t need = count - static_cast<int64_t>(added.size());
    auto numbers = conn_.Exec(
        fmt::format("SELECT nextval('{}') FROM generate_series(1, $1)", T("item_numbers")),
        {pg::P(need)});
    if (!numbers.ok()) return numbers.status();
    std::vector<std::string> ids, payloads;
    for (int r = 0; r < numbers->size(); ++r) {
      ids.push_back(fmt::format("{}{:06}", prefix, numbers->Int(r, 0)));
      payloads.push_back("payload of " + ids.back());
    }
    auto rows = conn_.Exec(
        fmt::format("INSERT INTO {} (id, status, payload, skill) "
                    "SELECT u.id, 'pending', u.payload, $3 FROM unnest($1::text[], $2::text[]) "
                    "WITH ORDINALITY AS u(id, payload, n) ORDER BY u.n "
                    "ON CONFLICT (id) DO NOTHING RETURNING id",
                    T("items")),
        {pg::ArrayParam(ids), pg::ArrayParam(payloads), pg::P(skill)});
    if (!rows.ok()) return rows.status();
    std::set<std::string> taken;
    for (int r = 0; r < rows->size(); ++r) taken.insert(rows->Text(r, 0));
    for (std::string& id : ids) {
      if (taken.count(id)) {
        added.push_back(std::move(id));
      } else {
        probe_->Reached(probe::kSubmitIdTaken);  // taken by name meanwhile: passed over
      }
    }
  }
  SWARM_RETURN_IF_ERROR(txn.Commit());
  if (!added.empty()) RefreshStatistics();
  // The ids this submitter added, as the fs backend reports them
  // (no_lost_submission checks each against the end state).
  if (probe_->recording()) probe_->Emit({{"type", "submit_ok"}, {"ids", added}});
  return added;
}

// ---------------------------------------------------------------------------
// Agents

Status PgStore::Register(const AgentRecord& agent) {
  auto now = LeaseNow();
  if (!now.ok()) return now.status();
  AgentRecord record = agent;
  if (!clock_->Simulated() || clock_->Skewed()) {
    record.registered_us = record.heartbeat_us = *now;
  }
  const std::string host = HostName();
  pg::Txn txn(&conn_);
  Result<pg::Rows> old = Status::Busy("");
  // The row may be held for a moment (the reaper declaring the id's previous
  // process dead): try again shortly, as the fs backend does for its lock.
  for (int i = 0; i < 50; ++i) {
    if (i > 0) {
      conn_.Rollback();
      clock_->SleepMicros(2000);
    }
    SWARM_RETURN_IF_ERROR(txn.Begin());
    old = conn_.Exec(
        fmt::format("SELECT host, record FROM {} WHERE id = $1 FOR UPDATE NOWAIT", T("agents")),
        {pg::P(agent.id)});
    if (old.ok() || !old.status().IsBusy()) break;
  }
  if (!old.ok()) return old.status();
  if (!old->empty()) {
    auto prev = AgentFromJson(old->Text(0, 1), "agents/" + agent.id);
    // On this host a process id tells; from another host only a heartbeat
    // within agent_timeout_ms (on the store's clock) says it still runs.
    const bool same_host = old->Text(0, 0) == host;
    if (prev.ok() && prev->status == AgentStatus::kAlive && prev->pid != agent.pid &&
        (same_host ? fs::ProcessAlive(prev->pid)
                   : prev->heartbeat_us + config_.agent_timeout_ms * 1000 >= *now)) {
      return Status::Conflict(fmt::format(
          "agent id \"{}\" is already in use by live process {} on {}; choose another --id",
          agent.id, prev->pid, old->Text(0, 0)));
    }
  }
  auto wrote = conn_.Exec(
      fmt::format("INSERT INTO {} (id, host, record) VALUES ($1, $2, $3) ON CONFLICT (id) "
                  "DO UPDATE SET host = EXCLUDED.host, record = EXCLUDED.record",
                  T("agents")),
      {pg::P(agent.id), pg::P(host), pg::P(ToJson(record).dump())});
  if (!wrote.ok()) return wrote.status();
  SWARM_RETURN_IF_ERROR(txn.Commit());
  probe_->Yield(point::kRegisterWritten, "");
  skills_[agent.id] = agent.skills;
  nlohmann::json event = {{"type", "register"}, {"agent", agent.id},
                          {"fingerprint", agent.fingerprint}};
  if (!agent.skills.empty()) event["skills"] = agent.skills;
  probe_->Reached(probe::kRegisterOk);
  if (probe_->recording()) probe_->Emit(event);
  return Status::Ok();
}

Status PgStore::Heartbeat(AgentRecord& agent, const Grant* held, bool* lost) {
  auto now = LeaseNow();
  if (!now.ok()) return now.status();
  if (!clock_->Simulated() || clock_->Skewed()) agent.heartbeat_us = *now;
  for (int attempt = 0;; ++attempt) {
    // What an earlier transaction staged and did not commit is not this
    // one's to report (a completion cut after its ledger insert staged an
    // effect).
    Discard();
    pg::Txn txn(&conn_);
    SWARM_RETURN_IF_ERROR(txn.Begin());
    auto old = conn_.Exec(
        fmt::format("SELECT record FROM {} WHERE id = $1 FOR UPDATE NOWAIT", T("agents")),
        {pg::P(agent.id)});
    if (!old.ok()) return old.status();
    if (held != nullptr) {
      // Under the row's shared lock, so that no takeover commits between
      // this check and the record's: the record is never out of date.
      auto state = ShareItem(held->item);
      if (state.status().IsBusy()) {
        conn_.Rollback();
        SWARM_RETURN_IF_ERROR(WaitForRow(attempt, held->item, "heartbeat", agent.id));
        continue;
      }
      const Status checked = state.ok() ? CheckHeld(*state, *held) : state.status();
      if (checked.code() == Status::Code::kStaleToken ||
          checked.code() == Status::Code::kNotFound) {
        agent.holding.erase(std::remove(agent.holding.begin(), agent.holding.end(), held->item),
                            agent.holding.end());
        if (lost != nullptr) *lost = true;
      } else if (!checked.ok()) {
        return checked;  // nothing proven either way; nothing written
      }
    }
    if (!old->empty()) {
      auto prev = AgentFromJson(old->Text(0, 0), "agents/" + agent.id);
      if (prev.ok() && prev->status == AgentStatus::kDead) {
        StageReached(probe::kAgentBack);
        Stage({{"type", "agent_back"}, {"agent", agent.id}, {"declared_dead", prev->reason}});
      }
    }
    auto wrote = conn_.Exec(
        fmt::format("INSERT INTO {} (id, host, record) VALUES ($1, $2, $3) ON CONFLICT (id) "
                    "DO UPDATE SET record = EXCLUDED.record",
                    T("agents")),
        {pg::P(agent.id), pg::P(HostName()), pg::P(ToJson(agent).dump())});
    if (!wrote.ok()) return wrote.status();
    if (Status s = txn.Commit(); !s.ok()) {
      Discard();
      return s;
    }
    Flush();
    break;
  }
  SWARM_RETURN_IF_ERROR(TraceHeartbeat(agent, held, lost));
  probe_->Yield(point::kHeartbeatWritten, "");
  return Status::Ok();
}

Status PgStore::MarkAgent(const AgentRecord& agent) {
  AgentRecord record = agent;
  if (!clock_->Simulated() || clock_->Skewed()) {
    auto now = LeaseNow();
    if (!now.ok()) return now.status();
    record.heartbeat_us = *now;
  }
  auto wrote = conn_.Exec(
      fmt::format("INSERT INTO {} (id, host, record) VALUES ($1, $2, $3) ON CONFLICT (id) "
                  "DO UPDATE SET record = EXCLUDED.record",
                  T("agents")),
      {pg::P(agent.id), pg::P(HostName()), pg::P(ToJson(record).dump())});
  return wrote.ok() ? Status::Ok() : wrote.status();
}

}  // namespace swarm
