// The steps several mutants share, copied from the reference coordinator
// (coordinator/fs_store.cc) so that a mutant differs from it only in its bug.
#include "tests/mutants/mutant_store.h"

#include "coordinator/fs_util.h"
#include "sim/protocol/control_protocol.h"

namespace swarm::mutants {

namespace point = faultline::protocol::point;

Result<Grant> MutantStore::GrantPending(ItemState s, const std::string& agent,
                                        int64_t lease_until_us) {
  const std::string id = s.id;
  SWARM_RETURN_IF_ERROR(fs::Touch(MarkerPath(id)));
  probe_->Yield(point::kClaimMarked, id);
  const int64_t now = clock_->NowMicros();
  s.status = ItemStatus::kClaimed;
  s.token += 1;
  s.owner = agent;
  s.lease_until_us = lease_until_us;
  s.attempts += 1;
  SWARM_RETURN_IF_ERROR(WriteItem(s));
  probe_->Yield(point::kClaimStateWritten, id);
  Event({{"type", "claim_ok"}, {"item", id}, {"agent", agent}, {"token", s.token},
         {"lease_until_us", s.lease_until_us}, {"now_us", now}, {"attempt", s.attempts}});
  return Grant{id, agent, s.token, s.lease_until_us, s.attempts, s.payload};
}

Status MutantStore::CreateLedgerEntry(const std::string& path, std::string_view data) {
  return fs::CreateAtomic(Sub("tmp"), path, data);
}

Status MutantStore::CompleteLocked(const Grant& grant, std::string_view result,
                                   bool check_grant) {
  probe_->Yield(point::kCompleteLocked, grant.item);
  auto state = ReadItem(grant.item);
  if (!state.ok()) return state.status();
  if (check_grant) SWARM_RETURN_IF_ERROR(CheckCurrent(*state, grant, "complete"));
  const int64_t now = clock_->NowMicros();
  Effect effect{grant.item, grant.agent, grant.token, now, std::string(result)};
  Status wrote = CreateLedgerEntry(LedgerPath(grant.item), ToJson(effect).dump());
  if (wrote.code() == Status::Code::kConflict) {
    auto text = fs::ReadFile(LedgerPath(grant.item));
    if (!text.ok()) return text.status();
    auto earlier = EffectFromJson(*text, Rel(LedgerPath(grant.item)));
    if (!earlier.ok()) return earlier.status();
    effect = *earlier;
    Event({{"type", "effect_present"}, {"item", grant.item}, {"agent", grant.agent},
           {"token", grant.token}, {"effect_token", effect.token}});
  } else if (!wrote.ok()) {
    return wrote;
  } else {
    Event({{"type", "effect"}, {"item", grant.item}, {"agent", grant.agent},
           {"token", grant.token}, {"now_us", now}});
  }
  probe_->Yield(point::kCompleteLedgerWritten, grant.item);
  ItemState s = std::move(*state);
  s.status = ItemStatus::kDone;
  s.owner = effect.agent;
  s.lease_until_us = 0;
  SWARM_RETURN_IF_ERROR(WriteDoneState(s));
  probe_->Yield(point::kCompleteStateWritten, grant.item);
  terminal_.insert(grant.item);
  SWARM_RETURN_IF_ERROR(fs::Remove(MarkerPath(grant.item), /*durable=*/false));
  Event({{"type", "complete_ok"}, {"item", grant.item}, {"agent", grant.agent},
         {"token", grant.token}, {"now_us", now}});
  return Status::Ok();
}

}  // namespace swarm::mutants
