// The mutants of the zoo, one file each; this header declares them for the
// table in registry.cc.
#pragma once

#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {

Mutant CheckThenCreate();     // check_then_create.cc
Mutant GhostClaim();          // ghost_claim.cc
Mutant NoFencing();           // no_fencing.cc
Mutant LockLeak();            // lock_leak.cc
Mutant InPlaceWrite();        // in_place_write.cc
Mutant SilentSpanDrop();      // silent_span_drop.cc
Mutant NoConfigCheck();       // no_config_check.cc
Mutant ImmortalLease();       // immortal_lease.cc
Mutant TriggerHappyReaper();  // trigger_happy_reaper.cc
Mutant UnlockedRmw();         // unlocked_rmw.cc
Mutant SpanLeak();            // span_leak.cc
Mutant ReaperRescan();        // reaper_rescan.cc
Mutant IgnoreSkills();        // ignore_skills.cc
Mutant ModelRetryHot();       // model_retry_hot.cc
Mutant SkipFileFsync();       // skip_file_fsync.cc
Mutant SkipDirFsync();        // skip_dir_fsync.cc
Mutant InPlaceComplete();     // in_place_complete.cc
Mutant SpinWait();            // spin_wait.cc
Mutant SubmitFromCount();     // submit_from_count.cc

// Of the PostgreSQL backend (PostgresMutants()).
Mutant PgCheckThenUpdate();   // pg_check_then_update.cc
Mutant PgNoTokenCheck();      // pg_no_token_check.cc
Mutant PgLocalClockLease();   // pg_local_clock_lease.cc

}  // namespace swarm::mutants
