// no_false_death (DESIGN §6): no agent that heartbeated within agent_timeout
// is declared dead.
//
// An `agent_dead` {agent, now_us, agent_timeout_ms, last_heartbeat_us} is
// false when a `heartbeat` of that agent earlier in the trace has
//
//   at_us > now_us - agent_timeout_ms * 1000
//
// (agent_timeout_ms from the event, else from run_start). at_us is the
// agent's clock, now_us the reaper's: both read the same clock in lockstep
// and the real clock in freerun; under the clock_skew fault each is first
// taken back to the unskewed clock (checker::ProcessClocks), so a reaper
// whose clock runs ahead, or an agent whose clock lags, does not excuse a
// declaration that was false in real time. Evidence: the most recent such
// heartbeat (the one with the greatest at_us) and the agent_dead. A
// declaration whose own last_heartbeat_us is within the timeout is false too
// (evidence: the agent_dead alone); it catches a heartbeat written but never
// traced, as when the agent is killed between the write and the event.
//
// Not judged: an agent_dead without now_us, or with no timeout known.
// Thread-compatible; memory is one entry per agent.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class NoFalseDeath final : public Invariant {
 public:
  static constexpr const char* kName = "no_false_death";
  static constexpr const char* kSummary =
      "no agent that heartbeated within agent_timeout is declared dead";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  struct Beat {
    int64_t at_us = 0;  // the greatest at_us seen, on the agent's clock
    int64_t at_run = 0; // at_us on the unskewed clock
    uint64_t seq = 0;
    int64_t t = 0;
    bool server_clock = false;  // at_us is on the database server's clock
  };

  void OnDead(const TraceEvent& event);

  int64_t timeout_ms_ = 0;                       // run_start.agent_timeout_ms; 0 while unknown
  std::unordered_map<std::string, Beat> beats_;  // by agent
  checker::ProcessClocks clocks_;
  checker::ViolationList violations_{kName, "false deaths"};
};

}  // namespace faultline
