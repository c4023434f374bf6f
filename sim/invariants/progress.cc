#include "sim/invariants/progress.h"

#include <fmt/format.h>

#include <string>
#include <utility>

#include "sim/invariants/checker_support.h"

namespace faultline {

using checker::Seconds;
using checker::StrField;

void Progress::Observe(const TraceEvent& event) {
  seen_any_ = true;
  last_seq_ = event.seq;
  skills_.Observe(event);
  if (event.type != "run_end") return;
  ended_ = true;
  // A livelock is a violation whatever was done: the run was stopped.
  if (const std::string& livelock = StrField(event.fields, "livelock"); !livelock.empty()) {
    violations_.push_back(
        {kName, "lockstep livelock: " + livelock, {event.seq}});
    return;
  }
  auto completed = event.fields.find("completed");
  if (completed != event.fields.end() && completed->is_boolean() && completed->get<bool>()) {
    return;
  }
  size_t total = 0, left = 0, unservable = 0;
  const std::set<std::string> fleet = skills_.FleetSkills();
  auto items = event.fields.find("items");
  if (items != event.fields.end() && items->is_array()) {
    total = items->size();
    for (const auto& entry : *items) {
      std::string status = StrField(entry, "status");
      if (status == "done" || status == "dead" || status == "quarantined") continue;
      ++(skills_.Unservable(StrField(entry, "id"), fleet) ? unservable : left);
    }
  }
  const std::string& deadlock = StrField(event.fields, "deadlock");
  // Only unservable items open, and the run ended by itself: all it could do.
  if (left == 0 && unservable > 0 && deadlock.empty() &&
      StrField(event.fields, "end") == "completed") {
    return;
  }
  std::string message =
      fmt::format("the run ended at {} with {} of {} items left", Seconds(event.t), left, total);
  if (unservable > 0) message += fmt::format(" (and {} unservable)", unservable);
  if (!deadlock.empty()) message += "; lockstep deadlock: " + deadlock;
  violations_.push_back({kName, std::move(message), {event.seq}});
}

void Progress::Finish(std::vector<Violation>* out) {
  if (!ended_) {
    out->push_back({kName,
                    seen_any_ ? fmt::format("the history ends at seq {} without run_end: the run "
                                            "never finished",
                                            last_seq_)
                              : std::string("the history is empty: the run never started"),
                    seen_any_ ? std::vector<uint64_t>{last_seq_} : std::vector<uint64_t>{}});
  }
  for (Violation& v : violations_) out->push_back(std::move(v));
  violations_.clear();
}

}  // namespace faultline
