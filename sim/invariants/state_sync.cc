#include "sim/invariants/state_sync.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "sim/invariants/checker_support.h"

namespace faultline {

using checker::IntField;
using checker::StrField;
using checker::Seconds;

void StateSync::Observe(const TraceEvent& event) {
  const std::string& type = event.type;
  if (type == "heartbeat") {
    // A pointer rather than an iterator: GCC cannot see that a checked
    // iterator is not null and warns under -Wnull-dereference.
    const nlohmann::json* holding =
        event.fields.contains("holding") ? &event.fields.at("holding") : nullptr;
    if (holding != nullptr && holding->is_array()) OnHeartbeat(event, *holding);
  } else if (type == "claim_ok") {
    OnClaim(event);
  } else if (type == "renew_ok") {
    auto it = items_.find(event.item);
    if (it == items_.end() || !it->second.granted) return;
    Grant& g = it->second.latest;
    if (g.ended || g.token != event.token) return;
    g.lease_until_us = event.lease_until_us;
    held_[g.agent].insert(event.item);
  } else if (type == "complete_ok" || type == "release") {
    auto it = items_.find(event.item);
    if (it != items_.end() && it->second.granted && it->second.latest.token == event.token) {
      End(event.item, event);
    }
  } else if (type == "lease_expired" || type == "takeover" || type == "dead_letter" ||
             type == "complete_recovered" || (type == "quarantine" && !event.item.empty())) {
    End(event.item, event);
  } else if (type == "fault" && StrField(event.fields, "kind") == "corrupt_file") {
    // A damaged item file names no holder any more: the grant is over for the
    // holder too (it finds out at its next heartbeat, before it writes one).
    const std::string& file = StrField(event.fields, "file");
    if (file.rfind("items/", 0) == 0 && file.size() > 11) {
      End(file.substr(6, file.size() - 11), event);
    }
  } else if (type == "exit") {
    held_.erase(event.agent);
  } else if (type == "run_start") {
    const int64_t items = IntField(event.fields, "items");
    if (items > 0) items_.reserve(static_cast<size_t>(items));
  }
}

void StateSync::OnClaim(const TraceEvent& event) {
  ItemRecord& rec = items_[event.item];
  if (rec.granted) {
    if (!rec.latest.ended) {
      auto held = held_.find(rec.latest.agent);
      if (held != held_.end()) held->second.erase(event.item);
    }
    rec.previous = std::move(rec.latest);
    rec.has_previous = true;
  }
  rec.granted = true;
  rec.latest = Grant{event.agent, event.token, event.lease_until_us, event.seq, false, "", 0, 0};
  held_[event.agent].insert(event.item);
}

void StateSync::End(const std::string& item, const TraceEvent& event) {
  auto it = items_.find(item);
  if (it == items_.end() || !it->second.granted || it->second.latest.ended) return;
  Grant& g = it->second.latest;
  g.ended = true;
  g.end_type = event.type;
  g.end_seq = event.seq;
  auto held = held_.find(g.agent);
  if (held != held_.end()) held->second.erase(item);
}

void StateSync::OnHeartbeat(const TraceEvent& event, const nlohmann::json& holding) {
  const std::string& agent = event.agent;
  // Listed grants are stamped with this heartbeat rather than collected in a
  // set: no allocation per heartbeat. seq + 1 so that seq 0 is a stamp too.
  const uint64_t stamp = event.seq + 1;
  for (const auto& entry : holding) {
    if (!entry.is_string()) continue;
    const std::string& item = entry.get_ref<const std::string&>();
    auto it = items_.find(item);
    ItemRecord* rec = it != items_.end() && it->second.granted ? &it->second : nullptr;
    if (rec != nullptr && rec->latest.agent == agent && !rec->latest.ended) {
      rec->latest.listed_by = stamp;
      continue;
    }
    ReportListed(event, item, rec);
  }

  if (!event.fields.contains("at_us")) return;
  auto held = held_.find(agent);
  if (held == held_.end()) return;
  const int64_t at = IntField(event.fields, "at_us");
  std::vector<std::string> expired;
  std::vector<std::pair<uint64_t, const std::string*>> missing;  // claim seq, item
  for (const std::string& item : held->second) {
    const Grant& g = items_.at(item).latest;
    if (g.lease_until_us <= at) {
      expired.push_back(item);
    } else if (g.listed_by != stamp && !missing_reported_.count(g.claim_seq)) {
      missing.emplace_back(g.claim_seq, &item);
    }
  }
  // In grant order, so the report does not depend on hash order.
  std::sort(missing.begin(), missing.end());
  for (const auto& [claim_seq, item] : missing) {
    const Grant& g = items_.at(*item).latest;
    missing_reported_.insert(claim_seq);
    violations_.Report(
        fmt::format("{}'s heartbeat at {} (seq {}) does not list {}, granted to it with token {} "
                    "(seq {}) and valid for {} ms more at the heartbeat's at_us",
                    agent, Seconds(event.t), event.seq, *item, g.token, claim_seq,
                    (g.lease_until_us - at) / 1000),
        {claim_seq, event.seq});
  }
  // A lease that has run out is no longer expected in the holdings (the
  // agent may have dropped it, or be about to lose it); a renewal expects it
  // again. Dropping it here keeps every heartbeat's work proportional to the
  // grants the agent really holds.
  for (const std::string& item : expired) held->second.erase(item);
}

void StateSync::ReportListed(const TraceEvent& event, const std::string& item,
                             const ItemRecord* rec) {
  const std::string& agent = event.agent;
  std::string key = fmt::format("{}\x1f{}\x1f{}\x1f{}", agent, item,
                                rec ? rec->latest.claim_seq : 0, rec ? rec->latest.end_seq : 0);
  if (!listed_reported_.insert(std::move(key)).second) return;
  const std::string listing = fmt::format("{}'s heartbeat at {} (seq {}) lists {}", agent,
                                          Seconds(event.t), event.seq, item);
  if (rec == nullptr) {
    violations_.Report(fmt::format("{}, which was never granted", listing), {event.seq});
    return;
  }
  const Grant& g = rec->latest;
  std::vector<uint64_t> evidence = {g.claim_seq, event.seq};
  std::string ended;
  if (g.ended) {
    evidence.push_back(g.end_seq);
    ended = fmt::format(", ended by {} at seq {}", g.end_type, g.end_seq);
  }
  std::string own;
  if (g.agent != agent && rec->has_previous && rec->previous.agent == agent) {
    evidence.push_back(rec->previous.claim_seq);
    own = fmt::format("; {}'s own grant before it was token {} (seq {})", agent,
                      rec->previous.token, rec->previous.claim_seq);
  }
  std::sort(evidence.begin(), evidence.end());
  violations_.Report(fmt::format("{}, but its latest grant is token {} to {} (seq {}){}{}", listing,
                                 g.token, g.agent, g.claim_seq, ended, own),
                     std::move(evidence));
}

void StateSync::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

}  // namespace faultline
