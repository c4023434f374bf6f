// config_fail_fast (DESIGN §6): no grant ever goes to an agent whose config
// fingerprint differs from the cluster's.
//
// The cluster's fingerprint is run_start's "cluster_fingerprint", replaced by
// the "cluster_fingerprint" of every `fault` of kind "config_drift" (the
// cluster's configuration changed at that event). An agent's fingerprint is
// that of its latest `register` (a restarted agent registers again). A
// claim_ok is a violation when
//   - the agent's latest register has a fingerprint other than the cluster's
//     in force at the claim (evidence: the register, the drift fault that
//     set the cluster's fingerprint if one did, and the claim, in seq order);
//     or
//   - the agent was `refused` and has not registered since (evidence: the
//     refusal and the claim). A register after the refusal puts the agent
//     back under the first rule: with the cluster's fingerprint it may
//     claim, with another its claims are violations of the first kind.
// A claim is judged by its place in the trace: one that follows a drift is
// judged against the drifted fingerprint, once the agents were due to notice
// the drift — at their next heartbeat (DESIGN §2): claims within
// heartbeat_ms of the drift (lockstep; freerun adds 2 * heartbeat_ms + 1 s)
// are not violations.
//
// Not judged: a claim by an agent with no register (its fingerprint is
// unknown), and the first rule while the cluster's fingerprint is unknown
// (run_start without one, or a config_drift fault without one).
// Thread-compatible; memory is one entry per agent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class ConfigFailFast final : public Invariant {
 public:
  static constexpr const char* kName = "config_fail_fast";
  static constexpr const char* kSummary =
      "no grant ever goes to an agent whose fingerprint differs from the cluster's, nor to a "
      "refused agent that has not registered since";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  struct AgentRecord {
    bool registered = false;
    std::string fingerprint;  // of the latest register
    uint64_t register_seq = 0;
    int64_t register_t = 0;
    bool refused = false;  // refused, and no register since
    uint64_t refused_seq = 0;
    int64_t refused_t = 0;
    std::string refused_fingerprint;
    std::string refused_cluster;  // the cluster's fingerprint the refusal quotes
  };
  struct Drift {
    uint64_t seq = 0;
    int64_t t = 0;
  };

  void OnClaim(const TraceEvent& event);

  std::string cluster_;         // the fingerprint in force; "" while unknown
  int64_t grace_us_ = 0;        // after a drift, claims within this are allowed
  std::optional<Drift> drift_;  // the config_drift fault that set it, if one did
  std::unordered_map<std::string, AgentRecord> agents_;
  checker::ViolationList violations_{kName};
};

}  // namespace faultline
