// pg_local_clock_lease: leases are written and judged on each agent's own
// clock instead of the database server's. An agent whose clock runs ahead
// (NTP trouble, a stepped wall clock on another host) sees a healthy
// holder's lease as over and takes the item: two holders at once. Under a
// simulated clock the reference does the same by design (pg_store.h), so
// only runs on real clocks (freerun, with clock faults) tell it apart.
#include "tests/mutants/pg_mutant_store.h"

namespace swarm::mutants {
namespace {

class LocalClockLeaseStore final : public PgMutantStore {
 public:
  using PgMutantStore::PgMutantStore;

 protected:
  Result<int64_t> LeaseNow() override { return clock_->NowMicros(); }
};

}  // namespace

Mutant PgLocalClockLease() {
  return {"pg_local_clock_lease",
          "PostgreSQL leases are judged on the agent's own clock, not the database server's",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return PgMutantStore::OpenAs<LocalClockLeaseStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
