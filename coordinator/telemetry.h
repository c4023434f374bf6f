// Telemetry of the reference coordinator, as its agents and reaper see it:
// record spans; batching, export, retry, spool and drop accounting happen
// behind this (telemetry_exporter.h). Configured by the OTEL_* environment
// (telemetry_config.h); without an endpoint nothing is created and callers
// hold a null pointer, so telemetry off costs one branch per span site.
//
// Span ids come from a generator seeded by the agent's --seed, its id and its
// incarnation (counted in its spool), plus real entropy outside the
// simulator: under lockstep the same seed gives the same ids.
//
// Thread-compatible; one per process.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "coordinator/clock.h"
#include "coordinator/probe.h"
#include "coordinator/status.h"
#include "coordinator/telemetry_config.h"
#include "coordinator/telemetry_exporter.h"
#include "coordinator/telemetry_spool.h"

namespace swarm::telemetry {

// Builds the exporter of an agent. The default makes the reference Exporter;
// a deliberately broken coordinator (tests/mutants) passes its own subclass.
using ExporterFactory = std::function<std::unique_ptr<Exporter>(
    const Config&, Transport*, OwnedSpool*, Clock*, Probe*, const std::string& agent,
    uint64_t seed)>;

class AgentTelemetry {
 public:
  // From the environment: nullptr (ok) when telemetry is off. Errors: bad
  // OTEL_* settings (what to fix is in the message), or a spool that cannot
  // be opened. Borrowed pointers outlive the result. Waits (on `clock`) while
  // the reaper holds the agent's spool.
  static Result<std::unique_ptr<AgentTelemetry>> FromEnvironment(
      const std::string& coord_dir, const std::string& agent, uint64_t seed, Clock* clock,
      Probe* probe, const ExporterFactory& make_exporter = nullptr);
  // With an explicit configuration and transport (tests, benchmarks).
  static Result<std::unique_ptr<AgentTelemetry>> Open(
      const Config& config, std::unique_ptr<Transport> transport, const std::string& coord_dir,
      const std::string& agent, uint64_t seed, Clock* clock, Probe* probe,
      const ExporterFactory& make_exporter = nullptr);

  // Records a finished span `name` from `start_us` to now. `attributes` is a
  // flat object ("swarm.item", "swarm.token", ...; "swarm.agent" is added);
  // `error` non-empty makes it an error span; spans with the same
  // `trace_key` (e.g. one grant: "w7/3") share a trace id.
  void Record(std::string_view name, int64_t start_us, nlohmann::json attributes,
              std::string_view error = {}, std::string_view trace_key = {});
  void Tick() { exporter_->Tick(); }
  void Shutdown() { exporter_->Shutdown(); }

  Exporter& exporter() { return *exporter_; }
  const OwnedSpool& spool() const { return *spool_; }

 private:
  AgentTelemetry() = default;
  std::string NextSpanId();

  Clock* clock_ = nullptr;
  std::string agent_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<OwnedSpool> spool_;
  std::unique_ptr<Exporter> exporter_;
  uint64_t ids_ = 0;
  uint64_t trace_salt_ = 0;
};

// The reaper's telemetry: exports the spools of agents that are not running.
class ReaperTelemetry {
 public:
  // nullptr (ok) when telemetry is off.
  static Result<std::unique_ptr<ReaperTelemetry>> FromEnvironment(const std::string& coord_dir,
                                                                  Clock* clock, Probe* probe);
  void Pass() { exporter_->Pass(); }

 private:
  ReaperTelemetry() = default;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<OrphanExporter> exporter_;
};

}  // namespace swarm::telemetry
