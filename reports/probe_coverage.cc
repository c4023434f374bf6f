#include "reports/probe_coverage.h"

#include <fmt/format.h>

#include "sim/protocol/control_protocol.h"

namespace faultline::reports {

using nlohmann::json;
namespace probe = protocol::probe;

std::vector<std::string> ReachedProbes(const json& verdict) {
  std::vector<std::string> names;
  const auto it = verdict.find("probes");
  if (it == verdict.end() || !it->is_object()) return names;
  for (const auto& [name, count] : it->items()) {
    if (count.is_object() && count.value("hits", int64_t{0}) > 0) names.push_back(name);
  }
  return names;
}

void ProbeCoverage::Add(const json& verdict, const json& resolved) {
  ++runs_;
  if (resolved.is_object()) {
    if (const auto expect = resolved.find("expect"); expect != resolved.end() &&
                                                     expect->is_object()) {
      for (const char* key : {"reached", "sometimes"}) {
        for (const json& name : expect->value(key, json::array())) {
          if (name.is_string()) known_.insert(name.get<std::string>());
        }
      }
    }
    for (const json& f : resolved.value("faults", json::array())) {
      if (f.is_object() && f.contains("kind") && f["kind"].is_string()) {
        known_.insert(probe::kFaultLandedPrefix + f["kind"].get<std::string>() +
                      probe::kFaultLandedSuffix);
      }
    }
    if (const auto sut = resolved.find("sut");
        sut != resolved.end() && sut->is_object() && sut->contains("adapter")) {
      known_.insert(std::begin(probe::kAdapterAll), std::end(probe::kAdapterAll));
    }
    if (!resolved.contains("sut")) {
      known_.insert(std::begin(probe::kAll), std::end(probe::kAll));
      // The engine sees a collision only in lockstep, where processes park.
      if (verdict.value("mode", "") == "lockstep") known_.insert(probe::kCollision);
    }
  }
  for (const std::string& name : ReachedProbes(verdict)) {
    known_.insert(name);
    ++reached_[name];
  }
}

std::vector<std::string> ProbeCoverage::Unreached() const {
  std::vector<std::string> out;
  for (const std::string& name : known_) {
    if (!reached_.count(name)) out.push_back(name);
  }
  return out;
}

json ProbeCoverage::ToJson() const {
  json reached = json::object();
  for (const auto& [name, n] : reached_) reached[name] = n;
  return {{"runs", runs_},
          {"known", known_.size()},
          {"reached", reached},
          {"unreached", Unreached()}};
}

std::string ProbeCoverage::Text() const {
  const std::vector<std::string> missing = Unreached();
  std::string names;
  for (const std::string& n : missing) names += (names.empty() ? "" : ", ") + n;
  return fmt::format("probes: {} of {} reached in {} run{}{}{}", reached_.size(), known_.size(),
                     runs_, runs_ == 1 ? "" : "s", missing.empty() ? "" : "; never reached: ",
                     names);
}

}  // namespace faultline::reports
