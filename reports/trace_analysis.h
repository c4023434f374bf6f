// What the reports read out of one run's trace (trace.jsonl, the events of
// sim/trace_event.h): claims as intervals per agent, fault landings and heals,
// deaths, where the violation evidence sits in time, detection latency and
// recovery time. One pass over the lines, in seq order; nothing else is read.
//
// Definitions (docs/fmea-report.md explains them for readers):
//  - A fault event is a *landing* unless it reports a heal (a `healed`,
//    `restored` or `heal` field): heals end a fault's effect and are drawn but
//    not measured.
//  - Detection latency of a run: t(first violation evidence event) -
//    t(first landing), clamped at 0; none without a landing or a violation.
//  - Recovery time of a landing at t0: the items it affects are the one it
//    names (`item`, or `file` items/<id>.json), else the open grants of the
//    agent it names (`agent`, or `file` agents/<id>.json) at t0, else (a fault
//    on the whole system) every open grant at t0. The landing has recovered at
//    the first time t1 >= t0 when each affected item has seen a freeing event
//    after the landing: claim_ok, takeover, lease_expired, complete_ok,
//    complete_recovered, release, dead_letter, or its quarantine. A landing on
//    the reaper recovers at the next reaper_start. Recovery time = t1 - t0.
//    A landing whose agent held nothing has no sample; one still waiting at
//    the end of the run is unrecovered.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/trace_event.h"

namespace faultline::reports {

// One grant, drawn as a bar: from its claim_ok to the event that ended it.
struct ClaimBar {
  std::string agent;
  std::string item;
  int64_t token = 0;
  uint64_t seq = 0;        // of the claim_ok
  int64_t start = 0;       // run time, µs
  int64_t end = 0;
  int64_t holder_died = -1;  // when its holder's process ended, if it did while holding
  std::string ended_by;    // "done", "released", "taken over", "expired", ... or "open"
};

struct FaultMark {
  uint64_t seq = 0;
  int64_t t = 0;
  std::string kind;
  int index = 0;
  std::string agent;  // the process it acted on, "" when none
  std::string item;   // the item it acted on, "" when none
  bool heal = false;
  int64_t until = -1;  // end of a stall, run time
  std::string detail;  // a short description for the timeline
};

struct DeathMark {
  uint64_t seq = 0;
  int64_t t = 0;
  std::string agent;
  std::string how;  // "SIGKILL by kill_agent", "exit 78", ...
};

struct EvidenceMark {
  uint64_t seq = 0;
  int64_t t = 0;
  std::string lane;
  std::string type;
  std::vector<std::string> invariants;  // whose violations cite it
};

struct Recovery {
  uint64_t fault_seq = 0;
  std::string kind;
  int index = 0;
  int64_t landed = 0;
  int affected = 0;            // items (or 1 for the reaper)
  int64_t recovery_us = -1;    // -1: no sample (nothing held) or unrecovered
  bool unrecovered = false;    // affected something that was never freed
};

struct TraceFacts {
  int64_t end_t = 0;
  uint64_t events = 0;
  std::vector<std::string> lanes;  // "run", "reaper", then agents in natural order
  std::vector<ClaimBar> claims;
  std::vector<FaultMark> faults;
  std::vector<DeathMark> deaths;
  std::vector<EvidenceMark> evidence;  // in seq order
  std::vector<Recovery> recoveries;    // one per landing, in seq order
  std::optional<int64_t> first_landing;
  std::optional<int64_t> first_evidence;
  std::optional<int64_t> DetectionLatency() const;
};

// seq -> names of the invariants whose violations cite it, from verdict.json.
using EvidenceIndex = std::map<uint64_t, std::vector<std::string>>;
EvidenceIndex EvidenceOf(const nlohmann::json& verdict);

// Reads trace lines (one JSON object each) and returns the facts. Lines that
// do not parse are skipped; `bad_lines` (optional) counts them.
TraceFacts AnalyzeTrace(std::istream& lines, const EvidenceIndex& evidence,
                        uint64_t* bad_lines = nullptr);

// "a2" < "a10": agents in the order people number them.
bool NaturalLess(const std::string& a, const std::string& b);

}  // namespace faultline::reports
