// model_retry_hot: a model call that fails (503, connection refused, no
// answer) is retried at once, 5 ms later, again and again until the model
// answers, by an agent that holds its claim all the while and does nothing
// else: no heartbeat, no renewal, no deadline for the whole call. The claim
// protocol is the reference one; only the agent's model caller is broken
// (external model integration failure cascades, RPN 105): the outage turns
// into a retry storm, and into lapsed leases and a "dead" agent that is
// merely stuck.
#include "coordinator/model_client.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

constexpr int64_t kRetryUs = 5'000;

class HotRetryCaller final : public model::ModelCaller {
 public:
  using model::ModelCaller::ModelCaller;

  model::Outcome Call(std::string_view agent, std::string_view item, model::Tending&) override {
    for (;;) {
      std::unique_ptr<model::ModelRequest> request = Begin(agent, item);
      const bool settled = request->Await(settings_.timeout_ms);
      model::Outcome outcome = settled ? request->outcome()
                                       : model::Outcome{false, "no answer within the timeout"};
      Report(agent, item, outcome);
      if (outcome.ok) return outcome;
      clock_->SleepMicros(kRetryUs);  // the bug: no backoff, the item still held
    }
  }
};

// The reference store: this mutant's bug is in its model caller.
class ReferenceStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;
};

}  // namespace

Mutant ModelRetryHot() {
  Mutant m{"model_retry_hot",
           "retries a failed model call every 5 ms, holding its claim, without heartbeats or "
           "renewals",
           [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
             return MutantStore::OpenAs<ReferenceStore>(dir, clock, probe);
           }};
  m.model_caller = [](const model::Settings& settings, Clock* clock,
                      Probe* probe) -> std::unique_ptr<model::ModelCaller> {
    return std::make_unique<HotRetryCaller>(settings, clock, probe);
  };
  return m;
}

}  // namespace swarm::mutants
