// db_crash: the database server crashes (every server process SIGKILLed at
// once), stays down for down_ms and recovers from its write-ahead log
// (faults/db_outage.h). Stands for a database host or process crash: what
// the server acknowledged must survive it (no_acknowledged_loss).
#include "faults/db_outage.h"

namespace faultline::faults {

FaultKind DbCrashKind() {
  return {
      "db_crash",
      "the database server is SIGKILLed, stays down, then restarts with crash recovery",
      "database crash: acknowledged work must survive recovery",
      /*lockstep_only=*/false,
      DbOutageOptions(),
      [](const nlohmann::json& o) { return std::make_unique<DbOutage>(o, /*clean=*/false); },
      /*needs=*/capability::kDatabase,
  };
}

}  // namespace faultline::faults
