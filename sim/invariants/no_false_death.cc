#include "sim/invariants/no_false_death.h"

#include <fmt/format.h>

#include "sim/invariants/checker_support.h"

namespace faultline {

using checker::IntField;
using checker::Seconds;
using checker::StrField;

namespace {

// How long before the declaration `at` was, in run time: "1200 ms before",
// or "300 ms after".
std::string Gap(int64_t now, int64_t at) {
  return now >= at ? fmt::format("{} ms before", (now - at) / 1000)
                   : fmt::format("{} ms after", (at - now) / 1000);
}

}  // namespace

void NoFalseDeath::Observe(const TraceEvent& event) {
  clocks_.Observe(event);
  const std::string& type = event.type;
  if (type == "heartbeat") {
    if (!event.fields.contains("at_us")) return;
    const int64_t at = IntField(event.fields, "at_us");
    const Beat beat{at, clocks_.Unskew(event, event.proc, at), event.seq, event.t,
                    checker::ProcessClocks::OnServerClock(event)};
    auto [it, inserted] = beats_.try_emplace(event.agent, beat);
    if (!inserted && at >= it->second.at_us) it->second = beat;
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
  // On the unskewed clock: a heartbeat written after `since` is recent.
  const int64_t declared_at = clocks_.Unskew(event, event.proc, now);
  const int64_t since = declared_at - timeout_ms * 1000;
  const std::string& reason = StrField(event.fields, "reason");
  const std::string declared =
      fmt::format("{} was declared dead at {} (seq {}{})", event.agent, Seconds(event.t), event.seq,
                  reason.empty() ? "" : ": " + reason);

  auto beat = beats_.find(event.agent);
  if (beat != beats_.end() && beat->second.at_run > since) {
    const Beat& b = beat->second;
    violations_.Report(
        fmt::format("{} although it heartbeated at {} (seq {}), {} the declaration, within "
                    "agent_timeout_ms {}",
                    declared, Seconds(b.t), b.seq, Gap(declared_at, b.at_run), timeout_ms),
        {b.seq, event.seq});
    return;
  }
  if (event.fields.contains("last_heartbeat_us")) {
    const int64_t last = IntField(event.fields, "last_heartbeat_us");
    // Stamped with the clock the agent's heartbeats carry.
    const bool on_server = checker::ProcessClocks::OnServerClock(event) ||
                           (beat != beats_.end() && beat->second.server_clock);
    const int64_t last_run = on_server ? last : clocks_.Unskew(event.agent, last, event.t);
    if (last_run > since) {
      violations_.Report(
          fmt::format("{} although its own last_heartbeat_us is {} the declaration, within "
                      "agent_timeout_ms {}",
                      declared, Gap(declared_at, last_run), timeout_ms),
          {event.seq});
    }
  }
}

void NoFalseDeath::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

}  // namespace faultline
