// The agent loop: register, then claim, work (renewing the lease and
// heartbeating), complete, until stopped or idle.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "coordinator/clock.h"
#include "coordinator/config.h"
#include "coordinator/model_client.h"
#include "coordinator/probe.h"
#include "coordinator/store.h"
#include "coordinator/telemetry.h"

namespace swarm {

struct AgentOptions {
  std::string id;
  // The agent's own settings (--config). Unset: adopt the cluster's.
  std::optional<ClusterConfig> config;
  int64_t work_min_ms = 0;  // simulated work per item, drawn uniformly
  int64_t work_max_ms = 0;
  bool exit_when_idle = false;  // exit 0 once no item is left to do, or when halted
  uint64_t seed = 0;            // with the id, seeds the work-time draws
  std::vector<std::string> skills;  // registered: items needing one of them may be granted
  bool verbose = false;
};

class Agent {
 public:
  // `store`, `clock`, `probe`, `stop` and `telemetry` are borrowed and
  // outlive the agent. `stop` is set from a signal handler to end the loop
  // gracefully. `telemetry` null: no spans (telemetry off).
  Agent(Store* store, Clock* clock, Probe* probe, AgentOptions options,
        const std::atomic<bool>* stop, telemetry::AgentTelemetry* telemetry = nullptr);

  // Each item's work starts with a call to `model` (borrowed; null, the
  // default: no model). A failed call gives the item back and backs off.
  void set_model(model::ModelCaller* model) { model_ = model; }

  // Runs until stopped or idle; returns the process exit code (exit_codes.h).
  int Run();

 private:
  enum class Beat { kOk, kDrift };
  // Checks drift and, when `held` is given, that the grant is still ours
  // (clearing `grant_lost_` otherwise) before writing the heartbeat, so the
  // record never names an item the agent lost.
  Beat Heartbeat(const Grant* held = nullptr);
  void Work(Grant grant);
  bool CompleteWithRetry(const Grant& grant);
  // The model call that starts an item's work, keeping the grant alive while
  // it waits. True: answered, go on working. False: the grant is gone
  // (released after a failure, then backed off; or lost, or given up).
  bool CallModel(Grant& grant);
  // While a call is outstanding: heartbeat and renew when due. False when
  // the grant is lost or the agent stops or drifted (`why` says which).
  bool TendGrant(Grant& grant, std::string* why);
  int64_t NextDutyUs(const Grant& grant) const;
  // Sleeps `micros` on the process's clock, heartbeating (nothing held).
  void Rest(int64_t micros);
  void ReleaseHeld(const Grant& grant, const std::string& reason);
  int64_t DrawWorkMs();
  // The start of a span: the clock when telemetry is on, else 0 (no read).
  int64_t SpanStart() { return telemetry_ ? clock_->NowMicros() : 0; }
  // A span about `grant` (its item and token; one trace per grant).
  void GrantSpan(std::string_view name, int64_t start_us, const Grant& grant,
                 std::string_view error = {});
  int Stop(AgentStatus status, const std::string& reason, int code);
  void Log(const std::string& line);
  void LogStorage(const Status& s);

  Store* store_;
  Clock* clock_;
  Probe* probe_;
  AgentOptions options_;
  const std::atomic<bool>* stop_;
  telemetry::AgentTelemetry* telemetry_;
  ClusterConfig config_;
  AgentRecord record_;
  int64_t next_heartbeat_us_ = 0;
  bool drift_ = false;
  bool grant_lost_ = false;
  std::string drift_reason_;
  uint64_t rng_ = 0;
  std::string last_storage_error_;
  int completed_ = 0;
  model::ModelCaller* model_ = nullptr;
  int model_failures_ = 0;  // failed model calls in a row
  int64_t renew_retry_us_ = 0;  // a failed renewal is retried no sooner
};

}  // namespace swarm
