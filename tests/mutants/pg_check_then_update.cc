// pg_check_then_update: the claim reads a claimable row without locking it
// (no FOR UPDATE, no SKIP LOCKED), and then writes the grant with an UPDATE
// that does not repeat the check. Two agents that read the same row before
// either writes are both granted it, with the same token: the
// check-then-act race a row lock (or a conditional UPDATE) prevents.
#include <fmt/format.h>

#include "sim/protocol/control_protocol.h"
#include "tests/mutants/pg_mutant_store.h"

namespace swarm::mutants {
namespace {

namespace point = faultline::protocol::point;
namespace probe = faultline::protocol::probe;

class CheckThenUpdateStore final : public PgMutantStore {
 public:
  using PgMutantStore::PgMutantStore;

  Result<ClaimOutcome> ClaimNext(const std::string& agent) override {
    auto now = LeaseNow();
    if (!now.ok()) return now.status();
    const auto it = skills_.find(agent);
    const std::vector<std::string> none;
    auto rows = conn_.Exec(
        fmt::format("SELECT {} FROM {} WHERE (status = 'pending' OR (status = 'claimed' AND "
                    "lease_until_us <= $1)) AND (skill = '' OR skill = ANY($2)) "
                    "ORDER BY seq LIMIT 1",
                    kItemColumns, T("items")),
        {pg::P(*now - config_.clock_skew_ms * 1000),
         pg::ArrayParam(it == skills_.end() ? none : it->second)});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) {
      auto remaining = WorkRemaining(agent);
      if (!remaining.ok()) return remaining.status();
      return ClaimOutcome{std::nullopt, *remaining};
    }
    auto state = ItemFromRow(*rows, 0);
    if (!state.ok()) return state.status();
    const ItemState s = std::move(*state);
    // The window: another claimer may read the same row now.
    probe_->Yield(point::kClaimLocked, s.id);
    const int64_t lease_until = *now + config_.lease_ms * 1000;
    auto wrote = conn_.Exec(
        fmt::format("UPDATE {} SET status = 'claimed', token = $2, owner = $3, "
                    "lease_until_us = $4, attempts = $5 WHERE id = $1",
                    T("items")),
        {pg::P(s.id), pg::P(s.token + 1), pg::P(agent), pg::P(lease_until),
         pg::P(s.attempts + 1)});
    if (!wrote.ok()) return wrote.status();
    probe_->Yield(point::kClaimStateWritten, s.id);
    probe_->Reached(probe::kClaimGranted);
    if (probe_->recording()) {
      probe_->Emit({{"type", "claim_ok"}, {"item", s.id}, {"agent", agent},
                    {"token", s.token + 1}, {"lease_until_us", lease_until}, {"now_us", *now},
                    {"attempt", s.attempts + 1}});
    }
    return ClaimOutcome{Grant{s.id, agent, s.token + 1, lease_until, s.attempts + 1, s.payload},
                        true};
  }
};

}  // namespace

Mutant PgCheckThenUpdate() {
  return {"pg_check_then_update",
          "the PostgreSQL claim reads a claimable row unlocked, then updates it unconditionally",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return PgMutantStore::OpenAs<CheckThenUpdateStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
