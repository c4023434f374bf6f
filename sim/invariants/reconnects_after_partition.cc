#include "sim/invariants/reconnects_after_partition.h"

#include <fmt/format.h>

namespace faultline {

using checker::IntField;
using checker::Seconds;
using checker::StrField;

void ReconnectsAfterPartition::Observe(const TraceEvent& event) {
  const std::string& type = event.type;
  if (type == "run_start") {
    grace_us_ = (IntField(event.fields, "lease_ms") + 2 * IntField(event.fields, "heartbeat_ms")) *
                1000;
  } else if (type == "fault" && StrField(event.fields, "kind") == "network_partition") {
    const std::string& phase = StrField(event.fields, "phase");
    if (phase == "cut") {
      cut_[StrField(event.fields, "agent")] = Cut{event.seq};
    } else if (phase == "healed") {
      for (auto& [agent, c] : cut_) {
        if (c.healed_t < 0) {
          c.healed_t = event.t;
          c.healed_seq = event.seq;
        }
      }
    } else if (phase == "end") {
      JudgeEnd(event, "after_heal", "was cut off from the database", "the heal");
    }
  } else if (type == "fault" && StrField(event.fields, "kind") == "connection_limit") {
    // An agent the limit refused was cut off until the lift, as by a partition.
    const std::string& phase = StrField(event.fields, "phase");
    const auto by = event.fields.find("refused_by");
    if (phase == "lifted" && by != event.fields.end() && by->is_object()) {
      for (const auto& [proc, n] : by->items()) {
        if (proc != "reaper") cut_[proc] = Cut{event.seq, event.t, event.seq};
      }
    } else if (phase == "end") {
      JudgeEnd(event, "after_lift", "was refused connections by the connection limit",
               "the lift");
    }
  } else if (type == "exit" || type == "stop") {
    const auto it = cut_.find(event.agent);
    if (it == cut_.end() || it->second.healed_t < 0) return;
    if (type == "exit") {
      it->second.exited_after_heal = true;
    } else {
      it->second.stopped_t = event.t;
      it->second.stopped_seq = event.seq;
    }
  } else if (type == "spawn") {
    // A restart after the heal is a new process: it is judged from its own start.
    const auto it = cut_.find(event.agent);
    if (it != cut_.end() && it->second.healed_t >= 0) it->second.exited_after_heal = true;
  }
}

void ReconnectsAfterPartition::JudgeEnd(const TraceEvent& event, const char* key,
                                         std::string_view what, std::string_view until) {
  const auto after = event.fields.find(key);
  if (after == event.fields.end() || !after->is_array()) return;
  for (const nlohmann::json& a : *after) {
    if (!a.is_object()) continue;
    const auto it = cut_.find(StrField(a, "agent"));
    if (it == cut_.end()) continue;
    const Cut& c = it->second;
    if (c.healed_t < 0 || c.exited_after_heal || c.stopped_t < 0) continue;
    if (c.stopped_t - c.healed_t < grace_us_) continue;
    if (IntField(a, "round_trips") > 0) continue;
    violations_.Report(fmt::format("{} {} until {} and ran until {} without reaching it again "
                                   "(no round trip after {})",
                                   it->first, what, Seconds(c.healed_t), Seconds(c.stopped_t),
                                   until),
                       {c.cut_seq, c.healed_seq, c.stopped_seq, event.seq});
  }
}

void ReconnectsAfterPartition::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

}  // namespace faultline
