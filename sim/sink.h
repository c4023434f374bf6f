// faultline sink: the collector of a run (DESIGN §3) — a real OTLP/HTTP JSON
// receiver that records every span it accepted, and whose failure modes the
// simulator switches.
//
// Modes (CollectorMode):
//   up         POST /v1/traces answers 200 and records the spans
//   503        answers 503 Service Unavailable, records nothing
//   blackhole  accepts the connection and never answers (the client times out);
//              a connection accepted in this mode is never answered or
//              recorded, even if the mode changes before its request is read
//   down       no process at all (the simulator kills it, and restarts it later
//              on the same port); not a mode of a running server
//
// The same server is the runs' stub model API (coordinator/model_client.h):
// POST /v1/model answers 200 {"item", "output"} when up, and fails in the
// same modes (503, blackhole, down); nothing of it is recorded. The engine
// runs a second sink for that, so the model and the collector fail apart.
//
// The record: one JSON line per span accepted for the first time
// ({"span_id", "trace_id", "name", "instance"}), appended before the answer
// goes out, so an acknowledged span is on record even if the sink is killed
// right after. A restarted sink reads the file back and deduplicates across
// restarts.
//
// The process that serves it, `faultline sink`, and its control protocol:
// sim/sink_main.h. What the receiver reads from a request: sim/otlp_export.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace faultline {

enum class CollectorMode { kUp, kDown, kUnavailable, kBlackhole };
// "up", "down", "503", "blackhole".
std::string_view Name(CollectorMode mode);
std::optional<CollectorMode> ParseCollectorMode(std::string_view name);

// The stub model's path (coordinator/model_client.h kModelPath).
inline constexpr const char* kModelApiPath = "/v1/model";

namespace sink_protocol {
inline constexpr const char* kReady = "ready";
inline constexpr const char* kPort = "port";
inline constexpr const char* kMode = "mode";
inline constexpr const char* kOk = "ok";
}  // namespace sink_protocol

// The receiver. The HTTP server runs on its own threads; every method is
// thread-safe.
class SinkServer {
 public:
  struct Counts {
    uint64_t requests = 0;
    uint64_t spans_recorded = 0;   // first receipts, this process
    uint64_t spans_duplicate = 0;  // already on record
    uint64_t answered_503 = 0;
    uint64_t blackholed = 0;
    uint64_t bad_requests = 0;
    uint64_t model_requests = 0;  // POST /v1/model
  };

  // Binds host:port (0: a free port) and serves. InvalidArgument for a bad
  // mode (kDown); IOError naming the address when it cannot bind.
  static base::Result<std::unique_ptr<SinkServer>> Start(const std::string& host, int port,
                                                         const std::string& record_path,
                                                         CollectorMode mode);
  // Stops serving (connections held in blackhole are closed unanswered).
  ~SinkServer();

  int port() const;
  // REQUIRES: mode != kDown. Takes effect for every connection accepted
  // after it returns.
  void SetMode(CollectorMode mode);
  CollectorMode mode() const;
  Counts counts() const;

  struct Impl;

 private:
  explicit SinkServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The distinct span ids of a record file, sorted. NotFound when the file
// does not exist (the sink never recorded anything).
// The stub model's answer to a request body: {"item": ITEM, "output":
// "done: ITEM"}, ITEM being the request's "item" when it is a string, else "".
// Any bytes are a request it answers.
std::string StubModelAnswer(const std::string& request_body);

base::Result<std::vector<std::string>> ReadSinkRecord(const std::string& path);

}  // namespace faultline
