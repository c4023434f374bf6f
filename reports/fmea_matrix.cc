// The counting rules are those of docs/fmea-report.md (coverage matrix,
// detection measured); change both together.
#include "reports/fmea_matrix.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "reports/fmea_scales.h"
#include "reports/probe_coverage.h"
#include "sim/protocol/control_protocol.h"

namespace faultline::reports {
namespace {

using nlohmann::json;

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool Landed(const json& verdict, const std::string& kind) {
  for (const json& f : verdict.value("faults", json::array())) {
    if (f.value("kind", "") == kind && f.value("landed", false)) return true;
  }
  return false;
}

// -1: not checked; 0: checked, held; 1: checked, violated.
int InvariantResult(const json& verdict, const std::string& name) {
  for (const json& inv : verdict.value("invariants", json::array())) {
    if (inv.value("name", "") != name) continue;
    return inv.value("violations", json::array()).empty() ? 0 : 1;
  }
  return -1;
}

bool ModeDetected(const FailureMode& m, const json& verdict) {
  return std::any_of(m.invariants.begin(), m.invariants.end(),
                     [&](const std::string& i) { return InvariantResult(verdict, i) == 1; });
}

}  // namespace

bool RunEvidence::Concerns(const FailureMode& m) const {
  return Contains(*fmea, m.id) || Contains(m.scenarios, scenario);
}

json CoverageMatrix(const FailureMode& m, const std::vector<RunEvidence>& runs) {
  std::vector<const RunEvidence*> product, planted;
  for (const RunEvidence& r : runs) {
    if (!r.usable) continue;
    if (r.Plants(m)) {
      planted.push_back(&r);
    } else if (!r.Mutant() && r.Concerns(m)) {
      product.push_back(&r);
    }
  }
  json cells = json::array();
  for (const std::string& fault : m.faults) {
    for (const std::string& inv : m.invariants) {
      int exercised = 0, detected = 0;
      for (const RunEvidence* r : product) {
        const int result = InvariantResult(*r->verdict, inv);
        if (!Landed(*r->verdict, fault) || result < 0) continue;
        ++exercised;
        detected += result;
      }
      cells.push_back({{"fault", fault}, {"invariant", inv}, {"runs", exercised},
                       {"detected", detected}});
    }
  }
  for (const std::string& inv : m.invariants) {
    int exercised = 0, detected = 0;
    for (const RunEvidence* r : planted) {
      const int result = InvariantResult(*r->verdict, inv);
      if (result < 0) continue;
      ++exercised;
      detected += result;
    }
    if (!planted.empty()) {
      cells.push_back({{"fault", "planted defect"}, {"invariant", inv}, {"runs", exercised},
                       {"detected", detected}});
    }
  }
  // The mode's probes: what its runs expect, and its faults' landings.
  std::set<std::string> names;
  for (const std::string& fault : m.faults) {
    names.insert(protocol::probe::kFaultLandedPrefix + fault +
                 protocol::probe::kFaultLandedSuffix);
  }
  for (const RunEvidence* r : product) {
    const json expect = r->resolved->value("expect", json::object());
    for (const char* key : {"reached", "sometimes"}) {
      for (const json& n : expect.value(key, json::array())) {
        if (n.is_string()) names.insert(n.get<std::string>());
      }
    }
  }
  json probes = json::array();
  for (const std::string& name : names) {
    int reached = 0, detected = 0, planted_reached = 0;
    for (const RunEvidence* r : product) {
      if (!Contains(ReachedProbes(*r->verdict), name)) continue;
      ++reached;
      detected += ModeDetected(m, *r->verdict);
    }
    for (const RunEvidence* r : planted) planted_reached += Contains(ReachedProbes(*r->verdict), name);
    probes.push_back({{"probe", name}, {"runs", product.size()}, {"reached", reached},
                      {"detected", detected}, {"planted_reached", planted_reached}});
  }
  return {{"cells", cells}, {"probes", probes}, {"runs", product.size()},
          {"planted_runs", planted.size()}};
}

json MeasuredDetection(const FailureMode& m, const std::vector<RunEvidence>& runs, int budget) {
  std::map<std::string, std::pair<int, int>> by_mutant;  // name -> runs, detected
  int n = 0, k = 0;
  for (const RunEvidence& r : runs) {
    if (!r.usable || !r.Plants(m)) continue;
    const bool detected = ModeDetected(m, *r.verdict);
    ++n;
    k += detected;
    auto& entry = by_mutant[(*r.verdict)["mutant"].is_string()
                                ? (*r.verdict)["mutant"].get<std::string>()
                                : std::string("?")];
    ++entry.first;
    entry.second += detected;
  }
  if (n == 0) return nullptr;
  json mutants = json::array();
  for (const auto& [name, c] : by_mutant) {
    mutants.push_back({{"mutant", name}, {"runs", c.first}, {"detected", c.second}});
  }
  const double lower = DetectionLowerBound(k, n);
  const double within = 1 - std::pow(1 - lower, budget);
  const int d = MeasuredDetectionScore(lower);
  return {{"runs", n},
          {"detected", k},
          {"per_run", static_cast<double>(k) / n},
          {"per_run_lower95", lower},
          {"method", "Clopper-Pearson (exact, one-sided 95 %)"},
          {"budget_runs", budget},
          {"within_budget_lower95", within},
          {"D", d},
          {"mutants", mutants},
          {"basis", fmt::format("measured: {} of {} runs of planted defects detected; one run "
                                "detects with probability >= {:.3f} (Clopper-Pearson 95 %), "
                                "{} runs with >= {:.4f}; AIAG detection scale at {:.3f} -> {}",
                                k, n, lower, budget, within, lower, d)}};
}

}  // namespace faultline::reports
