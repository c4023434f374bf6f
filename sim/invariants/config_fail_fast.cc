#include "sim/invariants/config_fail_fast.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "sim/invariants/checker_support.h"

namespace faultline {

using checker::IntField;
using checker::Seconds;
using checker::StrField;

void ConfigFailFast::Observe(const TraceEvent& event) {
  const std::string& type = event.type;
  if (type == "claim_ok") {
    OnClaim(event);
  } else if (type == "register") {
    AgentRecord& a = agents_[event.agent];
    a.registered = true;
    a.fingerprint = StrField(event.fields, "fingerprint");
    a.register_seq = event.seq;
    a.register_t = event.t;
    // A register supersedes a refusal: registered with the cluster's
    // fingerprint, the agent may claim; with another, its claims fall under
    // the fingerprint rule, whose evidence (this register) says more.
    a.refused = false;
  } else if (type == "refused") {
    AgentRecord& a = agents_[event.agent];
    a.refused = true;
    a.refused_seq = event.seq;
    a.refused_t = event.t;
    a.refused_fingerprint = StrField(event.fields, "fingerprint");
    a.refused_cluster = StrField(event.fields, "cluster_fingerprint");
  } else if (type == "fault") {
    if (StrField(event.fields, "kind") != "config_drift") return;
    // The agent form (some agents start with other settings; its event
    // names one) leaves the cluster's settings as they were.
    if (event.fields.contains("agent")) return;
    cluster_ = StrField(event.fields, "cluster_fingerprint");
    drift_ = Drift{event.seq, event.t};
  } else if (type == "run_start") {
    cluster_ = StrField(event.fields, "cluster_fingerprint");
    drift_.reset();
    // Drift is noticed at an agent's next heartbeat (DESIGN §2); freerun
    // adds scheduling slack.
    const int64_t heartbeat_us = IntField(event.fields, "heartbeat_ms") * 1000;
    grace_us_ = StrField(event.fields, "mode") == "lockstep" ? heartbeat_us
                                                            : 2 * heartbeat_us + 1'000'000;
  }
}

void ConfigFailFast::OnClaim(const TraceEvent& event) {
  auto it = agents_.find(event.agent);
  if (it == agents_.end()) return;
  const AgentRecord& a = it->second;
  if (a.refused) {
    violations_.Report(
        fmt::format("{}: {} was granted token {} at {} after it was refused at {} (seq {}: "
                    "fingerprint {}, the cluster's {}) and had not registered since",
                    event.item, event.agent, event.token, Seconds(event.t), Seconds(a.refused_t),
                    a.refused_seq, a.refused_fingerprint, a.refused_cluster),
        {a.refused_seq, event.seq});
    return;
  }
  if (!a.registered || cluster_.empty() || a.fingerprint == cluster_) return;
  if (drift_ && event.t <= drift_->t + grace_us_) return;  // not yet due to notice
  std::vector<uint64_t> evidence = {a.register_seq, event.seq};
  std::string drifted;
  if (drift_) {
    evidence.push_back(drift_->seq);
    std::sort(evidence.begin(), evidence.end());
    drifted = fmt::format(" (the cluster's configuration drifted at {}, seq {})",
                          Seconds(drift_->t), drift_->seq);
  }
  violations_.Report(
      fmt::format("{}: {} was granted token {} at {} with fingerprint {} (registered at {}, seq "
                  "{}) while the cluster's fingerprint was {}{}",
                  event.item, event.agent, event.token, Seconds(event.t), a.fingerprint,
                  Seconds(a.register_t), a.register_seq, cluster_, drifted),
      std::move(evidence));
}

void ConfigFailFast::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

}  // namespace faultline
