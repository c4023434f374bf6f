#include "sim/invariants/no_lost_work.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <utility>

#include "sim/invariants/checker_support.h"

namespace faultline {

using checker::StrField;

namespace {

constexpr size_t kMaxNamed = 10;

// "" when the final status accounts for the item, else why it does not.
std::string Unaccounted(const nlohmann::json& entry) {
  auto status = entry.find("status");
  if (status == entry.end() || !status->is_string()) return "no status";
  const std::string& s = status->get_ref<const std::string&>();
  if (s == "done") return "";
  if (s == "dead" || s == "quarantined") {
    return StrField(entry, "reason").empty() ? s + " without a reason" : "";
  }
  return s;
}

}  // namespace

void NoLostWork::Observe(const TraceEvent& event) {
  skills_.Observe(event);
  const std::string& type = event.type;
  if (type == "claim_ok") {
    granted_.try_emplace(event.item, Granted{event.seq, false});
  } else if (type == "run_start") {
    auto items = event.fields.find("items");
    if (items != event.fields.end() && items->is_number_integer()) {
      submitted_ = items->get<int64_t>();
      if (*submitted_ > 0) granted_.reserve(static_cast<size_t>(*submitted_));
    }
  } else if (type == "run_end") {
    OnRunEnd(event);
  }
}

void NoLostWork::Finish(std::vector<Violation>* out) {
  for (Violation& v : violations_) out->push_back(std::move(v));
  violations_.clear();
}

void NoLostWork::OnRunEnd(const TraceEvent& event) {
  std::vector<Violation>* out = &violations_;
  // A pointer rather than an iterator: GCC cannot see that a checked
  // iterator is not null and warns under -Wnull-dereference.
  const nlohmann::json* list = event.fields.contains("items") ? &event.fields.at("items") : nullptr;
  if (list == nullptr || !list->is_array()) {
    out->push_back(
        {kName, "run_end has no \"items\" list: the final state is unknown", {event.seq}});
    return;
  }

  std::vector<std::string> named;
  size_t bad = 0;
  const std::set<std::string> fleet = skills_.FleetSkills();
  for (const auto& entry : *list) {
    const std::string& id = StrField(entry, "id");
    std::string why = Unaccounted(entry);
    if (!why.empty() && !skills_.Unservable(id, fleet)) {
      ++bad;
      if (named.size() < kMaxNamed) named.push_back(fmt::format("{} ({})", id, why));
    }
    auto granted = granted_.find(id);
    if (granted != granted_.end()) granted->second.at_end = true;
  }
  if (bad > 0) {
    out->push_back(
        {kName,
         fmt::format("{} item{} not done, dead or quarantined with a reason at the end: {}{}",
                     bad, bad == 1 ? " is" : "s are", fmt::join(named, ", "),
                     bad > named.size() ? fmt::format(" and {} more", bad - named.size()) : ""),
         {event.seq}});
  }

  // Granted items missing from the final state, in the order they were
  // first granted (not hash order, so the report is reproducible).
  std::vector<std::pair<uint64_t, std::string>> missing;
  for (const auto& [id, granted] : granted_) {
    if (!granted.at_end) missing.emplace_back(granted.first_seq, id);
  }
  if (!missing.empty()) {
    std::sort(missing.begin(), missing.end());
    std::vector<std::string> ids;
    std::vector<uint64_t> evidence;
    for (size_t i = 0; i < missing.size() && i < kMaxNamed; ++i) {
      ids.push_back(missing[i].second);
      evidence.push_back(missing[i].first);
    }
    evidence.push_back(event.seq);
    out->push_back(
        {kName,
         fmt::format("{} item{} granted during the run missing from run_end: {}{}", missing.size(),
                     missing.size() == 1 ? "" : "s", fmt::join(ids, ", "),
                     missing.size() > ids.size()
                         ? fmt::format(" and {} more", missing.size() - ids.size())
                         : ""),
         std::move(evidence)});
  }

  if (submitted_ && static_cast<int64_t>(list->size()) < *submitted_) {
    out->push_back({kName,
                    fmt::format("{} items were submitted but run_end accounts for only {}",
                                *submitted_, list->size()),
                    {event.seq}});
  }
}

}  // namespace faultline
