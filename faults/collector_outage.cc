// collector_outage: the run's collector (faultline sink) goes down — killed
// ("down"), answering 503, or accepting and never answering ("blackhole") —
// at `at_ms`, and is healed `duration_ms` later (restarted on the same port
// when it was killed). Stands for silent OTEL span loss (RPN 192): the agents
// must spool what they cannot export and count, never hide, what they drop.
//
// The switch happens from a timer, which in lockstep fires while every
// controlled process is parked: no export is in flight, so the outcome of
// every export is decided by the mode alone.
#include "faults/endpoint_outage.h"

namespace faultline::faults {

FaultKind CollectorOutageKind() {
  return {
      "collector_outage",
      "the collector (faultline sink) is killed, answers 503, or blackholes requests, then heals",
      "silent OTEL span loss (RPN 192)",
      /*lockstep_only=*/false,
      OutageOptions("down",
                    "down: the sink is killed (connection refused) and restarted on the same "
                    "port to heal; 503: it answers 503 Service Unavailable; blackhole: it "
                    "accepts and never answers (exports time out)"),
      [](const nlohmann::json& o) {
        return std::make_unique<EndpointOutage>(o, Endpoint::kCollector);
      },
      /*needs=*/capability::kEndpoints,
  };
}

}  // namespace faultline::faults
