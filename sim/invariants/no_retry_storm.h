// no_retry_storm: an agent whose external model API fails backs off; it does
// not retry in a storm (the cascade of FMEA "external model integration
// failure cascades", RPN 105). Every `model_call` {agent, item, token, ok,
// error} is one call an agent made (coordinator/model_client.h); a failed one
// (ok false, not abandoned because the agent stopped waiting) counts. More
// than max_failed_calls failed calls by one agent within any window_ms of run
// time (options; by default 10 in 1000 ms) is a storm: a violation, once per agent, naming how many calls and
// over how long, with the first and last call of the window as evidence.
//
// Why a rate, not "released after a failure": holding the item and retrying
// with a backoff while renewing is a legitimate design; hammering a failing
// API (and the coordination layer with it) never is. The reference waits at
// least half its initial backoff (100 ms by default) after a failure, so it
// makes at most about 5 failed calls a second.
//
// Cannot see: calls an agent does not report (only `model_call` events), and
// a storm of successful calls (not a retry). Runs without a model hold.
// Thread-compatible; memory is the window's calls per agent.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"
#include "sim/options.h"

namespace faultline {

class NoRetryStorm final : public Invariant {
 public:
  static constexpr const char* kName = "no_retry_storm";
  static constexpr const char* kSummary =
      "no agent retries a failing model API in a storm (at most 10 failed calls a second)";

  // max_failed_calls and window_ms: the most failed calls one agent may make
  // within any window of that length.
  static std::vector<OptionSpec> Options();
  NoRetryStorm();  // every option at its default
  // REQUIRES: `options` has every option of Options(), valid.
  explicit NoRetryStorm(const nlohmann::json& options);

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  struct Call {
    int64_t t = 0;
    uint64_t seq = 0;
  };
  struct Agent {
    std::deque<Call> window;  // failed calls within window_us_ of the latest
    size_t failed = 0;        // in all
    bool reported = false;
    size_t peak = 0;          // most failed calls in one window
    Call peak_first, peak_last;
  };

  size_t max_failures_;
  int64_t window_us_;
  std::map<std::string, Agent> agents_;
  checker::ViolationList violations_{kName, "retry storms"};
};

}  // namespace faultline
