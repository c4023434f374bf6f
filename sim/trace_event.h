// One event of a run's history, as a line of trace.jsonl:
//
//   {"seq": 17, "t": 1250000, "proc": "a3", "type": "claim_ok", "item": "w000007",
//    "agent": "a3", "token": 2, "lease_until_us": 4250000, "now_us": 1250000, ...}
//
// "seq" numbers lines from 0; "t" is simulated microseconds since the run
// began (lockstep) or CLOCK_MONOTONIC microseconds since the run began
// (freerun); "proc" names the process the event came from ("sim" for the
// engine's own). The common fields are parsed into members; everything else
// stays in `fields`. Invariant checkers read only this (STYLE.md 7).
//
// Event types and their fields:
//   from the engine ("proc": "sim"):
//     run_start   scenario, seed, mode, cluster_fingerprint, agents, items, every
//                 coordinator setting of sim/settings.h (lease_ms, heartbeat_ms,
//                 reap_interval_ms, agent_timeout_ms, max_attempts, clock_skew_ms),
//                 slo: every SLO bound of sim/settings.h {min_claim_success_percent,
//                 max_lock_timeout_percent, max_rss_growth_kb,
//                 max_monitor_cpu_growth_percent, max_monitor_cpu_us_per_scan,
//                 max_monitor_rss_growth_kb}
//     submit      items (how many were submitted); with skills (sim/skills.h) also
//                 skills: {skill: [item ids]} and agent_skills: {agent: [skills]}
//     spawn       agent (the process id, "reaper" for the reaper), role ("agent" |
//                 "reaper"), restart (bool)
//     exit        agent, role, code (int, when it exited) or signal (int, when killed),
//                 by (the fault that killed it, if one did)
//     stop        agent, role: stopped by the engine at the end of the run (not a death)
//     fault       kind, index (position in the scenario's faults), and what landed
//                 (e.g. agent, point, item, at_us, until_us — run time, like "t")
//     snapshot    locks, temps, claims (live claim markers), live_procs
//     run_end     end ("completed", "sim_limit", "wall_limit", "deadlock", "livelock",
//                 ...), completed (bool: every item done/dead/quarantined), locks, temps,
//                 ledger, items: [{"id", "status", "reason", "effect": bool}],
//                 deadlock: "" or who waits on what; livelock (only when end is
//                 "livelock"): who took the steps at one instant, at which points
//     spool_left  agent, count, spans (sorted ids): what the agent's telemetry spool
//                 still holds at the end (runs with telemetry; agents with nothing left
//                 get none); before run_end
//     sink_received  total, part, parts, spans (sorted ids, at most 1000 per part): the
//                 distinct spans the collector (faultline sink) accepted during the run,
//                 read from its record at the end; "error" instead when the record is
//                 unreadable. Runs with telemetry only; before run_end
//
// Clocks: in lockstep a process's clock (now_us, lease_until_us, at_us of
// heartbeats) reads run time + 1 s; in freerun it is the process's real clock
// (swarm: CLOCK_BOOTTIME + its directory's boot anchor, docs/coordinator.md). In
// freerun the lines are sorted by "t" (the sender's CLOCK_MONOTONIC) at the
// end of the run, so "t" grows with "seq" there too.
//   from the coordinator (coordinator/fs_store.cc, agent.cc):
//     register    agent, fingerprint, skills (when it has any)
//     refused     agent, fingerprint, cluster_fingerprint
//     heartbeat   agent, at_us                agent_dead / agent_back  agent, reason
//     claim_ok    item, agent, token, lease_until_us, now_us, attempt, skill (when the
//                 item needs one)
//     renew_ok    item, agent, token, lease_until_us, now_us
//     effect      item, agent, token, now_us  (the ledger entry was written)
//     effect_present  item, agent, token, effect_token (an earlier effect stands)
//     complete_ok item, agent, token, now_us
//     renew_rejected / complete_rejected / release_rejected
//                 item, agent, token, current_token, status
//     release     item, agent, token, reason
//     takeover    item, agent, owner, token, lease_until_us (an expired lease taken)
//     lease_expired  item, by, owner, token   (returned to pending)
//     dead_letter item, by, owner, token, reason (out of attempts)
//     complete_recovered  item, by, owner, token, effect_token (an expired claim
//                 whose holder had written the effect: marked done)
//     quarantine  item or agent, file, reason
//     drift_seen, halt_seen  agent            reap, reaper_start
//     storage_error  agent, code ("no_space", "io_error", ...), error (errno text):
//                 an operation failed on storage; the agent retries
//     storage_unsynced  code, error: a change was made (renamed, linked, created,
//                 unlinked) but the fsync of its directory failed; the operation counts
//                 as committed (coordinator/fs_util.h); "proc" says which process
//     holding_lost   agent, item, token, current_token, status
//     claim_contended  agent, tried           lock_timeout  agent, item, op
//     claim_race_lost  agent, item: the item's lock was held by another agent
//                 (the walk goes on to the next item)
//   the model API (coordinator/model_client.h; runs with a model only):
//     model_call     agent, item, ok (bool), error (when !ok: a fixed phrase such as
//                    "HTTP 503", "connection refused", "no answer within the timeout",
//                    or "abandoned" when the agent stopped waiting)
//     model_backoff  agent, failures (in a row), delay_us: the wait before it claims again
//   telemetry (coordinator/telemetry_exporter.h; runs with telemetry only):
//     span_created   agent, span (16 hex), name ("claim_work", "complete_work",
//                    "renew_lease", "heartbeat", "register", "release"), item (if any)
//     span_exported  agent (whose spans), by (the agent, or "reaper" for a dead agent's
//                    spool), count, from ("batch" | "spool")
//     span_spooled   agent, count, backlog (spans in the spool after), why ("connection
//                    refused", "HTTP 503", "no answer within the timeout", "backing off
//                    after a failed export", ...)
//     span_dropped   agent, by, count, reason ("spool_full", "spool_write_failed",
//                    "rejected", "unreadable"), detail, spans (the ids; empty for
//                    "unreadable")
//   lockstep inside an external SUT's commands ("interleave": "syscalls",
//   docs/interposition.md; "proc" of an interposed process is its adapter's id
//   and its name, "a0/3.1"):
//     sys_spawn      process, program: the adapter ("proc") started a command under
//                    interposition
//     sys_step       at: where the interposed process "proc" was parked when it was
//                    let go ("sys.rename .tmp -> work_claims.json", "blocked wait",
//                    "proc.exec jq", ...; pids in paths written {pid:NAME})
//     sys_kill       process, at, by (the fault): killed where it was parked ("proc":
//                    "sim"), one per process of the crashed command ("by":
//                    "timeout" when its command timed out)
//     sys_timeout    process, timeout_ms, steps, why ("timeout": the simulated time
//                    since the spawn reached timeout_ms; "steps": the command took
//                    limits.livelock_steps steps): the adapter's ("proc") command
//                    is ended; its sut_command_failed (failure "timeout") follows
//     command_crashed  agent, op, item: the adapter's command was killed by the harness
//                    (crash_at inside it), so it has no outcome; not the SUT's failure
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace faultline {

struct TraceEvent {
  uint64_t seq = 0;
  int64_t t = 0;
  std::string proc;
  std::string type;
  // Common fields; empty / 0 when the event has none.
  std::string item;
  std::string agent;
  int64_t token = 0;
  int64_t lease_until_us = 0;
  int64_t now_us = 0;
  nlohmann::json fields;  // the whole line, for everything else

  // Builds an event from one parsed trace line. Missing common fields stay
  // empty; a line that is not an object gives type "".
  static TraceEvent FromJson(nlohmann::json line);
};

inline TraceEvent TraceEvent::FromJson(nlohmann::json line) {
  TraceEvent e;
  if (!line.is_object()) return e;
  auto str = [&](const char* k) {
    auto it = line.find(k);
    return it != line.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [&](const char* k) -> int64_t {
    auto it = line.find(k);
    return it != line.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
  };
  e.seq = static_cast<uint64_t>(num("seq"));
  e.t = num("t");
  e.proc = str("proc");
  e.type = str("type");
  e.item = str("item");
  e.agent = str("agent");
  e.token = num("token");
  e.lease_until_us = num("lease_until_us");
  e.now_us = num("now_us");
  e.fields = std::move(line);
  return e;
}

}  // namespace faultline
