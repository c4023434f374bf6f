#include "coordinator/status_report.h"

#include <fmt/format.h>

namespace swarm {
namespace {

std::string Seconds(int64_t micros) { return fmt::format("{:.1f} s", micros / 1e6); }

std::string Join(const std::vector<std::string>& v, size_t max = 10) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < max; ++i) out += (i ? ", " : "") + v[i];
  if (v.size() > max) out += fmt::format(", ... ({} more)", v.size() - max);
  return out;
}

}  // namespace

nlohmann::json StatusJson(const Snapshot& snap, const std::vector<telemetry::Backlog>& spools) {
  nlohmann::json spool_agents = nlohmann::json::object();
  size_t spool_spans = 0, spool_bytes = 0, spool_segments = 0;
  for (const telemetry::Backlog& b : spools) {
    spool_agents[b.agent] = {{"spans", b.spans}, {"bytes", b.bytes}, {"segments", b.segments},
                             {"owner_running", b.owner_running}};
    spool_spans += b.spans;
    spool_bytes += b.bytes;
    spool_segments += b.segments;
  }
  nlohmann::json claims = nlohmann::json::array();
  for (const LiveClaim& c : snap.claims) {
    claims.push_back({{"item", c.item}, {"owner", c.owner}, {"token", c.token},
                      {"lease_until_us", c.lease_until_us},
                      {"lease_remaining_ms", (c.lease_until_us - snap.now_us) / 1000},
                      {"attempts", c.attempts}});
  }
  nlohmann::json agents = nlohmann::json::object();
  nlohmann::json dead_agents = nlohmann::json::array();
  for (const AgentView& a : snap.agents) {
    agents[a.record.id] = {{"status", Name(a.record.status)},
                           {"pid", a.record.pid},
                           {"heartbeat_age_ms", (snap.now_us - a.record.heartbeat_us) / 1000},
                           {"presumed_dead", a.presumed_dead},
                           {"holding", a.record.holding},
                           {"fingerprint", a.record.fingerprint},
                           {"reason", a.record.reason},
                           {"skills", a.record.skills}};
    if (a.presumed_dead || a.record.status == AgentStatus::kDead) dead_agents.push_back(a.record.id);
  }
  return {{"items",
           {{"pending", snap.pending},
            {"claimed", snap.claimed},
            {"done", snap.done},
            {"dead", snap.dead},
            {"quarantined", snap.quarantined},
            {"corrupt", snap.corrupt}}},
          {"locks", snap.locks},
          {"stale_locks", snap.stale_locks},
          {"ledger_effects", snap.ledger_effects},
          {"claims", claims},
          {"expired_claims", snap.expired_claims},
          {"dead_letters", snap.dead_letters},
          {"unservable", snap.unservable},
          {"agents", agents},
          {"dead_agents", dead_agents},
          {"halted", snap.halted},
          {"temp_files", snap.temp_files},
          {"quarantine_files", snap.quarantine_files},
          {"config", ToJson(snap.config)},
          {"fingerprint", Fingerprint(snap.config)},
          {"spool",
           {{"spans", spool_spans},
            {"bytes", spool_bytes},
            {"segments", spool_segments},
            {"agents", spool_agents}}}};
}

std::string StatusText(const std::string& dir, const Snapshot& snap,
                       const std::vector<telemetry::Backlog>& spools) {
  const ClusterConfig& c = snap.config;
  std::string out = fmt::format("swarm status {}\n", dir);
  if (snap.halted) out += "  HALT       present: no agent claims (swarm resume DIR to lift)\n";
  out += fmt::format(
      "  config     lease {} ms, heartbeat {} ms, reap every {} ms, agent timeout {} ms, "
      "max attempts {} (fingerprint {})\n",
      c.lease_ms, c.heartbeat_ms, c.reap_interval_ms, c.agent_timeout_ms, c.max_attempts,
      Fingerprint(c));
  out += fmt::format(
      "  items      {} pending, {} claimed, {} done, {} dead, {} quarantined{}\n", snap.pending,
      snap.claimed, snap.done, snap.dead, snap.quarantined,
      snap.corrupt ? fmt::format(", {} CORRUPT (run the reaper or cleanup)", snap.corrupt) : "");
  for (const LiveClaim& cl : snap.claims) {
    int64_t left = cl.lease_until_us - snap.now_us;
    out += fmt::format("  claim      {} by {} (token {}, attempt {}): {}\n", cl.item, cl.owner,
                       cl.token, cl.attempts,
                       left > 0 ? "lease " + Seconds(left) + " left"
                                : "EXPIRED " + Seconds(-left) + " ago, the reaper will return it");
  }
  for (const std::string& d : snap.dead_letters) out += "  dead       " + d + "\n";
  for (const std::string& u : snap.unservable) out += "  UNSERVABLE " + u + "\n";
  out += fmt::format("  locks      {} lock files{}\n", snap.locks,
                     snap.stale_locks.empty()
                         ? ""
                         : fmt::format(", {} STALE ({})", snap.stale_locks.size(),
                                       Join(snap.stale_locks)));
  out += fmt::format("  ledger     {} effects\n", snap.ledger_effects);
  size_t alive = 0, dead = 0;
  for (const AgentView& a : snap.agents) {
    bool is_dead = a.presumed_dead || a.record.status == AgentStatus::kDead;
    (is_dead ? dead : alive) += a.record.status == AgentStatus::kAlive || is_dead;
  }
  out += fmt::format("  agents     {} alive, {} dead, {} registered\n", alive, dead,
                     snap.agents.size());
  for (const AgentView& a : snap.agents) {
    std::string state(Name(a.record.status));
    if (a.presumed_dead) state = "DEAD? (no heartbeat within agent timeout)";
    if (a.record.status == AgentStatus::kDead) state = "DEAD";
    out += fmt::format("  agent      {} pid {}{}: {}, heartbeat {} ago{}{}\n", a.record.id,
                       a.record.pid,
                       a.record.skills.empty() ? "" : " (skills " + Join(a.record.skills) + ")",
                       state, Seconds(snap.now_us - a.record.heartbeat_us),
                       a.record.holding.empty()
                           ? ""
                           : (state == "alive" ? ", holding " : ", was holding ") +
                                 Join(a.record.holding),
                       a.record.reason.empty() ? "" : " — " + a.record.reason);
  }
  out += fmt::format("  files      {} temp, {} quarantined\n", snap.temp_files,
                     snap.quarantine_files);
  if (!spools.empty()) {
    size_t spans = 0, bytes = 0;
    for (const telemetry::Backlog& b : spools) spans += b.spans, bytes += b.bytes;
    out += fmt::format("  spool      {} spans ({} bytes) not yet taken by the collector{}\n", spans,
                       bytes, spans ? "" : ": nothing waiting");
    for (const telemetry::Backlog& b : spools) {
      if (b.spans == 0) continue;
      out += fmt::format("  spool      {}: {} spans in {} sealed batches{}\n", b.agent, b.spans,
                         b.segments,
                         b.owner_running ? " (the agent runs and resends them)"
                                         : " (agent not running: the reaper exports them)");
    }
  }
  return out;
}

std::string CleanupText(const ReapReport& r) {
  const char* verb = r.dry_run ? "would " : "";
  std::string out;
  auto line = [&](const char* what, const std::vector<std::string>& v) {
    if (!v.empty()) out += fmt::format("{}{} {}: {}\n", verb, what, v.size(), Join(v));
  };
  line("return expired claims", r.returned);
  line("dead-letter expired claims", r.dead_lettered);
  line("mark done expired claims whose effect was written", r.recovered);
  line("declare dead agents", r.agents_dead);
  line("remove stale locks", r.stale_locks);
  line("remove orphan temp files", r.orphan_temps);
  line("remove stale claim markers", r.stale_markers);
  line("quarantine corrupt files", r.quarantined);
  line("remove records of dead agents", r.dead_agent_records);
  if (out.empty()) out = "nothing to clean up\n";
  if (r.dry_run) out += "(dry run: nothing was changed)\n";
  return out;
}

}  // namespace swarm
