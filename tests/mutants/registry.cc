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
  };
  return all;
}

const std::vector<Mutant>& PostgresMutants() {
  static const std::vector<Mutant> all = {
      PgCheckThenUpdate(),
      PgNoTokenCheck(),
      PgLocalClockLease(),
  };
  return all;
}

const Mutant* FindMutant(std::string_view name) {
  for (const auto* all : {&AllMutants(), &PostgresMutants()}) {
    auto it = std::find_if(all->begin(), all->end(), [&](const Mutant& m) { return m.name == name; });
    if (it != all->end()) return &*it;
  }
  return nullptr;
}

}  // namespace swarm::mutants
