// in_place_write: the claim rewrites the item's state file in place — an
// std::ofstream opened on the file itself (truncating it) and closed when
// the claim returns — instead of a temp file renamed over it. Until the
// stream is closed the file is empty, so a crash anywhere in between (a
// crash_at claim.state_written) leaves it torn (concurrent file
// corruption, RPN 140).
#include <fstream>

#include "coordinator/fs_util.h"
#include "sim/protocol/control_protocol.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

namespace point = faultline::protocol::point;

class InPlaceWriteStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

  Result<Grant> Claim(const std::string& id, const std::string& agent) override {
    std::optional<FileLock> lock;
    {
      auto taken = FileLock::TryAcquire(ItemLockPath(id));
      if (!taken.ok()) return taken.status();
      lock.emplace(std::move(*taken));
    }
    probe_->Yield(point::kClaimLocked, id);
    auto state = ReadItem(id);
    if (!state.ok() || state->status != ItemStatus::kPending) {
      // Takeovers, finished and corrupt items go the reference way.
      lock.reset();
      return FsStore::Claim(id, agent);
    }
    ItemState s = std::move(*state);
    SWARM_RETURN_IF_ERROR(fs::Touch(MarkerPath(id)));
    probe_->Yield(point::kClaimMarked, id);
    const int64_t now = clock_->NowMicros();
    s.status = ItemStatus::kClaimed;
    s.token += 1;
    s.owner = agent;
    s.lease_until_us = now + config_.lease_ms * 1000;
    s.attempts += 1;
    // The bug: truncated now, written when `out` is closed at the return.
    std::ofstream out(ItemPath(id), std::ios::trunc);
    out << ToJson(s).dump();
    if (!out) return Status::IOError("write " + Rel(ItemPath(id)) + " failed");
    probe_->Yield(point::kClaimStateWritten, id);
    Event({{"type", "claim_ok"}, {"item", id}, {"agent", agent}, {"token", s.token},
           {"lease_until_us", s.lease_until_us}, {"now_us", now}, {"attempt", s.attempts}});
    return Grant{id, agent, s.token, s.lease_until_us, s.attempts, s.payload};
  }
};

}  // namespace

Mutant InPlaceWrite() {
  return {"in_place_write",
          "writes the claimed state over the item's file in place (truncate, write on close) "
          "instead of temp file + rename",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<InPlaceWriteStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
