// The engine's handle on the run's collector: a `faultline sink` process
// (sim/sink.h) started through the run's ProcessSet, so that it dies with the
// harness like every other child. Modes are switched over its control socket
// and take effect before SetMode returns; "down" kills the process, and the
// next mode restarts it on the same port with the same record, so the agents'
// endpoint never changes.
//
// Not thread-safe; owned by the engine, which calls it only while every
// controlled process is parked (lockstep), so no export is in flight.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "sim/process_set.h"
#include "sim/sink.h"

namespace faultline {

class SinkProcess {
 public:
  // `command`: how to run the sink (e.g. {"/path/faultline", "sink"}).
  // `timeout_ms` bounds each wait for the sink to answer.
  SinkProcess(ProcessSet* processes, std::vector<std::string> command, std::string record_path,
              std::string log_path, int64_t timeout_ms);
  ~SinkProcess();
  SinkProcess(const SinkProcess&) = delete;
  SinkProcess& operator=(const SinkProcess&) = delete;

  // Starts the sink, up, on a free loopback port.
  base::Status Start();
  base::Status SetMode(CollectorMode mode);
  // Kills the sink (its record stays).
  void Stop();

  CollectorMode mode() const { return mode_; }
  int port() const { return port_; }
  // The base URL for OTEL_EXPORTER_OTLP_ENDPOINT.
  std::string Endpoint() const;
  const std::string& record_path() const { return record_path_; }

 private:
  base::Status Spawn(int port, CollectorMode mode);
  // One line from the sink, within the timeout.
  base::Status ReadLine(std::string* line);

  ProcessSet* processes_;
  std::vector<std::string> command_;
  std::string record_path_;
  std::string log_path_;
  int64_t timeout_ms_;
  pid_t pid_ = -1;
  int ctl_fd_ = -1;
  std::string buffer_;
  int port_ = 0;
  CollectorMode mode_ = CollectorMode::kDown;
};

}  // namespace faultline
