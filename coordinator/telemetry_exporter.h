// Span export of the reference coordinator: batching, retry with backoff and
// jitter, a disk spool while the collector is unreachable, and a bounded
// spool whose drops are counted — never a silent one.
//
// Every decision runs on the process's Clock (simulated under lockstep) and a
// seeded generator, and an export is one blocking request inside the
// caller's step: in lockstep the trace depends only on whether each request
// succeeded, never on how long it took. No threads.
//
// History events (Probe::Emit; sim/trace_event.h documents them):
//   span_created   agent, span, name, item?   a span was recorded (and is in live.jsonl)
//   span_exported  agent, by, count, from ("batch" | "spool")   the collector took them
//   span_spooled   agent, count, backlog (spans in the spool after), why
//   span_dropped   agent, by, count, reason ("spool_full" | "spool_write_failed" |
//                  "rejected" | "unreadable"), detail, spans (their ids)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/clock.h"
#include "coordinator/probe.h"
#include "coordinator/telemetry_config.h"
#include "coordinator/telemetry_span.h"
#include "coordinator/telemetry_spool.h"

namespace swarm::telemetry {

// The outcome of one POST. `detail` is a fixed phrase per kind of failure
// ("connection refused", "no answer within the timeout", "HTTP 503"): it goes
// into events, so it must not carry timings or addresses.
struct PostOutcome {
  enum class Kind { kAccepted, kRetryable, kRejected };
  Kind kind = Kind::kRetryable;
  std::string detail;
};

// Where batches go: OTLP/HTTP in production (telemetry_http.h), anything in
// tests.
class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one ExportTraceServiceRequest body (OTLP/HTTP JSON).
  virtual PostOutcome Post(const std::string& body) = 0;
};

// Backoff after failed exports: initial, doubling up to max, each delay drawn
// uniformly from its upper half (jitter) by a seeded generator.
class Backoff {
 public:
  Backoff(int64_t initial_us, int64_t max_us, uint64_t seed)
      : initial_us_(initial_us), max_us_(max_us), rng_(seed) {}
  bool Waiting(int64_t now_us) const { return now_us < next_us_; }
  void Failed(int64_t now_us);
  void Succeeded() { failures_ = 0, next_us_ = 0; }

 private:
  int64_t initial_us_, max_us_;
  uint64_t rng_;
  int failures_ = 0;
  int64_t next_us_ = 0;
};

// One agent's exporter. Borrowed pointers must outlive it.
class Exporter {
 public:
  Exporter(const Config& config, Transport* transport, OwnedSpool* spool, Clock* clock,
           Probe* probe, std::string agent, uint64_t seed);
  virtual ~Exporter() = default;
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  // Takes a finished span: makes it survive a crash (live.jsonl), records
  // span_created, and exports the batch once it is full. A span that cannot
  // be made durable (disk full) is exported at once, or dropped counted.
  void Add(Span span);
  // Exports a partial batch whose schedule delay has passed, and drains the
  // spool while the collector answers. Cheap when there is nothing to do.
  void Tick();
  // At exit: one last attempt for the batch (spooled if it fails) and for the
  // spool. What stays spooled is exported by the next start or the reaper.
  void Shutdown();

  size_t spooled_spans() const { return spool_->spans(); }
  size_t dropped_spans() const { return dropped_; }

 protected:
  // A batch the collector did not take (`why`: unreachable, 5xx, timed out,
  // or backing off). The reference spools it, or drops it counted when the
  // spool is full or cannot be written. This is the only way a batch leaves
  // the exporter without reaching the collector: a deliberately broken
  // exporter (tests/mutants) overrides it to drop silently.
  virtual void Undeliverable(std::vector<Span> batch, const std::string& why);
  // The one drop path: a span_dropped event naming every span, then nothing.
  void DropCounted(const std::vector<Span>& batch, std::string_view reason,
                   const std::string& detail);

 private:
  // One POST of `spans`; false with *why when the collector did not take it
  // (rejected batches are dropped here, counted).
  bool Send(const std::vector<Span>& spans, std::string_view from, std::string* why);
  void FlushBatch(bool last_chance);
  void DrainSpool();
  void Emit(nlohmann::json event);

  Config config_;
  Transport* transport_;
  OwnedSpool* spool_;
  Clock* clock_;
  Probe* probe_;
  std::string agent_;
  Resource resource_;
  Backoff backoff_;
  std::vector<Span> batch_;
  int64_t batch_started_us_ = 0;
  size_t dropped_ = 0;
  bool must_flush_ = false;  // a span of the batch is not durable
};

// The reaper's part: exports what the spools of agents that are not running
// still hold, and removes it once the collector took it. Backs off like an
// exporter while the collector is down.
class OrphanExporter {
 public:
  OrphanExporter(const Config& config, Transport* transport, Clock* clock, Probe* probe,
                 std::string coord_dir, uint64_t seed);
  // One pass over DIR/spool/. Events: span_exported (by "reaper"),
  // span_dropped (reason "rejected" or "unreadable").
  void Pass();

 private:
  bool ExportOne(const std::string& agent);

  Config config_;
  Transport* transport_;
  Clock* clock_;
  Probe* probe_;
  std::string coord_dir_;
  Backoff backoff_;
};

}  // namespace swarm::telemetry
