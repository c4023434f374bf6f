#include "coordinator/reaper.h"

#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "coordinator/exit_codes.h"

namespace swarm {

int Reaper::Run(bool once) {
  auto config = store_->LoadCluster();
  if (!config.ok()) {
    std::fprintf(stderr, "swarm reaper: %s\n", config.status().ToString().c_str());
    return kExitConfig;
  }
  probe_->Emit({{"type", "reaper_start"}});
  std::string last_error;
  while (!stop_->load()) {
    auto report = store_->Reap({});
    if (!report.ok()) {
      // Keep going: a full disk or a transient error must not kill the janitor.
      if (report.status().message() != last_error) {
        std::fprintf(stderr, "swarm reaper: %s; retrying\n", report.status().ToString().c_str());
        last_error = report.status().message();
      }
    } else {
      last_error.clear();
      if (verbose_ && report->Total() > 0) {
        std::fprintf(stderr,
                     "swarm reaper: returned %zu, dead-lettered %zu, dead agents %zu, stale locks "
                     "%zu, orphan temps %zu, quarantined %zu\n",
                     report->returned.size(), report->dead_lettered.size(),
                     report->agents_dead.size(), report->stale_locks.size(),
                     report->orphan_temps.size(), report->quarantined.size());
      }
    }
    if (telemetry_) telemetry_->Pass();
    if (once) return report.ok() ? kExitOk : kExitFailure;
    if (auto current = store_->LoadCluster(); current.ok()) config = std::move(current);
    clock_->SleepMicros(config->reap_interval_ms * 1000);
  }
  return kExitOk;
}

}  // namespace swarm
