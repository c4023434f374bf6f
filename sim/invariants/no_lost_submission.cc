#include "sim/invariants/no_lost_submission.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

namespace faultline {

using checker::IntField;
using checker::StrField;

namespace {

constexpr size_t kMaxNamed = 10;

std::string Named(const std::vector<std::string>& ids, size_t total) {
  return fmt::format("{}{}", fmt::join(ids, ", "),
                     total > ids.size() ? fmt::format(" and {} more", total - ids.size()) : "");
}

}  // namespace

void NoLostSubmission::Observe(const TraceEvent& event) {
  const std::string& type = event.type;
  if (type == "run_start") {
    initial_ = IntField(event.fields, "items");
  } else if (type == "spawn" && StrField(event.fields, "role") == "submitter") {
    current_[event.agent] = starts_.size();
    Start start;
    start.submitter = event.agent;
    start.items = IntField(event.fields, "items");
    start.spawn_seq = event.seq;
    starts_.push_back(std::move(start));
  } else if (type == "submit_ok") {
    const auto it = current_.find(event.proc);
    if (it == current_.end()) return;  // not a submitter of the run (set-up's submit)
    Start& start = starts_[it->second];
    start.reported = true;
    start.report_seq = event.seq;
    const auto ids = event.fields.find("ids");
    if (ids == event.fields.end() || !ids->is_array()) return;
    for (const nlohmann::json& id : *ids) {
      if (!id.is_string()) continue;
      const std::string& name = id.get_ref<const std::string&>();
      start.ids.push_back(name);
      const auto [owner, first] = owner_.try_emplace(name, it->second);
      if (!first && owner->second != it->second) {
        const Start& other = starts_[owner->second];
        violations_.Report(fmt::format("{} was reported added by {} and by {}: one of the two "
                                       "submissions is not in the queue",
                                       name, other.submitter, start.submitter),
                           {other.report_seq, event.seq});
      }
    }
  } else if ((type == "exit" || type == "stop") &&
             StrField(event.fields, "role") == "submitter") {
    const auto it = current_.find(event.agent);
    if (it == current_.end()) return;
    Start& start = starts_[it->second];
    start.ended = true;
    start.end_seq = event.seq;
    start.acknowledged = type == "exit" && event.fields.contains("code") &&
                         IntField(event.fields, "code") == 0;
    if (start.acknowledged && start.reported &&
        static_cast<int64_t>(start.ids.size()) != start.items) {
      violations_.Report(fmt::format("{} exited 0, saying its submission succeeded, but added {} "
                                     "of the {} items it was asked for",
                                     start.submitter, start.ids.size(), start.items),
                         {start.spawn_seq, start.report_seq, event.seq});
    }
  } else if (type == "run_end") {
    OnRunEnd(event);
  }
}

void NoLostSubmission::OnRunEnd(const TraceEvent& event) {
  if (starts_.empty()) return;
  const nlohmann::json* list = event.fields.contains("items") ? &event.fields.at("items") : nullptr;
  if (list == nullptr || !list->is_array()) return;  // no_lost_work reports it
  std::set<std::string> present;
  for (const nlohmann::json& entry : *list) present.insert(StrField(entry, "id"));

  int64_t acknowledged = 0, uncertain = 0;
  std::vector<std::string> acks;
  for (const Start& start : starts_) {
    if (start.acknowledged) {
      acknowledged += start.items;
      acks.push_back(fmt::format("{}: {}", start.submitter, start.items));
    } else {
      uncertain += start.items;  // killed, failed, or still running at the end
    }
    if (!start.acknowledged) continue;
    std::vector<std::string> missing;
    size_t total = 0;
    for (const std::string& id : start.ids) {
      if (present.count(id) != 0) continue;
      if (++total <= kMaxNamed) missing.push_back(id);
    }
    if (total > 0) {
      violations_.Report(fmt::format("{} item{} acknowledged to {} missing at the end: {}",
                                     total, total == 1 ? "" : "s", start.submitter,
                                     Named(missing, total)),
                         {start.report_seq, event.seq});
    }
  }
  const int64_t have = static_cast<int64_t>(list->size());
  const int64_t low = initial_ + acknowledged, high = low + uncertain;
  if (have < low) {
    violations_.Report(
        fmt::format("{} items at the end, but {} were submitted at set-up and {} acknowledged to "
                    "submitters that exited 0 ({}): {} submitted item{} lost",
                    have, initial_, acknowledged, fmt::join(acks, ", "), low - have,
                    low - have == 1 ? " was" : "s were"),
        {event.seq});
  } else if (have > high) {
    violations_.Report(fmt::format("{} items at the end, more than the {} submitted at set-up "
                                   "and the {} all submitters were asked for",
                                   have, initial_, acknowledged + uncertain),
                       {event.seq});
  }
}

void NoLostSubmission::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

}  // namespace faultline
