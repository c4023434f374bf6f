// The table of mutants: explicit, like the fault and invariant registries.
#include <algorithm>

#include "tests/mutants/mutant_kinds.h"

namespace swarm::mutants {

const std::vector<Mutant>& AllMutants() {
  static const std::vector<Mutant> all = {
      CheckThenCreate(), GhostClaim(),    NoFencing(),     LockLeak(),
      InPlaceWrite(),    SilentSpanDrop(), NoConfigCheck(), ImmortalLease(),
      TriggerHappyReaper(), UnlockedRmw(), SpanLeak(), ReaperRescan(), IgnoreSkills(),
      ModelRetryHot(), SkipFileFsync(), SkipDirFsync(), InPlaceComplete(),
      SpinWait(),
      SubmitFromCount(),
      // Of the PostgreSQL backend (also PostgresMutants()).
      PgCheckThenUpdate(), PgNoTokenCheck(), PgLocalClockLease(),
  };
  return all;
}

const std::vector<Mutant>& PostgresMutants() {
  static const std::vector<Mutant> all = [] {
    std::vector<Mutant> pg;
    for (const Mutant& m : AllMutants()) {
      if (std::string_view(m.name).substr(0, 3) == "pg_") pg.push_back(m);
    }
    return pg;
  }();
  return all;
}

const Mutant* FindMutant(std::string_view name) {
  const std::vector<Mutant>& all = AllMutants();
  auto it = std::find_if(all.begin(), all.end(), [&](const Mutant& m) { return m.name == name; });
  return it == all.end() ? nullptr : &*it;
}

}  // namespace swarm::mutants
