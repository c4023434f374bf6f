// model_outage: the external model API the agents work through (the run's
// stub model, a second faultline sink serving POST /v1/model) fails — killed
// ("down": connection refused), answering 503, or accepting and never
// answering ("blackhole": every call runs into its deadline) — at `at_ms`,
// and heals `duration_ms` later. Stands for external model integration
// failure cascading into the coordination layer (RPN 105): the agents must
// give back what they cannot work on and back off, not hold claims while
// hung, miss heartbeats or retry in a storm.
//
// The fault turns the model on for the run (every agent calls it for each
// item, with a `timeout_ms` deadline). Modes switch from a timer, which in
// lockstep fires while every controlled process is parked: no call is in
// flight, so the outcome of every call is decided by the mode alone (as for
// collector_outage).
#include <algorithm>
#include <string>

#include "faults/endpoint_outage.h"

namespace faultline::faults {
namespace {

class ModelOutage final : public EndpointOutage {
 public:
  explicit ModelOutage(const nlohmann::json& o)
      : EndpointOutage(o, Endpoint::kModel),
        timeout_ms_(o["timeout_ms"]),
        backoff_(std::to_string(o["backoff_initial_ms"].get<int64_t>()) + ":" +
                 std::to_string(std::max(o["backoff_initial_ms"].get<int64_t>(),
                                          o["backoff_max_ms"].get<int64_t>()))) {}

  void Prepare(FaultContext& ctx) override {
    ProcessControl& procs = ctx.processes();
    for (const std::string& agent : procs.List("agent")) {
      procs.AddEnv(agent, "SWARM_MODEL_TIMEOUT_MS", std::to_string(timeout_ms_));
      procs.AddEnv(agent, "SWARM_MODEL_BACKOFF_MS", backoff_);
    }
  }

 private:
  int64_t timeout_ms_;
  std::string backoff_;
};

}  // namespace

FaultKind ModelOutageKind() {
  FaultKind kind{
      "model_outage",
      "the agents' model API (a stub) is killed, answers 503, or blackholes calls, then heals",
      "external model integration failure cascades (RPN 105)",
      /*lockstep_only=*/false,
      OutageOptions("503",
                    "down: the stub is killed (connection refused) and restarted on the same "
                    "port to heal; 503: it answers 503 Service Unavailable; blackhole: it "
                    "accepts and never answers (calls run into their deadline)"),
      [](const nlohmann::json& o) { return std::make_unique<ModelOutage>(o); },
      // The stub's endpoint reaches the reference agents through
      // SWARM_MODEL_ENDPOINT; an external system under test has no such agents.
      /*needs=*/capability::kProcesses | capability::kEndpoints | capability::kReferenceAgents,
  };
  kind.options.insert(kind.options.end(), {
      {"timeout_ms", OptionSpec::Type::kInt, false, 500, 1, 60'000, {},
       "the agents' deadline for one model call (--model-timeout-ms); in lockstep a "
       "blackholed call also waits this long in wall time"},
      {"backoff_initial_ms", OptionSpec::Type::kInt, false, 100, 1, 60'000, {},
       "the agents' wait after a failed call, doubling per failure in a row "
       "(--model-backoff-ms A:B)"},
      {"backoff_max_ms", OptionSpec::Type::kInt, false, 2000, 1, 600'000, {},
       "the bound of that doubling (at least backoff_initial_ms)"},
  });
  return kind;
}

}  // namespace faultline::faults
