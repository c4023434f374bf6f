// The run loop (DESIGN §3): has the system under test set up a fresh
// coordination directory, starts its processes, drives them in lockstep (one
// process at a time, simulated clock) or lets them run free (real time),
// applies the scenario's faults, and writes the history. It knows faults,
// invariants and the system under test only through their interfaces
// (sim/fault.h, sim/invariant.h, sim/sut.h): no coordinator's files or
// programs.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/fault.h"
#include "sim/resource_log.h"
#include "sim/scenario.h"
#include "sim/stop_controller.h"
#include "sim/sut.h"
#include "sim/trace_writer.h"

namespace faultline {

class NetRelay;  // sim/net_relay.h

struct EngineOptions {
  // The system under test of this run, not owned (sim/sut.h; made by the
  // catalog's SutFactory). Required.
  Sut* sut = nullptr;
  std::string work_dir;   // scratch: the coordination directory lives here
  std::string log_dir;    // one log file per process
  const std::atomic<bool>* interrupted = nullptr;  // set by SIGINT/SIGTERM
  bool progress = false;  // print a progress line on stderr
  // How to run the collector, `faultline sink` (e.g. {"/path/faultline",
  // "sink"}); needed by runs with telemetry.
  std::vector<std::string> sink_command;
  // Where the controlled processes' resource samples go (resources.jsonl);
  // null: not measured.
  ResourceLog* resources = nullptr;
  // Lockstep only: called between scheduling decisions (sim/stop_controller.h);
  // null for ordinary runs. Not owned.
  StopController* stop = nullptr;
  // "store": "postgres": the network relay of the run (sim/net_relay.h),
  // not owned, started before the run's containment (a thread cannot be
  // created once the PID namespace is in force); null: the engine starts
  // its own, which works only outside containment.
  NetRelay* relay = nullptr;
};

struct FaultRecord {
  std::string kind;
  int index = 0;
  int landed = 0;            // how many times it acted
  nlohmann::json first;      // where and when it first landed
};

// How often a probe (sim/protocol/control_protocol.h) was met in a run:
// `reached` counts every report, `hits` those whose condition held (a
// FL_REACHED always holds; a FL_SOMETIMES holds when its condition did).
struct ProbeCount {
  int64_t reached = 0;
  int64_t hits = 0;
};

struct EngineResult {
  enum class End {
    kCompleted, kSimLimit, kWallLimit, kDeadlock, kLivelock, kHarnessError, kInterrupted
  };
  End end = End::kCompleted;
  std::string error;        // kHarnessError: what failed
  std::string trace_sha256;
  uint64_t events = 0;
  uint64_t steps = 0;       // lockstep: processes resumed
  int64_t sim_us = 0;       // run time at the end
  int64_t wall_us = 0;
  int64_t started_us = 0;    // wall time until every process was up (lockstep: said hello)
  int64_t loop_wall_us = 0;  // wall time in the scheduling loop
  int kills = 0;
  std::vector<FaultRecord> faults;
  // Probes met, by name: the processes' own and the engine's ("fault.KIND.
  // landed", "sim.collision"). Counted, never traced: in lockstep the counts
  // are as deterministic as the trace; in freerun they vary from run to run.
  std::map<std::string, ProbeCount> probes;
};

// Runs one resolved scenario; every history line goes to `trace`.
EngineResult RunEngine(const ResolvedScenario& scenario, const Catalog& catalog,
                       const EngineOptions& options, TraceWriter* trace);

std::string_view Name(EngineResult::End end);

}  // namespace faultline
