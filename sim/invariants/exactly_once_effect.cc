#include "sim/invariants/exactly_once_effect.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <utility>

#include "sim/invariants/checker_support.h"

namespace faultline {

using checker::StrField;

namespace {

constexpr size_t kMaxNamed = 10;

}  // namespace

void ExactlyOnceEffect::Observe(const TraceEvent& event) {
  const std::string& type = event.type;
  if (type == "claim_ok") {
    ItemRecord& r = items_[event.item];
    r.granted_token = event.token;
    r.granted_agent = event.agent;
    r.claim_seq = event.seq;
  } else if (type == "effect") {
    OnEffect(event);
  } else if (type == "effect_present" || type == "complete_recovered") {
    // Both say the ledger holds an earlier effect (complete_recovered: the
    // holder died after writing it, perhaps before its effect event left).
    ItemRecord& r = items_[event.item];
    if (!r.has_effect && !r.effect_present) ++with_effect_;
    r.effect_present = true;
  } else if (type == "exit") {
    if (event.fields.contains("signal")) killed_at_[event.agent].push_back(event.seq);
  } else if (type == "run_end") {
    OnRunEnd(event);
  } else if (type == "run_start") {
    auto items = event.fields.find("items");
    if (items != event.fields.end() && items->is_number_integer() && items->get<int64_t>() > 0) {
      items_.reserve(items->get<size_t>());
    }
  }
}

void ExactlyOnceEffect::OnEffect(const TraceEvent& event) {
  ItemRecord& r = items_[event.item];
  if (r.has_effect) {
    violations_.Report(
        fmt::format("{}: a second effect was accepted, from {} with token {}; the first was "
                    "from {} with token {}",
                    event.item, event.agent, event.token, r.effect_agent, r.effect_token),
        {r.effect_seq, event.seq});
  } else {
    if (!r.effect_present) ++with_effect_;
    r.has_effect = true;
    r.effect_agent = event.agent;
    r.effect_token = event.token;
    r.effect_seq = event.seq;
  }
  if (r.granted_token == 0) {
    violations_.Report(
        fmt::format("{}: stale token accepted: an effect from {} with token {}, but the item "
                    "was never granted",
                    event.item, event.agent, event.token),
        {event.seq});
  } else if (event.token != r.granted_token) {
    violations_.Report(
        fmt::format("{}: stale token accepted: an effect from {} with token {} while the "
                    "latest grant was token {} to {}",
                    event.item, event.agent, event.token, r.granted_token, r.granted_agent),
        {r.claim_seq, event.seq});
  }
}

void ExactlyOnceEffect::CreditKilledWriters(const nlohmann::json& items) {
  for (const auto& entry : items) {
    auto flag = entry.find("effect");
    if (flag == entry.end() || !flag->is_boolean() || !flag->get<bool>()) continue;
    auto it = items_.find(StrField(entry, "id"));
    if (it == items_.end() || it->second.has_effect || it->second.effect_present) continue;
    ItemRecord& r = it->second;
    if (r.granted_token == 0) continue;
    auto killed = killed_at_.find(r.granted_agent);
    if (killed == killed_at_.end()) continue;
    const bool after_claim = std::any_of(killed->second.begin(), killed->second.end(),
                                         [&](uint64_t seq) { return seq > r.claim_seq; });
    if (!after_claim) continue;
    r.effect_present = true;
    ++with_effect_;
  }
}

void ExactlyOnceEffect::OnRunEnd(const TraceEvent& event) {
  auto list = event.fields.find("items");
  const bool has_items = list != event.fields.end() && list->is_array();
  // An entry made by the latest holder, which was killed after its claim and
  // before it reported the effect: a store that marks the item done in the
  // same transaction as the entry (the PostgreSQL backend) leaves nothing for
  // a successor to recover (effect_present, complete_recovered), so the
  // run_end flag is the only report of it. It counts as that holder's effect.
  if (has_items) CreditKilledWriters(*list);

  auto ledger = event.fields.find("ledger");
  if (ledger != event.fields.end() && ledger->is_number_integer() &&
      ledger->get<int64_t>() != static_cast<int64_t>(with_effect_)) {
    // Name the items whose ledger flag in run_end disagrees with the events.
    std::vector<std::string> named;
    size_t disagree = 0;
    if (has_items) {
      for (const auto& entry : *list) {
        const std::string& id = StrField(entry, "id");
        auto flag = entry.find("effect");
        const bool in_ledger = flag != entry.end() && flag->is_boolean() && flag->get<bool>();
        auto it = items_.find(id);
        const bool seen =
            it != items_.end() && (it->second.has_effect || it->second.effect_present);
        if (in_ledger == seen) continue;
        ++disagree;
        if (named.size() < kMaxNamed) {
          named.push_back(fmt::format(
              "{} ({})", id,
              in_ledger ? "in the ledger, no effect event" : "effect event, not in the ledger"));
        }
      }
    }
    violations_.Report(
        fmt::format(
            "the ledger holds {} effect{} but the trace shows effects for {} item{}{}{}",
            ledger->get<int64_t>(), ledger->get<int64_t>() == 1 ? "" : "s", with_effect_,
            with_effect_ == 1 ? "" : "s",
            named.empty() ? "" : fmt::format(": {}", fmt::join(named, ", ")),
            disagree > named.size() ? fmt::format(" and {} more", disagree - named.size()) : ""),
        {event.seq});
  }

  if (has_items) {
    for (const auto& entry : *list) {
      if (StrField(entry, "status") != "done") continue;
      const std::string& id = StrField(entry, "id");
      auto it = items_.find(id);
      if (it != items_.end() && (it->second.has_effect || it->second.effect_present)) continue;
      std::vector<uint64_t> evidence;
      if (it != items_.end() && it->second.granted_token != 0) {
        evidence.push_back(it->second.claim_seq);
      }
      evidence.push_back(event.seq);
      violations_.Report(fmt::format("{}: done at the end of the run without an effect", id),
                         std::move(evidence));
    }
  }
}

void ExactlyOnceEffect::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

}  // namespace faultline
