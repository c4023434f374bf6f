#include "sim/invariants/single_owner.h"

#include <fmt/format.h>

#include "sim/invariants/checker_support.h"

namespace faultline {

using checker::IntField;
using checker::Seconds;
using checker::StrField;

void SingleOwner::Observe(const TraceEvent& event) {
  clocks_.Observe(event);
  const std::string& type = event.type;
  if (type == "claim_ok") {
    OnClaim(event);
  } else if (type == "renew_ok") {
    auto it = latest_.find(event.item);
    if (it != latest_.end() && it->second.token == event.token && !it->second.ended) {
      it->second.lease_until_us = event.lease_until_us;
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
  } else if (type == "run_start") {
    const int64_t lease_ms = IntField(event.fields, "lease_ms");
    lease_us_ = lease_ms > 0 ? lease_ms * 1000 : -1;
    const bool freerun = StrField(event.fields, "mode") == "freerun";
    tolerance_us_ = freerun ? checker::ProcessClocks::kFreerunToleranceUs : 0;
    const int64_t items = IntField(event.fields, "items");
    if (items > 0) latest_.reserve(static_cast<size_t>(items));
  }
}

void SingleOwner::OnClaim(const TraceEvent& event) {
  const bool has_now = event.fields.contains("now_us");
  const bool dated = has_now || lease_us_ >= 0;
  if (!has_now && dated) clocks_.Note(event.proc, event.lease_until_us - lease_us_, event.t);
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
    const std::optional<int64_t> valid_until =
        clocks_.ToRunTime(previous.proc, previous.lease_until_us);
    if (dated && !previous.ended && previous.agent != event.agent && valid_until &&
        event.t + tolerance_us_ < *valid_until) {
      std::string renewal =
          previous.renewed ? fmt::format(" (renewed at seq {})", previous.renew_seq) : "";
      // Under clock skew, say how far apart the two clocks were.
      const int64_t skew =
          clocks_.ToRunTime(event.proc, previous.lease_until_us).value_or(*valid_until) -
          *valid_until;
      std::string clocks =
          skew == 0 ? ""
                    : fmt::format(" ({}'s clock ran {} ms {} {}'s)", event.agent,
                                  (skew < 0 ? -skew : skew) / 1000,
                                  skew < 0 ? "ahead of" : "behind", previous.agent);
      violations_.Report(
          fmt::format("{}: {} was granted token {} at {} while {}'s grant (token {}) was "
                      "valid until {}{}{}",
                      event.item, event.agent, event.token, Seconds(event.t), previous.agent,
                      previous.token, Seconds(*valid_until), renewal, clocks),
          {previous.claim_seq, event.seq});
    }
  }
  previous = Grant{event.agent, event.proc, event.token, event.lease_until_us, event.seq, false, 0,
                   false};
}

void SingleOwner::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

}  // namespace faultline
