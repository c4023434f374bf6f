#include "sim/endpoints.h"

#include <algorithm>

namespace faultline {

Endpoints::Endpoints(ProcessSet* processes, std::vector<std::string> sink_command,
                     std::string log_dir, int64_t timeout_ms)
    : processes_(processes),
      sink_command_(std::move(sink_command)),
      log_dir_(std::move(log_dir)),
      timeout_ms_(timeout_ms) {}

bool Endpoints::StartCollector(std::string* error) {
  if (sink_command_.empty()) {
    *error = "this scenario exports telemetry, but the engine was given no collector command "
             "(EngineOptions::sink_command)";
    return false;
  }
  collector_ = std::make_unique<SinkProcess>(processes_, sink_command_,
                                             log_dir_ + "/collector-spans.jsonl",
                                             log_dir_ + "/sink.log", timeout_ms_);
  if (base::Status st = collector_->Start(); !st.ok()) {
    *error = st.message();
    return false;
  }
  return true;
}

std::string Endpoints::CollectorEndpoint() const {
  return collector_ ? collector_->Endpoint() : "";
}

bool Endpoints::SetCollectorMode(CollectorMode mode, std::string* error) {
  if (!collector_) {
    *error = "a fault switched the collector, but this run has none";
    return false;
  }
  if (base::Status st = collector_->SetMode(mode); !st.ok()) {
    *error = st.message();
    return false;
  }
  return true;
}

bool Endpoints::StartModel(std::string* error) {
  if (sink_command_.empty()) {
    *error = "this scenario needs the stub model API, but the engine was given no sink "
             "command (EngineOptions::sink_command)";
    return false;
  }
  model_ = std::make_unique<SinkProcess>(processes_, sink_command_,
                                         log_dir_ + "/model-stub-record.jsonl",
                                         log_dir_ + "/model-stub.log", timeout_ms_);
  if (base::Status st = model_->Start(); !st.ok()) {
    *error = "stub model: " + st.message();
    return false;
  }
  return true;
}

std::string Endpoints::ModelEndpoint() const { return model_ ? model_->Endpoint() : ""; }

bool Endpoints::SetModelMode(CollectorMode mode, std::string* error) {
  if (!model_) {
    *error = "a fault switched the stub model, but this run has none";
    return false;
  }
  if (base::Status st = model_->SetMode(mode); !st.ok()) {
    *error = "stub model: " + st.message();
    return false;
  }
  return true;
}

std::vector<nlohmann::json> Endpoints::End(const std::vector<SpoolLeft>& left) {
  std::vector<nlohmann::json> events;
  if (collector_) {
    collector_->Stop();
    for (const SpoolLeft& l : left) {
      events.push_back({{"type", "spool_left"}, {"agent", l.agent}, {"count", l.spans.size()},
                        {"spans", l.spans}});
    }
    constexpr size_t kPart = 1000;
    auto received = ReadSinkRecord(collector_->record_path());
    if (!received.ok() && received.status().code() != base::Status::Code::kNotFound) {
      events.push_back({{"type", "sink_received"}, {"error", received.status().message()},
                        {"total", 0}, {"part", 0}, {"parts", 1},
                        {"spans", nlohmann::json::array()}});
    } else {
      const std::vector<std::string> ids = received.ok() ? *received : std::vector<std::string>();
      const size_t parts = std::max<size_t>(1, (ids.size() + kPart - 1) / kPart);
      for (size_t part = 0; part < parts; ++part) {
        const auto first =
            ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), part * kPart));
        const auto last =
            ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), (part + 1) * kPart));
        events.push_back({{"type", "sink_received"}, {"total", ids.size()}, {"part", part},
                          {"parts", parts}, {"spans", std::vector<std::string>(first, last)}});
      }
    }
  }
  if (model_) model_->Stop();
  return events;
}

}  // namespace faultline
