#include "reports/holdings.h"

#include <fmt/format.h>

#include <algorithm>

#include "reports/trace_analysis.h"

namespace faultline::reports {
namespace {

const std::string& Str(const nlohmann::json& j, const char* key) {
  static const std::string kNone;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get_ref<const std::string&>() : kNone;
}

// A lease end on the run's time line, like every other time a person reads:
// the holder's clock read now_us at run time t, so its offset is the
// difference (lockstep: 1 s plus any skew; freerun: its real clock). Without
// now_us, the lockstep epoch of 1 s (sim/trace_event.h).
int64_t LeaseEnd(const TraceEvent& e) {
  const int64_t offset = e.fields.contains("now_us") ? e.now_us - e.t : 1'000'000;
  return e.lease_until_us - offset;
}

}  // namespace

void Holdings::Observe(const TraceEvent& e) {
  const std::string& type = e.type;
  if (type == "claim_ok") {
    for (auto held = by_agent_.begin(); held != by_agent_.end();) {
      auto it = held->second.find(e.item);
      if (held->first != e.agent && it != held->second.end()) {
        if (it->second.orphaned) {
          // Its holder is gone and the item has a new grant: nobody holds it.
          held->second.erase(it);
        } else if (it->second.superseded_seq == 0) {
          it->second.superseded_seq = e.seq;
          it->second.superseded_by = e.agent;
          it->second.superseded_token = e.token;
        }
      }
      held = held->second.empty() ? by_agent_.erase(held) : std::next(held);
    }
    HeldClaim& claim = by_agent_[e.agent][e.item];
    claim = HeldClaim{};
    claim.item = e.item;
    claim.token = e.token;
    claim.lease_until_us = LeaseEnd(e);
    claim.seq = e.seq;
  } else if (type == "renew_ok") {
    auto held = by_agent_.find(e.agent);
    if (held == by_agent_.end()) return;
    auto it = held->second.find(e.item);
    if (it != held->second.end() && it->second.token == e.token) {
      it->second.lease_until_us = LeaseEnd(e);
    }
  } else if (type == "complete_ok" || type == "release" || type == "complete_rejected" ||
             type == "renew_rejected" || type == "release_rejected" || type == "holding_lost") {
    End(e.agent, e.item);
  } else if (type == "lease_expired" || type == "dead_letter" || type == "complete_recovered") {
    End(Str(e.fields, "owner"), e.item);
  } else if (type == "quarantine" && !e.item.empty()) {
    EndAll(e.item);
  } else if (type == "exit" && e.proc == "sim") {
    auto held = by_agent_.find(e.agent);
    if (held == by_agent_.end()) return;
    std::erase_if(held->second, [](const auto& entry) { return entry.second.superseded_seq != 0; });
    for (auto& [item, claim] : held->second) claim.orphaned = true;
    if (held->second.empty()) by_agent_.erase(held);
  }
}

void Holdings::End(const std::string& agent, const std::string& item) {
  auto held = by_agent_.find(agent);
  if (held == by_agent_.end()) return;
  held->second.erase(item);
  if (held->second.empty()) by_agent_.erase(held);
}

void Holdings::EndAll(const std::string& item) {
  for (auto it = by_agent_.begin(); it != by_agent_.end();) {
    it->second.erase(item);
    it = it->second.empty() ? by_agent_.erase(it) : std::next(it);
  }
}

std::vector<HeldClaim> Holdings::Of(const std::string& agent) const {
  std::vector<HeldClaim> out;
  auto held = by_agent_.find(agent);
  if (held == by_agent_.end()) return out;
  for (const auto& [item, claim] : held->second) out.push_back(claim);
  return out;
}

std::vector<std::string> Holdings::Holders() const {
  std::vector<std::string> out;
  for (const auto& [agent, items] : by_agent_) out.push_back(agent);
  std::sort(out.begin(), out.end(), NaturalLess);
  return out;
}

std::string Describe(const HeldClaim& c) {
  std::string out = fmt::format("{} token {} (lease until {:.3f} s, granted at seq {})", c.item,
                                c.token, static_cast<double>(c.lease_until_us) / 1e6, c.seq);
  if (c.superseded_seq != 0) {
    out += fmt::format(", superseded: {} was granted token {} at seq {}", c.superseded_by,
                       c.superseded_token, c.superseded_seq);
  }
  if (c.orphaned) out += ", holder exited";
  return out;
}

}  // namespace faultline::reports
