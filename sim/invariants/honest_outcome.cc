#include "sim/invariants/honest_outcome.h"

#include <fmt/format.h>

#include <algorithm>

namespace faultline {

using checker::IntField;
using checker::StrField;

void HonestOutcome::Observe(const TraceEvent& event) {
  const std::string& type = event.type;
  if (type == "run_start") {
    max_attempts_ = IntField(event.fields, "max_attempts");
  } else if (type == "fault") {
    // A mid-run `swarm configure --set max_attempts=N`: the reaper and
    // agents started afterwards dead-letter by the new bound.
    if (StrField(event.fields, "setting") == "max_attempts") {
      const int64_t value = IntField(event.fields, "value");
      if (value > 0) max_attempts_ = max_attempts_ > 0 ? std::min(max_attempts_, value) : value;
    }
  } else if (type == "lease_expired" || type == "takeover") {
    failed_[event.item].insert(event.token);
  } else if (type == "dead_letter") {
    std::set<int64_t>& failed = failed_[event.item];
    failed.insert(event.token);
    if (max_attempts_ > 0 && static_cast<int64_t>(failed.size()) < max_attempts_) {
      violations_.Report(
          fmt::format("{} dead-lettered by {} after {} failed grant{} (max_attempts {}): {}",
                      event.item, StrField(event.fields, "by"), failed.size(),
                      failed.size() == 1 ? "" : "s", max_attempts_,
                      StrField(event.fields, "reason")),
          {event.seq});
    }
  } else if (type == "run_end") {
    OnRunEnd(event);
  }
}

void HonestOutcome::OnRunEnd(const TraceEvent& event) {
  const nlohmann::json* list = event.fields.contains("items") ? &event.fields.at("items") : nullptr;
  if (list == nullptr || !list->is_array()) return;  // no_lost_work reports it
  for (const nlohmann::json& entry : *list) {
    if (!entry.is_object() || !entry.value("effect", false)) continue;
    const std::string& status = StrField(entry, "status");
    if (status == "done") continue;
    const std::string& reason = StrField(entry, "reason");
    violations_.Report(
        fmt::format("{} has its effect in the ledger but ends {}{}", StrField(entry, "id"),
                    status.empty() ? "without a status" : status,
                    reason.empty() ? "" : " (" + reason + ")"),
        {event.seq});
  }
}

void HonestOutcome::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

}  // namespace faultline
