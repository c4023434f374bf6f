// The agent's side of an external model API. Agents in a swarm do their work
// by asking a model (an LLM behind an HTTP API), and that API fails: errors,
// 503s, connections refused, requests that hang. The FMEA's "external model
// integration failure cascades" (RPN 105) is an agent that lets such a
// failure into the coordination layer: it holds its claim while hung, misses
// heartbeats and is declared dead while alive, retries in a tight loop. This
// is the reference way to call a model without that:
//
// - ModelRequest: one `POST {endpoint}/v1/model` over a plain POSIX socket
//   (as telemetry_http.cc: non-blocking, MSG_NOSIGNAL, one connection per
//   request), whose answer can be awaited in slices, so the caller does its
//   other duties in between.
// - ModelCaller: one call with a deadline on the process's clock, tending the
//   agent's heartbeats and lease renewals while it waits (Tending), and the
//   bounded exponential backoff with jitter the agent waits after a failure.
//
// Outcomes are fixed phrases ("connection refused", "HTTP 503", "no answer
// within the timeout", ...), never durations or addresses, so they can enter
// a lockstep trace.
//
// Determinism. Under the simulator's lockstep (Clock::Simulated) the outcome
// is settled inside one step: the request waits for its answer up to the
// timeout in wall time, while every other process is parked and the stub
// model's mode cannot change (faults/model_outage.cc), so the mode alone
// decides it. An unanswered request is then charged on the simulated clock:
// the caller waits out its deadline there, tending as it would in real time.
// A healthy stub must answer within the timeout on a loaded machine for a
// trace to repeat (as for telemetry exports, docs/telemetry.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "coordinator/clock.h"
#include "coordinator/probe.h"
#include "coordinator/status.h"

namespace swarm::model {

// The path of the model API under its endpoint.
inline constexpr const char* kModelPath = "/v1/model";

struct Settings {
  std::string endpoint;  // http://HOST:PORT (a base URL); empty: no model
  int64_t timeout_ms = 2000;         // deadline of one call, on the process's clock
  int64_t backoff_initial_ms = 100;  // wait after the first failure in a row
  int64_t backoff_max_ms = 2000;     // the bound of the doubling
};

// Reads --model-backoff-ms "A:B" (initial:max, ms) into `settings`.
Status ParseBackoff(const std::string& text, Settings* settings);

// InvalidArgument naming the setting when the endpoint is not a plain
// http:// URL or a number is out of range.
Status Validate(const Settings& settings);

struct Outcome {
  bool ok = false;
  std::string error;       // a fixed phrase when !ok
  bool abandoned = false;  // the caller stopped waiting (Tending::Tend said so)
};

// One request. Not copyable; closes its socket when destroyed (an abandoned
// request is simply dropped).
class ModelRequest {
 public:
  // Resolves, connects (non-blocking) and starts sending `body` as JSON to
  // host:port/path. A failure on the way settles the outcome at once.
  ModelRequest(const std::string& host, const std::string& port, const std::string& path,
               const std::string& body);
  ~ModelRequest();
  ModelRequest(const ModelRequest&) = delete;
  ModelRequest& operator=(const ModelRequest&) = delete;

  // Waits up to `wait_ms` of real time (0: only what is ready now); true
  // once the outcome is settled.
  bool Await(int64_t wait_ms);
  bool settled() const { return settled_; }
  const Outcome& outcome() const { return outcome_; }

 private:
  enum class Phase { kConnecting, kSending, kReading };
  bool Step(int64_t deadline_ms);
  void Settle(bool ok, std::string error);

  int fd_ = -1;
  Phase phase_ = Phase::kConnecting;
  std::string out_;
  size_t sent_ = 0;
  std::string in_;
  bool settled_ = false;
  Outcome outcome_;
};

// What a caller keeps doing while a call is outstanding: the agent's
// heartbeats and lease renewals.
class Tending {
 public:
  virtual ~Tending() = default;
  // Process-clock time at which Tend has something to do next.
  virtual int64_t NextDutyUs() = 0;
  // Does what is due now. False: stop waiting (the grant was lost, the agent
  // is stopping, or its configuration drifted).
  virtual bool Tend() = 0;
};

class ModelCaller {
 public:
  // REQUIRES: Validate(settings).ok(). `clock` and `probe` are borrowed.
  ModelCaller(Settings settings, Clock* clock, Probe* probe);
  virtual ~ModelCaller() = default;

  // One call about `item` with a deadline of settings().timeout_ms on the
  // process's clock, tending `tending` until it is answered or the deadline
  // passes (a failed outcome "no answer within the timeout"). Every request
  // is recorded as a `model_call` event {agent, item, ok, error}.
  virtual Outcome Call(std::string_view agent, std::string_view item, Tending& tending);
  // The wait before the next call after `failures` (>= 1) failed calls in a
  // row: the initial backoff doubled per failure up to the maximum, drawn
  // from its upper half by `random` (the caller's seeded generator).
  virtual int64_t BackoffUs(int failures, uint64_t random) const;

  const Settings& settings() const { return settings_; }

 protected:
  // Starts the request of one call.
  std::unique_ptr<ModelRequest> Begin(std::string_view agent, std::string_view item) const;
  // Records one request's outcome (the model_call event) and returns it.
  Outcome Report(std::string_view agent, std::string_view item, Outcome outcome);

  Settings settings_;
  Clock* clock_;
  Probe* probe_;
  std::string host_, port_, path_;
};

// How swarm-mutant substitutes its own caller (tests/mutants/).
using CallerFactory =
    std::function<std::unique_ptr<ModelCaller>(const Settings&, Clock*, Probe*)>;

}  // namespace swarm::model
