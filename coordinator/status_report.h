// Renders a Snapshot and a ReapReport for people (`swarm status`, `swarm
// cleanup`) and for programs (`swarm status --json`).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "coordinator/store.h"

namespace swarm {

// {"items": {"pending", "claimed", "done", "dead", "quarantined", "corrupt"},
//  "locks", "stale_locks", "ledger_effects", "claims": [...], "expired_claims",
//  "dead_letters", "agents": {ID: {...}}, "dead_agents", "halted", "temp_files",
//  "quarantine_files", "config", "fingerprint"}
nlohmann::json StatusJson(const Snapshot& snap);
std::string StatusText(const std::string& dir, const Snapshot& snap);
std::string CleanupText(const ReapReport& report);

}  // namespace swarm
