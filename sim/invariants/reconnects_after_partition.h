// reconnects_after_partition (docs/postgres.md): an agent that a network
// partition cut off from the database, and that was still running a while
// after the partition healed, talked to the database again.
//
// The connection_limit fault's refused agents are judged the same way, from
// the lift ("lifted": refused_by; "end": after_lift).
//
// Reads the network_partition fault's events: "cut" (agent), "healed"
// (time of the heal) and, at the end, "end" with each cut-off agent's round
// trips to the server after the heal. An agent judged is one that was not
// seen to exit after the heal and ran until the run's end (a "stop" event
// for it), at least lease_ms + 2 * heartbeat_ms past the heal: then it had
// every reason to reach the server (heartbeats, claims). No round trip
// after the heal is a violation: it stays stuck on a dead connection. An
// agent that exited or was killed after the heal is not judged (leaving is
// not being stuck; no_lost_work judges the work). Without the fault's
// events the invariant holds vacuously.
// Thread-compatible; memory is one entry per cut-off agent.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class ReconnectsAfterPartition final : public Invariant {
 public:
  static constexpr const char* kName = "reconnects_after_partition";
  static constexpr const char* kSummary =
      "an agent cut off from the database by a partition reaches it again after the heal";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  struct Cut {
    uint64_t cut_seq = 0;
    int64_t healed_t = -1;
    uint64_t healed_seq = 0;
    bool exited_after_heal = false;
    int64_t stopped_t = -1;  // ran until the end
    uint64_t stopped_seq = 0;
  };
  // At a fault's "end" event: every agent of its `key` array ({"agent",
  // "round_trips"}) judged as above.
  void JudgeEnd(const TraceEvent& event, const char* key, std::string_view what,
                std::string_view until);

  int64_t grace_us_ = 0;
  std::map<std::string, Cut> cut_;  // by agent
  checker::ViolationList violations_{kName, "stuck agents"};
};

}  // namespace faultline
