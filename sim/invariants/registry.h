// The table of the invariants this library provides (DESIGN §6; STYLE.md 3:
// one explicit table, no static self-registration). The scenario Catalog
// takes its `invariants` from here.
#pragma once

#include <vector>

#include "sim/invariant.h"

namespace faultline {

// single_owner, exactly_once_effect, no_lost_work, eventual_lock_release,
// bounded_locks, progress, no_torn_state, config_fail_fast, no_false_death,
// state_sync, success_rate, no_silent_span_loss — in that order. Each `make` returns a fresh,
// independent checker.
std::vector<InvariantKind> CoreInvariants();

}  // namespace faultline
