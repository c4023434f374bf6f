// silent_span_drop: a batch of spans the collector did not take (it is down,
// answers 5xx or times out) is thrown away: not spooled for a retry, not
// counted, no span_dropped event. The claim protocol is the reference one;
// only the exporter is broken (silent OTEL span loss, RPN 192).
#include "coordinator/telemetry.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

class SilentDropExporter final : public telemetry::Exporter {
 public:
  using telemetry::Exporter::Exporter;

 protected:
  void Undeliverable(std::vector<telemetry::Span>, const std::string&) override {}
};

// The reference store: this mutant's bug is in its telemetry.
class ReferenceStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;
};

}  // namespace

Mutant SilentSpanDrop() {
  return {"silent_span_drop",
          "drops span batches the collector did not take, without spooling or counting them",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<ReferenceStore>(dir, clock, probe);
          },
          [](const telemetry::Config& config, telemetry::Transport* transport,
             telemetry::OwnedSpool* spool, Clock* clock, Probe* probe, const std::string& agent,
             uint64_t seed) -> std::unique_ptr<telemetry::Exporter> {
            return std::make_unique<SilentDropExporter>(config, transport, spool, clock, probe,
                                                        agent, seed);
          }};
}

}  // namespace swarm::mutants
