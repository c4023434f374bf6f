// span_leak: the exporter keeps a copy of every batch it sends (an "export
// history" nobody reads), so an agent's memory grows with every span it
// records, for as long as it runs (telemetry memory leak under sustained
// load, RPN 315). What it exports, spools and drops is the reference's: the
// trace cannot tell it from the reference; only its resident set can.
#include <string>
#include <vector>

#include "coordinator/telemetry.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

// The leak: a transport that remembers every request body it passes on.
class HoardingTransport final : public telemetry::Transport {
 public:
  explicit HoardingTransport(telemetry::Transport* next) : next_(next) {}
  telemetry::PostOutcome Post(const std::string& body) override {
    sent_.push_back(body);
    return next_->Post(body);
  }

 private:
  telemetry::Transport* next_;
  std::vector<std::string> sent_;
};

// The hoard must exist before the exporter that posts through it: it is a
// base constructed first.
struct Hoard {
  explicit Hoard(telemetry::Transport* next) : hoarding(next) {}
  HoardingTransport hoarding;
};

class SpanLeakExporter final : private Hoard, public telemetry::Exporter {
 public:
  SpanLeakExporter(const telemetry::Config& config, telemetry::Transport* transport,
                   telemetry::OwnedSpool* spool, Clock* clock, Probe* probe,
                   const std::string& agent, uint64_t seed)
      : Hoard(transport),
        telemetry::Exporter(config, &hoarding, spool, clock, probe, agent, seed) {}
};

// The reference store: this mutant's bug is in its telemetry.
class ReferenceStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;
};

}  // namespace

Mutant SpanLeak() {
  return {"span_leak", "keeps a copy of every span batch it exports, for as long as it runs",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<ReferenceStore>(dir, clock, probe);
          },
          [](const telemetry::Config& config, telemetry::Transport* transport,
             telemetry::OwnedSpool* spool, Clock* clock, Probe* probe, const std::string& agent,
             uint64_t seed) -> std::unique_ptr<telemetry::Exporter> {
            return std::make_unique<SpanLeakExporter>(config, transport, spool, clock, probe,
                                                      agent, seed);
          }};
}

}  // namespace swarm::mutants
