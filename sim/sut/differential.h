// The scenario's "differential" block (docs/external-sut.md, section 8): run
// the same scenario with the same seed against a second system and judge how
// far the two agree, as the invariant no_semantic_drift of the run's verdict.
//
//   "differential": {
//     "against": "reference" | {a "sut" block},   // the counterpart
//     "compare": "outcomes" | "histories"         // default "outcomes"
//   }
//
// "outcomes" compares what each item came to (final status, effects written,
// completions accepted, ledger) and the run's end (how it ended, lock and
// temp files left): timing-independent, so it holds between two honest
// implementations even under faults that land on different items in each.
// "histories" compares each item's whole sequence of operations, as
// `faultline diff` does (lockstep only).
//
// Validation names the JSON pointer of every mistake, relative to the block;
// the scenario loader prefixes "/differential". Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sim/sut/sut_spec.h"

namespace faultline::sut {

inline constexpr const char* kAgainstReference = "reference";

struct DifferentialSpec {
  nlohmann::json against;  // null: the reference coordinator; else a "sut" block
  std::string compare = "outcomes";  // or "histories"
};

// Checks a "differential" block. `has_sut`: the scenario has a "sut" block
// (the reference compared with itself would show nothing); `lockstep` and
// `step_timeout_ms` as for CheckSut.
std::optional<SutProblem> CheckDifferential(const nlohmann::json& block, bool has_sut,
                                            bool lockstep, int64_t step_timeout_ms);

// REQUIRES: CheckDifferential passed.
DifferentialSpec ParseDifferential(const nlohmann::json& block);

// "reference (swarm)" or the counterpart SUT's label.
std::string CounterpartLabel(const DifferentialSpec& spec);

}  // namespace faultline::sut
