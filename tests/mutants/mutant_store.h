// The mutant zoo (DESIGN §7): coordinators with exactly one known bug each,
// which the harness must catch. Each mutant is an FsStore subclass that
// replaces one operation of the reference coordinator with a broken copy
// over the same on-disk layout, and emits the same history events for what
// it really does, so that the invariant checkers can see the bug. None of
// this is linked into the production coordinator: only swarm-mutant
// (swarm_mutant_main.cc) builds them, chosen by $SWARM_MUTANT.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coordinator/fs_store.h"
#include "coordinator/model_client.h"
#include "coordinator/telemetry.h"

namespace swarm::mutants {

// What a mutant may need to know about the process it runs in.
struct MutantContext {
  std::string role;                           // "agent" | "reaper" | "submit"
  std::optional<ClusterConfig> agent_config;  // the agent's --config, when given
};

// The base of every mutant: the reference store, plus the steps several
// mutants share, written exactly as the reference does them.
class MutantStore : public FsStore {
 public:
  // Opens `dir` (with the checks of FsStore::Open) as a T, constructed from
  // (dir, config, clock, probe, extra...).
  template <typename T, typename... Extra>
  static Result<std::unique_ptr<Store>> OpenAs(const std::string& dir, Clock* clock,
                                               Probe* probe, Extra&&... extra) {
    auto config = LoadDir(dir);
    if (!config.ok()) return config.status();
    return std::unique_ptr<Store>(
        new T(dir, *config, clock, probe, std::forward<Extra>(extra)...));
  }

 protected:
  using FsStore::FsStore;

  // The second half of the reference claim of a pending item `s`: the claim
  // marker first, then the granted state (token + 1, lease until
  // `lease_until_us`), with the reference's yield points and claim_ok event.
  // The caller decides how (or whether) the item is locked meanwhile.
  Result<Grant> GrantPending(ItemState s, const std::string& agent, int64_t lease_until_us);

  // The reference complete after its lock is taken: the grant checked
  // (unless `check_grant` is false), the effect created once in the ledger,
  // the item marked done, with the reference's yield points and events.
  Status CompleteLocked(const Grant& grant, std::string_view result, bool check_grant);

  // The two writes of CompleteLocked, as the reference makes them (temp
  // file, fsync, link or rename, fsync of the directory); the durability
  // mutants replace them.
  virtual Status CreateLedgerEntry(const std::string& path, std::string_view data);
  virtual Status WriteDoneState(const ItemState& state) { return WriteItem(state); }
};

// One entry of the zoo.
struct Mutant {
  const char* name;
  const char* bug;  // one line: what is broken
  std::function<Result<std::unique_ptr<Store>>(const std::string& dir, Clock*, Probe*,
                                               const MutantContext&)>
      open;
  // The agents' span exporter; null: the reference one.
  telemetry::ExporterFactory exporter = nullptr;
  // The agents' model caller; null: the reference one.
  model::CallerFactory model_caller = nullptr;
};

// Every mutant, in the order of tests/mutants/README.md.
const std::vector<Mutant>& AllMutants();
// Those of them of the PostgreSQL backend (pg_mutant_store.h; named pg_*),
// which also swarm-mutant --list-postgres prints.
const std::vector<Mutant>& PostgresMutants();
// nullptr when there is no mutant of that name.
const Mutant* FindMutant(std::string_view name);

}  // namespace swarm::mutants
