#include "sim/invariants/eventual_lock_release.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "sim/invariants/checker_support.h"

namespace faultline {

using checker::IntField;
using checker::Seconds;
using checker::StrField;

void EventualLockRelease::Observe(const TraceEvent& event) {
  last_t_ = event.t;
  const std::string& type = event.type;
  if (type == "claim_ok") {
    OnClaim(event);
  } else if (type == "complete_ok" || type == "release") {
    auto it = holdings_.find(event.item);
    if (it != holdings_.end() && it->second.active && it->second.token == event.token) {
      Free(event.item, event);
      End(event.item);
    }
  } else if (type == "effect") {
    auto it = holdings_.find(event.item);
    if (it != holdings_.end() && it->second.active && it->second.agent == event.agent &&
        it->second.token == event.token) {
      it->second.effect_seq = event.seq;
    }
  } else if (type == "lease_expired" || type == "takeover" || type == "dead_letter" ||
             type == "complete_recovered" ||
             (type == "quarantine" && !event.item.empty())) {
    Free(event.item, event);
    End(event.item);
  } else if (type == "exit") {
    auto signal = event.fields.find("signal");
    if (signal != event.fields.end() && signal->is_number_integer() && signal->get<int>() != 0) {
      OnHolderGone(event, event.agent,
                   fmt::format("killed (signal {}) at {}", signal->dump(), Seconds(event.t)),
                   /*killed=*/true);
    }
  } else if (type == "fault") {
    // A partitioned holder is stalled as far as the database can tell.
    const std::string& kind = StrField(event.fields, "kind");
    const bool stalled = kind == "stall_agent" ||
                         (kind == "network_partition" && StrField(event.fields, "phase") == "cut");
    if ((kind == "db_crash" || kind == "db_restart") && configured_) {
      const int64_t down =
          IntField(event.fields, kind == "db_crash" ? "crashed_at_us" : "stopped_at_us");
      const int64_t up = IntField(event.fields, "up_at_us");
      if (up > down) OnDatabaseOutage(down, up);
    }
    if (stalled && configured_) {
      const int64_t until = IntField(event.fields, "until_us");
      const int64_t deadline = event.t + lease_us_ + reap_us_ + skew_us_ + slack_us_;
      // A stall that ends before the deadline leaves a live holder, which
      // may keep its grant: nothing has to be freed.
      if (until == 0 || until > deadline) {
        std::string agent = StrField(event.fields, "agent");
        OnHolderGone(event, agent,
                     until == 0
                         ? fmt::format("stalled at {}", Seconds(event.t))
                         : fmt::format("stalled at {} until {}", Seconds(event.t), Seconds(until)),
                     /*killed=*/false);
      }
    }
  } else if (type == "run_start") {
    configured_ = true;
    lease_us_ = IntField(event.fields, "lease_ms") * 1000;
    reap_us_ = IntField(event.fields, "reap_interval_ms") * 1000;
    // A taker waits clock_skew_ms past the lease on its clock, which may lag
    // the holder's by as much: twice that on the run-time axis.
    skew_us_ = 2 * IntField(event.fields, "clock_skew_ms") * 1000;
    slack_us_ = StrField(event.fields, "mode") == "lockstep" ? 0 : 2 * reap_us_ + 1'000'000;
    const int64_t items = IntField(event.fields, "items");
    if (items > 0) holdings_.reserve(static_cast<size_t>(items));
  } else if (type == "run_end") {
    ended_ = true;
    end_seq_ = event.seq;
    end_t_ = event.t;
    end_locks_ = IntField(event.fields, "locks");
    auto items = event.fields.find("items");
    if (items != event.fields.end() && items->is_array()) CreditEffectsAtEnd(*items);
  }
}

void EventualLockRelease::CreditEffectsAtEnd(const nlohmann::json& items) {
  if (open_.empty()) return;
  for (const auto& entry : items) {
    if (!entry.is_object()) continue;
    auto open = open_.find(StrField(entry, "id"));
    if (open == open_.end()) continue;
    Deadline& d = deadlines_[open->second];
    auto effect = entry.find("effect");
    if (d.effect_seq == 0 || StrField(entry, "status") != "done" || effect == entry.end() ||
        !effect->is_boolean() || !effect->get<bool>()) {
      continue;
    }
    d.open = false;  // freed at the effect, before the holder was gone
    open_.erase(open);
  }
}

void EventualLockRelease::OnClaim(const TraceEvent& event) {
  auto open = open_.find(event.item);
  if (open != open_.end()) {
    const Deadline& d = deadlines_[open->second];
    if (event.agent != d.agent || event.token > d.token) Free(event.item, event);
  }
  Holding& h = holdings_[event.item];
  if (h.active) {
    auto agent = held_.find(h.agent);
    if (agent != held_.end()) agent->second.erase(event.item);
  }
  h = Holding{event.agent, event.token, event.seq, /*effect_seq=*/0, /*active=*/true};
  held_[event.agent].insert(event.item);
}

void EventualLockRelease::OnHolderGone(const TraceEvent& event, const std::string& agent,
                                       const std::string& cause, bool killed) {
  auto held = held_.find(agent);
  if (!configured_ || held == held_.end() || held->second.empty()) return;
  // In grant order, so the report does not depend on hash order.
  std::vector<const std::pair<const std::string, Holding>*> grants;
  for (const std::string& item : held->second) {
    auto h = holdings_.find(item);
    if (h != holdings_.end() && h->second.active && !open_.count(item)) grants.push_back(&*h);
  }
  std::sort(grants.begin(), grants.end(),
            [](const auto* a, const auto* b) { return a->second.claim_seq < b->second.claim_seq; });
  const int64_t deadline = event.t + lease_us_ + reap_us_ + skew_us_ + slack_us_;
  for (const auto* g : grants) {
    open_[g->first] = deadlines_.size();
    deadlines_.push_back(Deadline{g->first, agent, g->second.token, g->second.claim_seq, event.seq,
                                  cause, event.t, deadline, "", true, g->second.effect_seq});
  }
  // A killed agent holds nothing any more; a restarted one under the same id
  // starts with new grants. A stalled one may resume and end its grants.
  if (killed) held->second.clear();
}

void EventualLockRelease::OnDatabaseOutage(int64_t down, int64_t up) {
  // Nothing could be freed while the server was down (the outage's event
  // comes when it is back, before anything it frees).
  for (Deadline& d : deadlines_) {
    if (!d.open || down >= d.deadline || up <= d.since) continue;
    d.deadline = std::max(d.deadline + (up - std::max(down, d.since)), up + reap_us_ + slack_us_);
    d.moved += fmt::format("; moved past the database outage {} - {}", Seconds(down), Seconds(up));
  }
}

void EventualLockRelease::Free(const std::string& item, const TraceEvent& event) {
  auto open = open_.find(item);
  if (open == open_.end()) return;
  Deadline& d = deadlines_[open->second];
  d.open = false;
  open_.erase(open);
  if (event.t <= d.deadline) return;
  violations_.Report(
      fmt::format("{}: {} was {} holding token {}; the item was freed only at {} by {}{}, "
                  "after the deadline {} ({}{})",
                  d.item, d.agent, d.cause, d.token, Seconds(event.t), event.type,
                  event.agent.empty() ? "" : " (" + event.agent + ")", Seconds(d.deadline),
                  Budget(), d.moved),
      {d.claim_seq, d.cause_seq, event.seq});
}

void EventualLockRelease::End(const std::string& item) {
  auto h = holdings_.find(item);
  if (h == holdings_.end() || !h->second.active) return;
  h->second.active = false;
  auto agent = held_.find(h->second.agent);
  if (agent != held_.end()) agent->second.erase(item);
}

std::string EventualLockRelease::Budget() const {
  std::string skew = skew_us_ > 0 ? fmt::format(" + 2 x clock_skew {} ms", skew_us_ / 2000) : "";
  return fmt::format("lease {} ms + reap interval {} ms{} + slack {} ms", lease_us_ / 1000,
                     reap_us_ / 1000, skew, slack_us_ / 1000);
}

void EventualLockRelease::Finish(std::vector<Violation>* out) {
  // The run lasted until run_end, or, in a truncated history, its last event.
  const int64_t end = ended_ ? end_t_ : last_t_;
  for (const Deadline& d : deadlines_) {
    if (!d.open || end <= d.deadline) continue;
    violations_.Report(
        fmt::format("{}: {} was {} holding token {}; the item was still not freed at the end "
                    "({}), past the deadline {} ({}{})",
                    d.item, d.agent, d.cause, d.token, Seconds(end), Seconds(d.deadline), Budget(),
                    d.moved),
        {d.claim_seq, d.cause_seq});
  }
  violations_.MoveTo(out);
  if (ended_ && end_locks_ != 0) {
    out->push_back({kName,
                    fmt::format("{} lock file{} left at the end of the run", end_locks_,
                                end_locks_ == 1 ? " was" : "s were"),
                    {end_seq_}});
  }
}

}  // namespace faultline
