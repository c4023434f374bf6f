#include "sim/invariants/no_false_death.h"

#include <fmt/format.h>

#include "sim/invariants/checker_support.h"

namespace faultline {

using checker::IntField;
using checker::Seconds;
using checker::StrField;

namespace {

// How long before the declaration `at` was, on the clocks: "1200 ms before",
// or, when the agent's clock is ahead of the reaper's, "300 ms after".
std::string Gap(int64_t now, int64_t at) {
  return now >= at ? fmt::format("{} ms before", (now - at) / 1000)
                   : fmt::format("{} ms after", (at - now) / 1000);
}

}  // namespace

void NoFalseDeath::Observe(const TraceEvent& event) {
  const std::string& type = event.type;
  if (type == "heartbeat") {
    if (!event.fields.contains("at_us")) return;
    const int64_t at = IntField(event.fields, "at_us");
    auto [it, inserted] = beats_.try_emplace(event.agent, Beat{at, event.seq, event.t});
    if (!inserted && at >= it->second.at_us) it->second = Beat{at, event.seq, event.t};
  } else if (type == "agent_dead") {
    OnDead(event);
  } else if (type == "run_start") {
    timeout_ms_ = IntField(event.fields, "agent_timeout_ms");
  }
}

void NoFalseDeath::OnDead(const TraceEvent& event) {
  if (!event.fields.contains("now_us")) return;
  const int64_t own = IntField(event.fields, "agent_timeout_ms");
  const int64_t timeout_ms = own > 0 ? own : timeout_ms_;
  if (timeout_ms <= 0) return;
  const int64_t now = event.now_us;
  const int64_t since = now - timeout_ms * 1000;  // a heartbeat after this is recent
  const std::string& reason = StrField(event.fields, "reason");
  const std::string declared =
      fmt::format("{} was declared dead at {} (seq {}{})", event.agent, Seconds(event.t), event.seq,
                  reason.empty() ? "" : ": " + reason);

  auto beat = beats_.find(event.agent);
  if (beat != beats_.end() && beat->second.at_us > since) {
    const Beat& b = beat->second;
    violations_.Report(
        fmt::format("{} although it heartbeated at {} (seq {}), {} the declaration by the "
                    "clocks, within agent_timeout_ms {}",
                    declared, Seconds(b.t), b.seq, Gap(now, b.at_us), timeout_ms),
        {b.seq, event.seq});
    return;
  }
  if (event.fields.contains("last_heartbeat_us")) {
    const int64_t last = IntField(event.fields, "last_heartbeat_us");
    if (last > since) {
      violations_.Report(
          fmt::format("{} although its own last_heartbeat_us is {} the declaration, within "
                      "agent_timeout_ms {}",
                      declared, Gap(now, last), timeout_ms),
          {event.seq});
    }
  }
}

void NoFalseDeath::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

}  // namespace faultline
