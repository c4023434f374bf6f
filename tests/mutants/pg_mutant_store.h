// The base of the PostgreSQL backend's mutants: the reference PgStore, opened
// from a coordination directory made by `swarm init --store postgres`, with
// single operations replaced by broken copies (README.md, "Mutants of the
// PostgreSQL backend").
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "coordinator/pg_store.h"
#include "coordinator/store_open.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {

class PgMutantStore : public PgStore {
 public:
  // Opens DIR's PostgreSQL store as a T. InvalidArgument when DIR is not on
  // that backend: these mutants have no fs counterpart to fall back to.
  template <typename T>
  static Result<std::unique_ptr<Store>> OpenAs(const std::string& dir, Clock* clock,
                                               Probe* probe) {
    auto backend = ReadBackend(dir);
    if (!backend.ok()) return backend.status();
    if (backend->kind != Backend::Kind::kPostgres) {
      return Status::InvalidArgument(dir + " is not on the PostgreSQL backend (swarm init --store "
                                           "postgres); this mutant is of that backend");
    }
    std::unique_ptr<T> store(new T(backend->postgres, ClusterConfig{}, clock, probe));
    SWARM_RETURN_IF_ERROR(store->LoadConfig());
    return std::unique_ptr<Store>(std::move(store));
  }

 protected:
  using PgStore::PgStore;
};

}  // namespace swarm::mutants
