// Scenario files (DESIGN §4): JSON with comments; a scenario is a family —
// any value written as [lo, hi] is drawn from the seed — and Resolve() turns
// it into one concrete run. Every mistake in a file is an error naming the
// file, the JSON pointer, what was found and what was expected; nothing is
// silently defaulted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sim/fault.h"
#include "sim/invariant.h"
#include "sim/settings.h"

namespace faultline {

class SutFactory;  // sim/sut.h

// The plug-ins a scenario may name; the CLI passes the registries in.
struct Catalog {
  std::vector<FaultKind> faults;
  std::vector<InvariantKind> invariants;
  // The systems under test (sim/sut.h), not owned. Null: scenarios with a
  // "sut" or "differential" block are refused and nothing can be run
  // (enough to validate and list reference scenarios).
  const SutFactory* suts = nullptr;
  const FaultKind* FindFault(std::string_view name) const;
  const InvariantKind* FindInvariant(std::string_view name) const;
};

struct ScenarioError {
  std::string file;
  std::string pointer;   // JSON pointer, "" for the whole document
  std::string message;   // "found X, expected Y"
  std::string ToString() const;  // "FILE: POINTER: MESSAGE"
};

// A validated scenario family: the document as written, plus its name.
struct Scenario {
  std::string file;
  std::string name;
  nlohmann::json doc;  // validated; ranges still as [lo, hi]
};

// The largest scenario (or "sut" block) file read; no real one comes close.
inline constexpr size_t kMaxScenarioBytes = size_t{16} << 20;

// Reads and validates a scenario file. On error, `error` says what and where.
bool LoadScenario(const std::string& path, const Catalog& catalog, Scenario* out,
                  ScenarioError* error);
// The same, from text already read (`file` is used in messages).
bool ParseScenario(const std::string& text, const std::string& file, const Catalog& catalog,
                   Scenario* out, ScenarioError* error);

// Why the valid `scenario` cannot run on `store` ("fs" or "postgres") in
// place of its own "store" (docs/scenario-format.md, "Stores"): an external
// SUT or a differential on "postgres", or a fault that needs what `store`
// does not offer (the shared directory's state files, the database server and
// its network; sim/fault.h). nullopt if it can. Loading refuses a scenario
// that cannot run on its own store with the same error.
std::optional<ScenarioError> StoreRefusal(const Scenario& scenario, const Catalog& catalog,
                                          const std::string& store);

enum class Mode { kLockstep, kFreerun };

struct FaultInstance {
  std::string kind;
  nlohmann::json options;  // every option of the kind, resolved
};

// One concrete run of a family. Its coordinator settings and SLO bounds are
// the ScenarioSettings fields (lease_ms, slo_max_rss_growth_kb, ...), each
// declared once in the settings table (sim/settings.h) with its default.
struct ResolvedScenario : ScenarioSettings {
  std::string name;
  std::vector<std::string> fmea;
  Mode mode = Mode::kLockstep;
  uint64_t seed = 1;
  // agents and work
  int agents = 4;
  int64_t work_min_ms = 0, work_max_ms = 0;  // each agent draws per item from this range
  int items = 100;
  // Specializations (sim/skills.h): the weighted lists as written, null for
  // none. Each agent and item draws from them with the seed.
  nlohmann::json agent_skills;
  nlohmann::json item_skills;
  // "work"/"arrivals": work submitted while the agents run. `submitters`
  // processes each submit `items` new items; each starts at a run time drawn
  // from [at_lo_ms, at_hi_ms] with the seed (stream "arrivals/<k>"), which
  // stays a range, like work_ms. None when submitters is 0.
  struct Arrivals {
    int submitters = 0;
    int64_t items = 0;
    int64_t at_lo_ms = 0, at_hi_ms = 0;
  } arrivals;
  bool reaper = true;
  // Where the reference coordinator keeps its state: "fs" (the shared
  // directory) or "postgres" (a database server the run starts, reached
  // through the harness's network relay; docs/postgres.md).
  std::string store = "fs";
  // scheduler (lockstep)
  std::string scheduler = "random";  // "random" | "pct"
  int pct_depth = 3;
  // "pass": processes pass the yield points of their own state
  // (protocol::point::kOwnState) without a scheduling decision, unless a
  // fault names the point; "park": they park there like anywhere else
  // (docs/determinism.md, "Performance").
  std::string own_state = "pass";
  std::vector<FaultInstance> faults;
  std::vector<std::string> invariants;  // by name, each at most once
  // "expect": probes a run must reach (any hit) and "sometimes" conditions
  // that must hold at least once; a run that misses one is vacuous.
  std::vector<std::string> expect_reached, expect_sometimes;
  // The options of each invariant the scenario wrote as an object ({"name":
  // ..., options}), every option concrete. An invariant written as a name
  // alone has none here: its checker gets its declared defaults.
  std::map<std::string, nlohmann::json> invariant_options;
  // The agents' span export (docs/telemetry.md). Also on whenever a fault
  // needs the collector (collector_outage).
  struct Telemetry {
    bool enabled = false;
    int64_t batch_spans = 32;          // OTEL_BSP_MAX_EXPORT_BATCH_SIZE
    int64_t schedule_delay_ms = 500;   // OTEL_BSP_SCHEDULE_DELAY
    int64_t spool_max_spans = 10'000;  // SWARM_SPOOL_MAX_SPANS
    int64_t timeout_ms = 500;          // OTEL_EXPORTER_OTLP_TIMEOUT
    int64_t retry_initial_ms = 250;    // SWARM_OTLP_RETRY_INITIAL_MS
    int64_t retry_max_ms = 4000;       // SWARM_OTLP_RETRY_MAX_MS
  } telemetry;
  int64_t sim_ms = 600'000;   // lockstep: simulated-time limit
  int64_t wall_ms = 60'000;   // wall-clock limit of the whole run
  int64_t step_timeout_ms = 10'000;  // lockstep watchdog per step
  int64_t livelock_steps = 100'000;  // lockstep: steps at one instant that make a livelock
  int64_t process_events = 2'000'000;  // events a run takes from its processes
  // null: the reference coordinator. Else a validated "sut" block with its
  // cwd made absolute (sim/sut/sut_spec.h): the external system under test.
  nlohmann::json sut;
  // null: a single run. Else a validated "differential" block (against's cwd
  // made absolute; sim/sut/differential.h): the run also runs the scenario
  // against the counterpart and compares the two (no_semantic_drift).
  nlohmann::json differential;

  // A plain scenario document with every value concrete: loading it and
  // resolving it with the same seed gives this again. (An invariant written
  // by name stays a name: its options are the kind's declared defaults.)
  nlohmann::json ToJson() const;
  // The "slo" block, every key concrete (also run_start's "slo").
  nlohmann::json SloJson() const;
  // The options the checker of `kind` is made with: the resolved ones of an
  // invariant written as an object, else the kind's defaults.
  nlohmann::json InvariantOptions(const InvariantKind& kind) const;
};

// Draws every range of `scenario` from `seed` (named streams per JSON
// pointer, so one range never shifts another).
ResolvedScenario Resolve(const Scenario& scenario, const Catalog& catalog, uint64_t seed);

}  // namespace faultline
