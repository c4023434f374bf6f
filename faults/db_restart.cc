// db_restart: the database server is shut down cleanly (clients are
// disconnected, a checkpoint is written), stays down for down_ms and starts
// again (faults/db_outage.h). Stands for a maintenance restart or a
// failover: every agent must reconnect and carry on.
#include "faults/db_outage.h"

namespace faultline::faults {

FaultKind DbRestartKind() {
  return {
      "db_restart",
      "the database server shuts down cleanly, stays down, then starts again",
      "database maintenance restart or failover",
      /*lockstep_only=*/false,
      DbOutageOptions(),
      [](const nlohmann::json& o) { return std::make_unique<DbOutage>(o, /*clean=*/true); },
      /*needs=*/capability::kDatabase,
  };
}

}  // namespace faultline::faults
