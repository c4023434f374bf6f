// pg_no_token_check: the PostgreSQL completion locks the item's row but does
// not compare (token, owner) with the grant. A holder that stalled past its
// lease and lost the item to a takeover still completes it: its effect goes
// into the ledger under a stale token while the new holder works on.
#include "tests/mutants/pg_mutant_store.h"

namespace swarm::mutants {
namespace {

class NoTokenCheckStore final : public PgMutantStore {
 public:
  using PgMutantStore::PgMutantStore;

  Status Complete(const Grant& grant, std::string_view result) override {
    pg::Txn txn(&conn_);
    auto state = LockItem(txn, grant.item, "complete", grant.agent);
    if (!state.ok()) return state.status();
    return CompleteLocked(txn, std::move(*state), grant, result, /*check_grant=*/false);
  }
};

}  // namespace

Mutant PgNoTokenCheck() {
  return {"pg_no_token_check",
          "the PostgreSQL completion does not compare the grant's token and owner with the row's",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return PgMutantStore::OpenAs<NoTokenCheckStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
