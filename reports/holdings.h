// What each process holds at a point of a run's history, from the trace
// alone (sim/trace_event.h): the grants it was given and has not since seen
// end. Used where a person looks at one moment of a run: the stops of
// `faultline replay --stop-at` and `faultline show --around`.
//
// A grant is held by its agent from its claim_ok until the agent completes
// or releases it, learns it lost it (a *_rejected or holding_lost event),
// or the coordinator ends it (lease_expired, dead_letter,
// complete_recovered, quarantine). A later grant of the same item to another
// agent does not end it: the first agent may not know yet, which is exactly
// the state a lease overrun is made of; the grant is marked superseded. A
// holder that exits leaves its grants standing (the coordinator still has
// them until they expire); they are marked orphaned. An orphaned grant that
// is superseded (or a superseded one whose holder exits) is held by nobody
// and dropped.
//
// Deterministic; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/trace_event.h"

namespace faultline::reports {

struct HeldClaim {
  std::string item;
  int64_t token = 0;
  int64_t lease_until_us = 0;  // run time the lease ends at, as its holder's clock put it
  uint64_t seq = 0;            // of its claim_ok
  bool orphaned = false;       // the holder exited while holding it
  // A later grant of the item to another agent; superseded_seq 0: none.
  uint64_t superseded_seq = 0;
  std::string superseded_by;
  int64_t superseded_token = 0;
};

class Holdings {
 public:
  // Call for every event, in seq order.
  void Observe(const TraceEvent& event);
  // The grants `agent` holds now, by item.
  std::vector<HeldClaim> Of(const std::string& agent) const;
  // Every agent holding something now, in natural order ("a2" before "a10").
  std::vector<std::string> Holders() const;

 private:
  void End(const std::string& agent, const std::string& item);
  void EndAll(const std::string& item);
  std::map<std::string, std::map<std::string, HeldClaim>> by_agent_;  // agent -> item -> grant
};

// "w000017 token 2 (lease until 5.500 s, granted at seq 38)" plus what happened to it
// since ("superseded by a2's token 3 at seq 40", "holder exited").
std::string Describe(const HeldClaim& claim);

}  // namespace faultline::reports
