// Explore and shrink (DESIGN §7): draw concrete scenarios from a family with
// RapidCheck generators, run them in lockstep until one violates an
// invariant, then shrink it — fewer agents, items and faults, earlier and
// fewer firings — re-running every candidate, and hand back the smallest
// scenario that still violates the same invariant as a plain scenario file
// that `faultline run` reproduces.
//
// Determinism: the same family and master seed give the same sequence of
// scenarios; lockstep runs are reproducible, so the shrink is too. Only the
// time budgets (wall clock) decide how far a search or a shrink gets.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/run.h"
#include "sim/scenario.h"

namespace faultline {

// One value of a family that explore chooses: a range of the family (or, for
// the scheduler keys a family leaves unwritten, explore's own choice).
struct ExploreKnob {
  enum class Kind {
    kInt,        // an integer in [lo, hi]
    kPresence,   // 1: the fault `fault` is in the run, 0: left out
    kScheduler,  // 0: "pct", 1: "random"
    kChoice,     // an index into `alternatives`: a fault option written {"one_of": [...]}
  };
  std::string pointer;  // JSON pointer of the value: "/agents/count", "/faults/1", "/faults/1/nth"
  Kind kind = Kind::kInt;
  int64_t lo = 0, hi = 0;
  bool shrinks = false;  // shrinking moves it towards `lo` (kPresence: towards absent)
  int fault = -1;        // index into the family's faults, for fault knobs
  std::string option;    // the fault option a kInt or kChoice fault knob sets
  nlohmann::json alternatives;  // kChoice: the values, in the order written
};

// A concrete draw from a family: the run seed and one value per knob.
struct ExploreCase {
  uint64_t seed = 0;
  std::vector<int64_t> values;
  bool operator==(const ExploreCase&) const = default;
};

// The search space of one family.
class ExploreSpace {
 public:
  // REQUIRES: `family` was validated against `catalog`; both outlive this.
  ExploreSpace(const Scenario& family, const Catalog& catalog);

  const std::vector<ExploreKnob>& knobs() const { return knobs_; }

  // The `index`-th case of the search seeded by `master_seed`: independent of
  // every other index, the same for the same inputs.
  ExploreCase Generate(uint64_t master_seed, int64_t index) const;

  // The concrete run of a case: the family resolved with the case's seed,
  // its knobs applied, in lockstep mode.
  ResolvedScenario Materialize(const ExploreCase& c) const;

  // The case whose run is `s`, if `s` is a member of the family: the
  // inverse of Materialize. Otherwise false, with what differs in `error`.
  bool CaseOf(const ResolvedScenario& s, ExploreCase* out, std::string* error) const;

 private:
  const Scenario& family_;
  const Catalog& catalog_;
  std::vector<ExploreKnob> knobs_;
};

// What one run of a candidate gave.
struct CaseOutcome {
  int exit_code = 0;                 // kExitPass, kExitViolation, kExitHarness, kExitInterrupted
  std::vector<std::string> violated;  // invariants violated, in the scenario's order
  std::string first_violation;       // "single_owner: w3 granted to a0 and a1 ..."
  std::string run_dir;               // "" when the runner wrote none
  std::string summary;               // the run's human summary
  int64_t steps = 0;                 // lockstep steps of the run (trace size)
  // Probes the run met: name -> times its condition held (verdict "probes").
  std::map<std::string, int64_t> probes;
};

// Runs one resolved scenario into OUT_DIR/<name>-<seed><suffix>. The real one
// calls RunScenario in-process; tests pass a fake.
class CaseRunner {
 public:
  virtual ~CaseRunner() = default;
  virtual CaseOutcome Run(const ResolvedScenario& scenario, const std::string& out_dir,
                          const std::string& suffix) = 0;
};

struct ExploreOptions {
  uint64_t master_seed = 1;
  int64_t max_runs = 100;
  double time_budget_s = 300;   // exploration (until the first violation)
  double shrink_budget_s = 120;
  // A shrink candidate that passes with its own seed is tried with this many
  // other seeds: a smaller scenario keeps the bug but not the schedule.
  int seed_retries = 4;
  // Coverage guidance (sim/explore_guide.h): half the runs mutate a kept case
  // whose run reached probes no earlier run reached. False (the default, see
  // docs/explore.md for the measurement): every run is a fresh draw;
  // coverage is measured and reported either way.
  bool guided = false;
  std::string out_dir = "faultline-explore";
  // Shrink this failing scenario (a member of the family) instead of
  // searching for one: a failure found elsewhere, made small.
  const ResolvedScenario* start = nullptr;
  // Printed around the reproduce command: environment the coordinator needs
  // ("SWARM_MUTANT=x ") and flags (" --swarm PATH").
  std::string reproduce_prefix, reproduce_suffix;
  const std::atomic<bool>* interrupted = nullptr;
  // Wall clock in µs (monotonic); tests pass a fake. Default: steady_clock.
  std::function<int64_t()> now_us;
  // Lines for the user (stdout), and the transient progress line (stderr on
  // a terminal); either may be empty.
  std::function<void(const std::string&)> say;
  std::function<void(const std::string&)> progress;
};

// How big a scenario is, for reports: what the shrink makes smaller.
struct ScenarioSize {
  int agents = 0, items = 0, faults = 0;
  int64_t firings = 0;  // fault firings asked for (sum of "count", 1 for one-shot faults)
  int64_t steps = 0;    // lockstep steps the run took
  int64_t Total() const { return agents + items + faults + firings; }
  nlohmann::json ToJson() const;
};

struct ShrinkReport {
  int steps = 0;          // accepted smaller candidates
  int candidates = 0;     // candidates tried (each seed of a candidate counts)
  int runs = 0;           // runs made (a candidate tried before is not run again)
  double seconds = 0;
  bool complete = false;  // no smaller candidate fails: a local minimum, not a budget stop
  ScenarioSize before, after;
};

struct ExploreResult {
  int exit_code = 0;      // 0 none found, 1 violation, 3 harness error, 130 interrupted
  int64_t runs = 0;       // exploration runs made (the failing one included)
  double seconds = 0;     // exploration wall time (to the first violation, if any)
  bool found = false;
  std::string invariant;  // the violated invariant the shrink kept
  std::string violation;  // its first message in the original run
  ResolvedScenario original, minimal;
  ShrinkReport shrink;
  bool verified = false;  // minimal.json was re-run and violated `invariant` again
  std::string original_path, minimal_path, original_run_dir, minimal_run_dir;
  std::string reproduce;  // the command that reproduces minimal.json
  std::string error;      // harness error: what went wrong
  // Probe coverage of the search: the probes reached, and over time
  // ([{"run", "probes", "features", "corpus"}], CoverageGuide::Series).
  std::vector<std::string> probes_reached;
  nlohmann::json coverage = nlohmann::json::array();
  nlohmann::json ToJson() const;  // written to OUT/explore.json
};

// Explores `family`; writes OUT/original.json, OUT/minimal.json,
// OUT/explore.json, the first failing run's directory OUT/<name>-<seed> and
// the verifying re-run's OUT/<name>-<seed>-minimal, beside minimal.json
// (passing runs' and shrink candidates' directories are deleted).
ExploreResult Explore(const Scenario& family, const Catalog& catalog,
                      const ExploreOptions& options, CaseRunner& runner);

// The CaseRunner of `faultline explore`: RunScenario in this process, with
// `base` (coordinator binary, collector command, interrupt flag); the output
// directory and suffix are set per run.
class InProcessRunner final : public CaseRunner {
 public:
  InProcessRunner(const Catalog& catalog, RunOptions base)
      : catalog_(catalog), base_(std::move(base)) {}
  CaseOutcome Run(const ResolvedScenario& scenario, const std::string& out_dir,
                  const std::string& suffix) override;

 private:
  const Catalog& catalog_;
  RunOptions base_;
};

}  // namespace faultline
