#include "coordinator/agent.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "coordinator/exit_codes.h"
#include "sim/protocol/control_protocol.h"

namespace swarm {
namespace {

// How long an agent with nothing to claim waits before looking again.
constexpr int64_t kIdlePollUs = 20'000;
// Backoff while storage fails (disk full, I/O errors).
constexpr int64_t kStorageBackoffUs = 100'000;

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t HashString(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

Agent::Agent(Store* store, Clock* clock, Probe* probe, AgentOptions options,
             const std::atomic<bool>* stop, telemetry::AgentTelemetry* telemetry)
    : store_(store),
      clock_(clock),
      probe_(probe),
      options_(std::move(options)),
      stop_(stop),
      telemetry_(telemetry),
      rng_(options_.seed ^ HashString(options_.id)) {}

void Agent::GrantSpan(std::string_view name, int64_t start_us, const Grant& grant,
                      std::string_view error) {
  telemetry_->Record(name, start_us,
                     {{"swarm.item", grant.item}, {"swarm.token", grant.token},
                      {"swarm.attempt", grant.attempt}},
                     error, fmt::format("{}/{}", grant.item, grant.token));
}

void Agent::Log(const std::string& line) {
  std::fprintf(stderr, "swarm agent %s: %s\n", options_.id.c_str(), line.c_str());
}

void Agent::LogStorage(const Status& s) {
  // One line (and one event) per distinct problem, not one per retry. The
  // event carries the error without the path, which names the directory.
  const size_t colon = s.message().rfind(": ");
  const std::string error = colon == std::string::npos ? s.message() : s.message().substr(colon + 2);
  const std::string key = std::string(s.CodeName()) + ": " + error;  // no paths: temp names vary
  if (key != last_storage_error_) {
    Log(s.ToString() + "; retrying");
    last_storage_error_ = key;
    probe_->Reached(faultline::protocol::probe::kStorageError);
    probe_->Emit({{"type", "storage_error"},
                  {"agent", options_.id},
                  {"code", s.CodeName()},
                  {"error", error}});
  }
}

int64_t Agent::DrawWorkMs() {
  if (options_.work_max_ms <= options_.work_min_ms) return options_.work_min_ms;
  uint64_t span = static_cast<uint64_t>(options_.work_max_ms - options_.work_min_ms) + 1;
  return options_.work_min_ms + static_cast<int64_t>(SplitMix64(rng_) % span);
}

int Agent::Stop(AgentStatus status, const std::string& reason, int code) {
  record_.status = status;
  record_.reason = reason;
  record_.holding.clear();
  record_.heartbeat_us = clock_->NowMicros();
  Status s = store_->MarkAgent(record_);
  if (!s.ok()) Log("could not record final status: " + s.ToString());
  if (options_.verbose || code != 0) Log(fmt::format("{} ({} items completed)", reason, completed_));
  if (telemetry_) telemetry_->Shutdown();
  return code;
}

int Agent::Run() {
  const int64_t register_start = SpanStart();
  auto cluster = store_->LoadCluster();
  if (!cluster.ok()) {
    Log("cannot read the cluster configuration: " + cluster.status().ToString());
    return kExitConfig;
  }
  config_ = options_.config.value_or(*cluster);
  record_.id = options_.id;
  record_.pid = getpid();
  record_.fingerprint = Fingerprint(config_);
  record_.skills = options_.skills;
  record_.registered_us = clock_->NowMicros();
  record_.heartbeat_us = record_.registered_us;

  if (record_.fingerprint != Fingerprint(*cluster)) {
    std::string why = fmt::format(
        "config fingerprint {} does not match the cluster's {} ({}); refusing to claim. "
        "Start the agent with the cluster's settings (omit --config) or re-initialise the "
        "directory",
        record_.fingerprint, Fingerprint(*cluster), DescribeDifference(config_, *cluster));
    probe_->Reached(faultline::protocol::probe::kRegisterRefused);
    probe_->Emit({{"type", "refused"}, {"agent", options_.id},
                  {"fingerprint", record_.fingerprint},
                  {"cluster_fingerprint", Fingerprint(*cluster)}});
    if (telemetry_) {
      telemetry_->Record("register", register_start,
                         {{"swarm.fingerprint", record_.fingerprint},
                          {"swarm.cluster_fingerprint", Fingerprint(*cluster)}},
                         "refused: config fingerprint mismatch");
    }
    return Stop(AgentStatus::kRefused, why, kExitConfig);
  }
  if (Status s = store_->Register(record_); !s.ok()) {
    Log("cannot register: " + s.ToString());
    if (telemetry_) {
      telemetry_->Record("register", register_start, {{"swarm.fingerprint", record_.fingerprint}},
                         s.CodeName());
      telemetry_->Shutdown();
    }
    return s.code() == Status::Code::kConflict ? kExitUsage : kExitFailure;
  }
  if (telemetry_) {
    telemetry_->Record("register", register_start, {{"swarm.fingerprint", record_.fingerprint}});
  }
  next_heartbeat_us_ = clock_->NowMicros() + config_.heartbeat_ms * 1000;
  if (options_.verbose) Log("registered with fingerprint " + record_.fingerprint);

  bool halt_noted = false;
  while (!stop_->load()) {
    if (telemetry_) telemetry_->Tick();
    if (clock_->NowMicros() >= next_heartbeat_us_ && Heartbeat() == Beat::kDrift) {
      return Stop(AgentStatus::kStopped, drift_reason_, kExitConfig);
    }
    if (store_->Halted()) {
      if (!halt_noted) {
        probe_->Reached(faultline::protocol::probe::kHaltSeen);
        probe_->Emit({{"type", "halt_seen"}, {"agent", options_.id}});
        if (options_.verbose) Log("HALT present: not claiming");
        halt_noted = true;
      }
      if (options_.exit_when_idle) return Stop(AgentStatus::kStopped, "halted", kExitOk);
      clock_->SleepMicros(config_.heartbeat_ms * 1000);
      continue;
    }
    halt_noted = false;
    const int64_t claim_start = SpanStart();
    auto outcome = store_->ClaimNext(options_.id);
    if (!outcome.ok()) {
      if (telemetry_) telemetry_->Record("claim_work", claim_start, {}, outcome.status().CodeName());
      LogStorage(outcome.status());
      clock_->SleepMicros(kStorageBackoffUs);
      continue;
    }
    last_storage_error_.clear();
    if (outcome->grant) {
      if (telemetry_) GrantSpan("claim_work", claim_start, *outcome->grant);
      Work(std::move(*outcome->grant));
      if (drift_) return Stop(AgentStatus::kStopped, drift_reason_, kExitConfig);
      continue;
    }
    if (!outcome->work_remaining && options_.exit_when_idle) {
      return Stop(AgentStatus::kStopped, "no work left", kExitOk);
    }
    clock_->SleepMicros(kIdlePollUs + static_cast<int64_t>(SplitMix64(rng_) % kIdlePollUs));
  }
  return Stop(AgentStatus::kStopped, "stopped by signal", kExitOk);
}

Agent::Beat Agent::Heartbeat(const Grant* held) {
  const int64_t span_start = SpanStart();
  next_heartbeat_us_ = clock_->NowMicros() + config_.heartbeat_ms * 1000;
  // Drift: the cluster's settings changed under a running agent. It stops
  // claiming rather than run with a lease or timeout the others do not share.
  auto cluster = store_->LoadCluster();
  if (!cluster.ok() && cluster.status().code() != Status::Code::kCorrupt) {
    // Could not read it (EMFILE, EIO): a storage problem, not drift.
    LogStorage(cluster.status());
    return Beat::kOk;
  }
  if (!cluster.ok() || Fingerprint(*cluster) != record_.fingerprint) {
    if (drift_) return Beat::kDrift;  // already seen and reported
    drift_ = true;
    drift_reason_ = cluster.ok()
                        ? fmt::format("cluster configuration changed ({}); stopped claiming",
                                      DescribeDifference(config_, *cluster))
                        : "cluster configuration unreadable (" + cluster.status().ToString() +
                              "); stopped claiming";
    probe_->Reached(faultline::protocol::probe::kHeartbeatDrift);
    probe_->Emit({{"type", "drift_seen"}, {"agent", options_.id}, {"reason", drift_reason_}});
    if (telemetry_) telemetry_->Record("heartbeat", span_start, {}, "configuration drift");
    return Beat::kDrift;
  }
  record_.heartbeat_us = clock_->NowMicros();
  record_.status = AgentStatus::kAlive;
  Status s = store_->Heartbeat(record_, held, &grant_lost_);
  if (!s.ok()) LogStorage(s);
  if (telemetry_) {
    nlohmann::json attributes = {{"swarm.holding", record_.holding.size()}};
    if (held != nullptr) attributes["swarm.item"] = held->item;
    telemetry_->Record("heartbeat", span_start, std::move(attributes),
                       s.ok() ? std::string_view() : s.CodeName());
  }
  return Beat::kOk;
}

void Agent::Work(Grant grant) {
  record_.holding = {grant.item};
  grant_lost_ = false;
  if (options_.verbose) Log(fmt::format("claimed {} (token {})", grant.item, grant.token));
  if (model_ != nullptr && !CallModel(grant)) return;
  const int64_t lease_us = config_.lease_ms * 1000;
  const int64_t done_at = clock_->NowMicros() + DrawWorkMs() * 1000;
  while (clock_->NowMicros() < done_at) {
    if (stop_->load()) {
      const int64_t span_start = SpanStart();
      Status s = store_->Release(grant, "agent stopping");
      if (!s.ok()) Log("could not release " + grant.item + ": " + s.ToString());
      if (telemetry_) GrantSpan("release", span_start, grant, s.ok() ? "" : s.CodeName());
      record_.holding.clear();
      return;
    }
    const int64_t renew_at = grant.lease_until_us - lease_us / 2;
    int64_t wake = std::min({done_at, renew_at, next_heartbeat_us_});
    clock_->SleepMicros(std::max<int64_t>(wake - clock_->NowMicros(), 0));
    if (telemetry_) telemetry_->Tick();
    const int64_t now = clock_->NowMicros();
    if (now >= next_heartbeat_us_ && Heartbeat(&grant) == Beat::kDrift) {
      // Finish nothing more under a changed configuration: give it back.
      const int64_t span_start = SpanStart();
      Status s = store_->Release(grant, "configuration drift");
      if (!s.ok()) Log("could not release " + grant.item + ": " + s.ToString());
      if (telemetry_) GrantSpan("release", span_start, grant, s.ok() ? "" : s.CodeName());
      record_.holding.clear();
      return;
    }
    if (grant_lost_) {
      // The lease lapsed (a stall) and someone else holds the item now.
      grant_lost_ = false;
      Log(fmt::format("lost {} (token {}) while working; leaving it to its new holder",
                      grant.item, grant.token));
      return;
    }
    if (now >= renew_at && now < done_at) {
      const int64_t span_start = SpanStart();
      Status s = store_->Renew(grant);
      if (telemetry_) GrantSpan("renew_lease", span_start, grant, s.ok() ? "" : s.CodeName());
      if (s.code() == Status::Code::kStaleToken) {
        Log("lost " + grant.item + ": " + s.message());
        record_.holding.clear();
        return;
      }
      if (!s.ok()) {
        // Nothing renewed: wait a little rather than retry at once (under
        // lockstep an immediate retry would never let simulated time move).
        LogStorage(s);
        clock_->SleepMicros(kStorageBackoffUs);
      }
    }
  }
  if (CompleteWithRetry(grant)) ++completed_;
  record_.holding.clear();
}

bool Agent::CallModel(Grant& grant) {
  // Adapts the agent's duties to the caller's Tending.
  class GrantTending final : public model::Tending {
   public:
    GrantTending(Agent* agent, Grant* grant) : agent_(agent), grant_(grant) {}
    int64_t NextDutyUs() override { return agent_->NextDutyUs(*grant_); }
    bool Tend() override { return agent_->TendGrant(*grant_, &why); }
    std::string why;

   private:
    Agent* agent_;
    Grant* grant_;
  };
  GrantTending tending(this, &grant);
  renew_retry_us_ = 0;
  const model::Outcome outcome = model_->Call(options_.id, grant.item, tending);
  if (outcome.abandoned) {
    if (tending.why == "lost") {
      Log(fmt::format("lost {} (token {}) while waiting for the model", grant.item, grant.token));
      record_.holding.clear();
    } else {
      ReleaseHeld(grant, tending.why == "drift" ? "configuration drift" : "agent stopping");
    }
    return false;
  }
  if (outcome.ok) {
    model_failures_ = 0;
    return true;
  }
  // Give the item back at once for someone (or a later try) to do, rather
  // than hold it while the model is failing, and wait before calling again.
  ReleaseHeld(grant, "model call failed: " + outcome.error);
  ++model_failures_;
  const int64_t delay = model_->BackoffUs(model_failures_, SplitMix64(rng_));
  Log(fmt::format("model call for {} failed ({}); released it, backing off {} ms", grant.item,
                  outcome.error, delay / 1000));
  probe_->Reached(faultline::protocol::probe::kModelBackoff);
  probe_->Emit({{"type", "model_backoff"}, {"agent", options_.id},
                {"failures", model_failures_}, {"delay_us", delay}});
  Rest(delay);
  return false;
}

int64_t Agent::NextDutyUs(const Grant& grant) const {
  const int64_t renew_at = grant.lease_until_us - config_.lease_ms * 1000 / 2;
  return std::min(next_heartbeat_us_, std::max(renew_at, renew_retry_us_));
}

bool Agent::TendGrant(Grant& grant, std::string* why) {
  if (stop_->load()) {
    *why = "stopping";
    return false;
  }
  if (telemetry_) telemetry_->Tick();
  const int64_t now = clock_->NowMicros();
  if (now >= next_heartbeat_us_ && Heartbeat(&grant) == Beat::kDrift) {
    *why = "drift";
    return false;
  }
  if (grant_lost_) {
    grant_lost_ = false;
    *why = "lost";
    return false;
  }
  const int64_t renew_at = grant.lease_until_us - config_.lease_ms * 1000 / 2;
  if (now < renew_at || now < renew_retry_us_) return true;
  const int64_t span_start = SpanStart();
  Status s = store_->Renew(grant);
  if (telemetry_) GrantSpan("renew_lease", span_start, grant, s.ok() ? "" : s.CodeName());
  if (s.code() == Status::Code::kStaleToken) {
    *why = "lost";
    return false;
  }
  if (!s.ok()) {
    LogStorage(s);
    renew_retry_us_ = now + kStorageBackoffUs;
  }
  return true;
}

void Agent::Rest(int64_t micros) {
  const int64_t until = clock_->NowMicros() + micros;
  while (!stop_->load() && !drift_) {
    const int64_t now = clock_->NowMicros();
    if (now >= until) return;
    if (now >= next_heartbeat_us_ && Heartbeat() == Beat::kDrift) return;
    clock_->SleepMicros(std::min(until, next_heartbeat_us_) - clock_->NowMicros());
    if (telemetry_) telemetry_->Tick();
  }
}

void Agent::ReleaseHeld(const Grant& grant, const std::string& reason) {
  const int64_t span_start = SpanStart();
  Status s = store_->Release(grant, reason);
  if (!s.ok()) Log("could not release " + grant.item + ": " + s.ToString());
  if (telemetry_) GrantSpan("release", span_start, grant, s.ok() ? "" : s.CodeName());
  record_.holding.clear();
}

bool Agent::CompleteWithRetry(const Grant& grant) {
  std::string result = fmt::format("{} processed by {} with token {}", grant.item, grant.agent,
                                   grant.token);
  while (true) {
    const int64_t span_start = SpanStart();
    Status s = store_->Complete(grant, result);
    if (telemetry_) GrantSpan("complete_work", span_start, grant, s.ok() ? "" : s.CodeName());
    if (s.ok()) {
      last_storage_error_.clear();
      if (options_.verbose) Log(fmt::format("completed {} (token {})", grant.item, grant.token));
      return true;
    }
    if (s.code() == Status::Code::kStaleToken || s.code() == Status::Code::kCorrupt ||
        s.code() == Status::Code::kNotFound) {
      Log("could not complete " + grant.item + ": " + s.message());
      return false;
    }
    // Busy or storage trouble: nothing was committed; try again.
    LogStorage(s);
    if (stop_->load()) return false;
    clock_->SleepMicros(kStorageBackoffUs);
    if (clock_->NowMicros() >= next_heartbeat_us_) Heartbeat(&grant);
    if (grant_lost_) {
      // The heartbeat found the item held by someone else: its completion
      // is theirs now, as in Work and TendGrant.
      grant_lost_ = false;
      Log(fmt::format("lost {} (token {}) while completing it; leaving it to its new holder",
                      grant.item, grant.token));
      return false;
    }
  }
}

}  // namespace swarm
