// Renders a Snapshot and a ReapReport for people (`swarm status`, `swarm
// cleanup`) and for programs (`swarm status --json`).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "coordinator/store.h"
#include "coordinator/telemetry_spool.h"

namespace swarm {

// {"items": {"pending", "claimed", "done", "dead", "quarantined", "corrupt"},
//  "locks", "stale_locks", "ledger_effects", "claims": [...], "expired_claims",
//  "dead_letters", "agents": {ID: {...}}, "dead_agents", "halted", "temp_files",
//  "quarantine_files", "config", "fingerprint",
//  "spool": {"spans", "bytes", "segments", "agents": {ID: {"spans", "bytes", "segments",
//            "owner_running"}}}}
// `spools` is the telemetry spool backlog (telemetry_spool.h); empty when
// telemetry never ran, and then the text leaves the spool line out.
nlohmann::json StatusJson(const Snapshot& snap,
                          const std::vector<telemetry::Backlog>& spools = {});
std::string StatusText(const std::string& dir, const Snapshot& snap,
                       const std::vector<telemetry::Backlog>& spools = {});
std::string CleanupText(const ReapReport& report);

}  // namespace swarm
