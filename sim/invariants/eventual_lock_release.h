// eventual_lock_release (DESIGN §6): a dead or stalled holder's claim is free
// again within lease + reap interval (+ slack in freerun); no locks at the end.
//
// A death is an `exit` event with a "signal" field; a stall is a `fault`
// event of kind "stall_agent" naming "agent" and "until_us" (run time), or
// of kind "network_partition" with "phase": "cut" (the same fields: an agent
// cut off from the database is stalled as far as the database can tell). Every
// grant the agent then held (a claim_ok not yet ended by complete_ok, release,
// lease_expired, takeover or dead_letter) must be freed — lease_expired,
// takeover, dead_letter, quarantine of the item, or a claim_ok by another
// agent or with a higher token — by
//
//   deadline = t(death) + lease_ms + reap_interval_ms + slack
//   slack    = 0 in lockstep, 2 * reap_interval_ms + 1000 ms in freerun
//
// (times from run_start, in run time "t"). Freed after the deadline, or never
// freed although the run lasted past it, is a violation whose evidence is the
// claim_ok, the death and, if any, the freeing event. A run that ends before
// the deadline is not a violation. A stall that ends before the deadline
// sets no deadline: the agent is live again and may keep, renew or complete
// its grant. run_end.locks must be 0.
//
// A database outage (`fault` of kind "db_crash" or "db_restart", landed when
// the server is back: crashed_at_us or stopped_at_us, up_at_us) stalls every
// process at once: nothing can be freed while the server is down. An open
// deadline the outage began before is moved by the part of the outage after
// the death, and to at least up + reap_interval_ms + slack (a reaper pass
// that fell into the outage comes one interval after it).
//
// A holder killed after its `effect` event under the grant, whose item is
// done with an effect in run_end and still open there (no successor freed it,
// and none reported it), freed the item itself at that event: a store that
// marks the item done in the transaction of the ledger entry and reports the
// effect only after its COMMIT (the PostgreSQL backend) leaves no other
// report of it. (On the shared directory the effect is written before the
// item is done, and whoever finishes the item reports complete_recovered.)
//
// Without run_start (no lease) only the run_end.locks check is made.
// Thread-compatible; memory is one entry per item plus one per open deadline.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class EventualLockRelease final : public Invariant {
 public:
  static constexpr const char* kName = "eventual_lock_release";
  static constexpr const char* kSummary =
      "a dead or stalled holder's claim is free again within lease + reap interval (+ slack in "
      "freerun); no locks at the end";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  struct Holding {
    std::string agent;
    int64_t token = 0;
    uint64_t claim_seq = 0;
    uint64_t effect_seq = 0;  // the holder's `effect` under this grant, if any
    bool active = false;
  };
  // A grant that must be freed by `deadline` because its holder died or stalled.
  struct Deadline {
    std::string item;
    std::string agent;
    int64_t token = 0;
    uint64_t claim_seq = 0;
    uint64_t cause_seq = 0;
    std::string cause;  // "killed at 5.000 s", "stalled at 5.000 s until 40.000 s"
    int64_t since = 0;  // the death or stall (run time)
    int64_t deadline = 0;
    std::string moved;  // why the deadline is later than the budget says ("" if it is not)
    bool open = true;
    uint64_t effect_seq = 0;  // the holder reported the effect before it was gone
  };

  void OnClaim(const TraceEvent& event);
  void OnHolderGone(const TraceEvent& event, const std::string& agent, const std::string& cause,
                    bool killed);
  // The database was down from `down` to `up` (run time): open deadlines move.
  void OnDatabaseOutage(int64_t down, int64_t up);
  // Closes the open deadlines of items done with an effect that their dead
  // holder reported (see above).
  void CreditEffectsAtEnd(const nlohmann::json& items);
  // `event` frees `item`'s grant: closes its open deadline, reporting it if late.
  void Free(const std::string& item, const TraceEvent& event);
  void End(const std::string& item);
  std::string Budget() const;

  bool configured_ = false;  // run_start seen
  int64_t lease_us_ = 0, reap_us_ = 0, skew_us_ = 0, slack_us_ = 0;
  std::unordered_map<std::string, Holding> holdings_;                      // by item
  std::unordered_map<std::string, std::unordered_set<std::string>> held_;  // agent -> items
  std::vector<Deadline> deadlines_;
  std::unordered_map<std::string, size_t> open_;  // item -> index of its open deadline
  int64_t last_t_ = 0;
  bool ended_ = false;
  int64_t end_t_ = 0;
  uint64_t end_seq_ = 0;
  int64_t end_locks_ = 0;
  checker::ViolationList violations_{kName, "late releases"};
};

}  // namespace faultline
