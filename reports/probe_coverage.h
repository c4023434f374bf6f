// Probe coverage of a suite (docs/protocol.md): which probes the runs of a
// suite reached, in how many runs, and which probes no run reached. A probe
// counts as known to the suite when a scenario of it expects the probe
// ("expect"), when a run used the reference coordinator (whose every probe,
// sim/protocol/control_protocol.h, a suite of reference runs is measured
// against), when a scenario declares a fault (its "fault.KIND.landed"), or
// when some run reached it.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace faultline::reports {

class ProbeCoverage {
 public:
  // One run: its verdict.json and its resolved scenario (scenario.resolved.json).
  void Add(const nlohmann::json& verdict, const nlohmann::json& resolved);

  int runs() const { return runs_; }
  // Probe -> runs that reached it (a "sometimes" probe: whose condition held).
  const std::map<std::string, int>& reached() const { return reached_; }
  // Known probes no run reached, sorted.
  std::vector<std::string> Unreached() const;
  // {"runs", "known", "reached": {probe: runs}, "unreached": [...]}.
  nlohmann::json ToJson() const;
  // "probes: 31 of 40 reached in 12 runs; never reached: a, b" (one line).
  std::string Text() const;

 private:
  int runs_ = 0;
  std::set<std::string> known_;
  std::map<std::string, int> reached_;
};

// The probes `verdict` reports as reached at least once (for a probe with a
// condition: held at least once).
std::vector<std::string> ReachedProbes(const nlohmann::json& verdict);

}  // namespace faultline::reports
