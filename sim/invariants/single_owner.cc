#include "sim/invariants/single_owner.h"

#include <fmt/format.h>

#include "sim/invariants/checker_support.h"

namespace faultline {

using checker::IntField;
using checker::Seconds;

void SingleOwner::Observe(const TraceEvent& event) {
  clocks_.Observe(event);
  const std::string& type = event.type;
  if (type == "claim_ok") {
    OnClaim(event);
  } else if (type == "renew_ok") {
    auto it = latest_.find(event.item);
    if (it != latest_.end() && it->second.token == event.token && !it->second.ended) {
      it->second.lease_until_us = clocks_.Unskew(event, event.proc, event.lease_until_us);
      it->second.renewed = true;
      it->second.renew_seq = event.seq;
    }
  } else if (type == "complete_ok" || type == "release") {
    auto it = latest_.find(event.item);
    if (it != latest_.end() && it->second.token == event.token) it->second.ended = true;
  } else if (type == "lease_expired" || type == "dead_letter" || type == "complete_recovered") {
    // All name the item, and the coordinator emits them for its current
    // grant only; a takeover does not end the grant here, because whether
    // the lease really had expired is exactly what the next claim_ok checks.
    auto it = latest_.find(event.item);
    if (it != latest_.end()) it->second.ended = true;
  } else if (type == "exit" && event.proc == "sim") {
    // A process that exited or was killed holds nothing any more (a restart
    // under the same id starts with no grants): a takeover of its claims
    // before their leases ran out overlaps nobody. A stalled one still holds.
    auto held = held_.find(event.agent);
    if (held == held_.end()) return;
    for (const std::string& item : held->second) {
      auto it = latest_.find(item);
      if (it != latest_.end() && it->second.agent == event.agent) it->second.ended = true;
    }
    held->second.clear();
  } else if (type == "run_start") {
    const int64_t lease_ms = IntField(event.fields, "lease_ms");
    lease_us_ = lease_ms > 0 ? lease_ms * 1000 : -1;
    const int64_t items = IntField(event.fields, "items");
    if (items > 0) latest_.reserve(static_cast<size_t>(items));
  }
}

void SingleOwner::OnClaim(const TraceEvent& event) {
  const bool has_now = event.fields.contains("now_us");
  const bool dated = has_now || lease_us_ >= 0;
  // Both times on the unskewed clock (the same as read without clock_skew).
  const int64_t now =
      clocks_.Unskew(event, event.proc, has_now ? event.now_us : event.lease_until_us - lease_us_);
  if (dated && !clock_offset_) clock_offset_ = now - event.t;
  auto [it, inserted] = latest_.try_emplace(event.item);
  Grant& previous = it->second;
  if (!inserted) {
    if (event.token <= previous.token) {
      violations_.Report(
          fmt::format("{}: {} was granted token {}, not above the previous grant's token {} "
                      "(to {})",
                      event.item, event.agent, event.token, previous.token, previous.agent),
          {previous.claim_seq, event.seq});
    }
    if (dated && !previous.ended && previous.agent != event.agent &&
        now < previous.lease_until_us) {
      std::string renewal =
          previous.renewed ? fmt::format(" (renewed at seq {})", previous.renew_seq) : "";
      // Under clock skew, say how far apart the two clocks were.
      const int64_t ahead =
          clocks_.SkewAt(event.proc, event.t) - clocks_.SkewAt(previous.proc, event.t);
      std::string clocks =
          ahead == 0 ? ""
                     : fmt::format(" ({}'s clock ran {} ms {} {}'s)", event.agent,
                                   (ahead < 0 ? -ahead : ahead) / 1000,
                                   ahead > 0 ? "ahead of" : "behind", previous.agent);
      violations_.Report(
          fmt::format("{}: {} was granted token {} at {} while {}'s grant (token {}) was "
                      "valid until {}{}{}",
                      event.item, event.agent, event.token, Clock(now), previous.agent,
                      previous.token, Clock(previous.lease_until_us), renewal, clocks),
          {previous.claim_seq, event.seq});
    }
  }
  held_[event.agent].push_back(event.item);
  previous = Grant{event.agent, event.proc, event.token,
                   clocks_.Unskew(event, event.proc, event.lease_until_us), event.seq, false, 0,
                   false};
}

std::string SingleOwner::Clock(int64_t us) const { return Seconds(us - clock_offset_.value_or(0)); }

void SingleOwner::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

}  // namespace faultline
