// The run's two stub endpoints, each a `faultline sink` process
// (sim/sink_process.h): the collector the agents export spans to
// (docs/telemetry.md), and the stub model API they do their work through
// (coordinator/model_client.h). The engine starts them before the system's
// processes, faults switch their modes, and at the end the collector's
// record becomes history events.
//
// Not thread-safe; owned by the engine, which calls it only while every
// controlled process is parked (lockstep), so no request is in flight.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/process_set.h"
#include "sim/sink.h"
#include "sim/sink_process.h"
#include "sim/sut.h"

namespace faultline {

class Endpoints {
 public:
  // `sink_command` runs `faultline sink`; records and logs go to `log_dir`;
  // `timeout_ms` bounds each wait for a sink to answer.
  Endpoints(ProcessSet* processes, std::vector<std::string> sink_command, std::string log_dir,
            int64_t timeout_ms);

  // Starts the collector, up. False with `*error` if there is no sink
  // command or the sink did not start. Then CollectorEndpoint() is its base
  // URL (for OTEL_EXPORTER_OTLP_ENDPOINT).
  bool StartCollector(std::string* error);
  bool has_collector() const { return collector_ != nullptr; }
  std::string CollectorEndpoint() const;
  // Switches the collector (up, 503, blackhole, down). False with `*error`
  // if the run has none or it did not answer.
  bool SetCollectorMode(CollectorMode mode, std::string* error);

  // The same for the stub model API.
  bool StartModel(std::string* error);
  std::string ModelEndpoint() const;
  bool SetModelMode(CollectorMode mode, std::string* error);

  // Once every controlled process has stopped: stops the collector and
  // returns the end's history events — a spool_left per entry of `left`
  // (what the agents still hold: accounted for, not lost), then what the
  // collector took, sorted, as sink_received parts of a bounded size. None
  // when the run has no collector. Also stops the stub model.
  std::vector<nlohmann::json> End(const std::vector<SpoolLeft>& left);

 private:
  ProcessSet* processes_;
  std::vector<std::string> sink_command_;
  std::string log_dir_;
  int64_t timeout_ms_;
  std::unique_ptr<SinkProcess> collector_;
  std::unique_ptr<SinkProcess> model_;
};

}  // namespace faultline
