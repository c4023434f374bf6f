// The invariant plug-in interface (DESIGN §6). A checker is a read-only
// observer of the trace: it sees every event once, in order, and at the end
// reports violations. Checkers must be linear in the history (per-item
// indexes, no search over pairs of events): a million events in well under
// two seconds for all of them together.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/options.h"
#include "sim/resource_sample.h"
#include "sim/trace_event.h"

namespace faultline {

struct Violation {
  std::string invariant;            // the checker's name
  std::string message;              // what went wrong, naming items, agents, tokens, times
  std::vector<uint64_t> evidence;   // seq numbers of the events that show it
};

class Invariant {
 public:
  virtual ~Invariant() = default;
  virtual void Observe(const TraceEvent& event) = 0;
  // Differential runs only (a scenario's "differential" block): the history
  // of the same scenario and seed run against the counterpart system, line by
  // line, before Finish; first a "differential_start" event (label, against,
  // compare, run_dir, reproduce) that is in no trace. Checkers that compare
  // two systems (no_semantic_drift) override it; the others ignore it.
  virtual void ObserveCounterpart(const TraceEvent& /*event*/) {}
  // The run's resource samples (resources.jsonl), in the order they were
  // taken, after the last event and before Finish. They are measurements,
  // not deterministic: only the checkers that judge resource use read them.
  virtual void ObserveResources(const ResourceSample& sample) { (void)sample; }
  // Called once after the last event (run_end).
  virtual void Finish(std::vector<Violation>* out) = 0;
  // After Finish: what the checker counted, for the verdict (the invariant's
  // "summary") and one line of the run's summary; null / "" when it has
  // nothing to say (most checkers).
  virtual nlohmann::json Summary() const { return nullptr; }
  virtual std::string SummaryText() const { return ""; }
};

// What a checker must be able to observe to judge a run, as bits. The
// reference coordinator offers all of kReference; an external system under
// test (sim/sut/) offers what its "sut" block makes visible, and a checker
// whose needs a run does not meet is reported "not applicable" instead of
// passing vacuously. Every run offers the grant events (claim_ok, renew_ok,
// effect, complete_ok, release), which need no bit.
namespace observes {
inline constexpr unsigned kItemStates = 1u << 0;         // run_end items: every item's final state
inline constexpr unsigned kLockFiles = 1u << 1;          // lock/temp/claim counts (snapshot, run_end)
inline constexpr unsigned kStateFiles = 1u << 2;         // state_check: every state file parses
inline constexpr unsigned kCoordinatorEvents = 1u << 3;  // fingerprints, heartbeats, deaths seen
inline constexpr unsigned kSutCommands = 1u << 4;        // commands faultline ran for an external SUT
inline constexpr unsigned kCounterpart = 1u << 8;        // a differential run's counterpart history
inline constexpr unsigned kReference = kItemStates | kLockFiles | kStateFiles | kCoordinatorEvents;
}  // namespace observes

// An invariant plug-in, declared in its own file and listed in one registry
// (sim/invariants/registry.cc); the same shape as FaultKind.
struct InvariantKind {
  std::string name;
  std::string summary;  // one line: holds when ...
  // Typed options a scenario may set by writing the invariant as an object,
  // {"name": "no_retry_storm", "max_failed_calls": 20}; validated like a
  // fault's options. Every option has a default (an invariant may be listed
  // by name alone).
  std::vector<OptionSpec> options;
  // `options`: every key of `options` present with a concrete value.
  std::function<std::unique_ptr<Invariant>(const nlohmann::json& options)> make;
  unsigned needs = 0;  // observes:: bits
};

}  // namespace faultline
