// The Store: the claim protocol's interface, independent of where the state
// lives. The fs backend (fs_store.h) keeps it in a shared directory; the
// PostgreSQL backend (pg_store.h) in tables of a server many hosts share
// (SELECT ... FOR UPDATE SKIP LOCKED, leases as columns, the ledger's
// primary key). store_open.h picks the one a coordination directory uses.
//
// Contract shared by every backend:
// - A grant is exclusive: while an item's grant is valid (its lease not yet
//   expired) nobody else is granted it.
// - Tokens per item strictly increase with every grant.
// - Complete is a compare-and-set on (item, token, owner) and records the
//   item's effect in the ledger exactly once.
// - Every operation either happens completely or not at all, also when the
//   process dies in the middle; storage errors come back as NoSpace/IOError
//   with nothing committed lost.
// - No operation blocks waiting for another process: contention is Busy.
//
// Thread-compatible: one Store object per process and thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coordinator/config.h"
#include "coordinator/records.h"
#include "coordinator/status.h"

namespace swarm {

struct ClaimOutcome {
  std::optional<Grant> grant;
  // False when every item is done, dead or quarantined: an idle agent may go.
  bool work_remaining = false;
};

struct ReapReport {
  std::vector<std::string> returned;       // expired claims made pending again
  std::vector<std::string> dead_lettered;  // expired claims out of attempts
  std::vector<std::string> recovered;      // expired claims whose effect was written: done
  std::vector<std::string> agents_dead;    // agents declared dead
  std::vector<std::string> stale_locks;    // lock files nobody held
  std::vector<std::string> orphan_temps;   // temp files of dead writers
  std::vector<std::string> stale_markers;  // claim markers of unclaimed items
  std::vector<std::string> quarantined;    // corrupt state files moved away
  std::vector<std::string> dead_agent_records;  // removed (cleanup only)
  bool dry_run = false;
  size_t Total() const {
    return returned.size() + dead_lettered.size() + recovered.size() + agents_dead.size() + stale_locks.size() +
           orphan_temps.size() + stale_markers.size() + quarantined.size() +
           dead_agent_records.size();
  }
};

struct ReapOptions {
  bool dry_run = false;             // report what would be done, change nothing
  bool remove_dead_agents = false;  // cleanup: also delete records of dead agents
};

struct LiveClaim {
  std::string item;
  std::string owner;
  int64_t token = 0;
  int64_t lease_until_us = 0;
  int attempts = 0;
};

struct AgentView {
  AgentRecord record;
  bool presumed_dead = false;  // alive on record but no heartbeat within agent_timeout
};

// A read-only picture of the whole store, for `swarm status`.
struct Snapshot {
  int64_t now_us = 0;
  ClusterConfig config;
  bool halted = false;
  size_t pending = 0, claimed = 0, done = 0, dead = 0, quarantined = 0, corrupt = 0;
  std::vector<LiveClaim> claims;                 // sorted by item
  std::vector<std::string> expired_claims;       // claimed, lease over
  std::vector<std::string> dead_letters;         // "item: reason"
  size_t locks = 0;
  std::vector<std::string> stale_locks;
  size_t ledger_effects = 0;
  size_t temp_files = 0;
  size_t quarantine_files = 0;
  std::vector<AgentView> agents;                 // sorted by id
  // Pending or claimed items needing a skill that no live agent (alive and
  // not presumed dead) has: "item: needs skill S". They wait for such an
  // agent; nobody else will ever take them.
  std::vector<std::string> unservable;
};

class Store {
 public:
  virtual ~Store() = default;

  // The cluster configuration as stored now (re-read on every call, so that
  // drift is visible). Corrupt if it does not parse.
  virtual Result<ClusterConfig> LoadCluster() = 0;
  virtual bool Halted() = 0;
  virtual Status SetHalted(bool halted) = 0;

  // Adds items (id, payload) as pending, each needing `skill` ("" = none:
  // any agent may take it). Items that already exist are left alone and not
  // counted. Returns how many were added.
  virtual Result<size_t> Submit(const std::vector<std::pair<std::string, std::string>>& items,
                                std::string_view skill = {}) = 0;

  // Adds `count` new pending items with generated ids PREFIX000001, ...
  // (six digits at least), each needing `skill`. Every id is taken by a
  // create-once write: an id that exists already — made by another submitter
  // running at the same time, or submitted by name — is passed over and the
  // next number tried, so concurrent submitters never lose items to each
  // other and `count` items are always added. Returns their ids, in order.
  virtual Result<std::vector<std::string>> SubmitGenerated(std::string_view prefix, int64_t count,
                                                           std::string_view skill = {}) = 0;

  // Records a new agent. Conflict if a live process already uses this id.
  virtual Status Register(const AgentRecord& agent) = 0;
  // Refreshes the agent's heartbeat and holdings. With `held`, the grant is
  // checked first, inside the agent's critical section, and dropped from
  // `agent.holding` (setting *lost) if nothing names the agent as its holder
  // any more, so that the record written is never out of date.
  virtual Status Heartbeat(AgentRecord& agent, const Grant* held, bool* lost) = 0;
  // Writes a final status (stopped, refused) for the agent.
  virtual Status MarkAgent(const AgentRecord& agent) = 0;

  // Finds a claimable item (pending, or claimed with an expired lease) that
  // `agent` has the skill for, and claims it. No grant and work_remaining
  // when everything left that it can do is validly held by others or busy;
  // items needing a skill it lacks are neither claimed nor work remaining.
  // The agent's skills are those it registered with (none if it did not).
  virtual Result<ClaimOutcome> ClaimNext(const std::string& agent) = 0;
  // Claims one named item. Conflict if it is not claimable or needs a skill
  // the agent lacks, Busy if locked.
  virtual Result<Grant> Claim(const std::string& item, const std::string& agent) = 0;
  // Whether `grant` is still the item's current grant (a read; no lock).
  // StaleToken, with a holding_lost event, when it is not.
  virtual Status CheckGrant(const Grant& grant) = 0;
  // Extends the lease. StaleToken if the grant is no longer current.
  virtual Status Renew(Grant& grant) = 0;
  // Compare-and-set on the token; writes the effect once; marks the item done.
  virtual Status Complete(const Grant& grant, std::string_view result) = 0;
  // Gives the item back (pending) without completing it.
  virtual Status Release(const Grant& grant, std::string_view reason) = 0;

  // The janitor's pass: expired claims back to pending (or dead-lettered),
  // dead agents declared, stale locks, orphan temp files and stale markers
  // removed, corrupt files quarantined.
  virtual Result<ReapReport> Reap(const ReapOptions& options) = 0;

  virtual Result<Snapshot> Inspect() = 0;

  // Replaces the cluster settings atomically. Running agents see the new
  // fingerprint at their next heartbeat and stop (drift); agents started
  // afterwards adopt the new settings.
  virtual Status Reconfigure(const ClusterConfig& config) = 0;

  // The end state of the store as `swarm dump` prints it (and faultline's
  // end-of-run checks read it): {"completed": every item done, dead or
  // quarantined, "locks": lock files, "temps": temp files, "ledger":
  // effects, "items": [{"id", "status", "reason", "effect": bool}] sorted
  // by id}.
  virtual Result<nlohmann::json> EndState() = 0;
};

}  // namespace swarm
