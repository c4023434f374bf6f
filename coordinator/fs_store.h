// The fs backend: the Store over a shared coordination directory.
//
// Layout (docs/coordinator.md explains every transition):
//   DIR/cluster.json        {"format", "config", "fingerprint"}
//   DIR/HALT                present => nobody claims
//   DIR/items/<id>.json     the item's state (the truth)
//   DIR/claims/<id>         marker per live claim (a superset of them), so the
//                           reaper's cost follows live claims, not all items
//   DIR/locks/<id>.lock     short critical-section locks (file_lock.h);
//   DIR/locks/@agent.<id>.lock  the same for agent records
//   DIR/ledger/<id>.json    the item's effect, created exactly once (link)
//   DIR/agents/<id>.json    registration and heartbeat
//   DIR/quarantine/         corrupt files moved out of the way
//   DIR/tmp/                temp files of atomic writes
//   DIR/submitted.log       ids of submitted items, appended after they are
//                           made: tells running agents that items/ grew
//
// Every state change happens under the item's (or agent's) lock and ends in
// one atomic rename, so a crash at any yield point leaves the old or the new
// state. The clock and the probe are borrowed and must outlive the store.
//
// Subclasses may replace single operations (the Store methods are virtual,
// and ClaimNext reaches Claim through the vtable) using the protected helpers
// over the same layout: tests/mutants builds its deliberately broken
// coordinators that way, so that none of them lives in this library.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coordinator/clock.h"
#include "coordinator/file_lock.h"
#include "coordinator/fs_util.h"
#include "coordinator/probe.h"
#include "coordinator/store.h"

namespace swarm {

class FsStore : public Store {
 public:
  // Creates a coordination directory. InvalidArgument if `dir` is already
  // one, or is not empty.
  static Status Init(const std::string& dir, const ClusterConfig& config);
  // Opens an existing coordination directory. InvalidArgument (with what to
  // do) if `dir` is missing or not a coordination directory. A real clock is
  // given the directory's anchor for this boot (ClockAnchor), so that every
  // process using the directory reads the same clock; if the anchor cannot
  // be had, a warning is printed and the clock keeps its own.
  static Result<std::unique_ptr<FsStore>> Open(const std::string& dir, Clock* clock, Probe* probe);

  // The clock anchor of this boot for `dir`: DIR/clock/<boot_id>, created
  // once (create-once write) by the first process of a boot with
  // `proposed_us` (CLOCK_REALTIME - CLOCK_BOOTTIME then), read by every
  // later one, so a wall-clock step between their starts changes nothing. A
  // new boot (a new boot_id, CLOCK_BOOTTIME from zero) anchors afresh at the
  // wall time, so times stored before the reboot lie in the past.
  static Result<int64_t> ClockAnchor(const std::string& dir, const std::string& boot_id,
                                     int64_t proposed_us);
  // The kernel's id of this boot (/proc/sys/kernel/random/boot_id).
  static Result<std::string> BootId();

  // Where each walk over the open items starts. kSpread (the default): at a
  // place derived from the agent id, so agents rarely contend. kFifo: always
  // at the oldest open item, so every agent races for the same items — the
  // thundering herd of a naive queue, and what the claim_storm fault uses.
  enum class ClaimOrder { kSpread, kFifo };
  void set_claim_order(ClaimOrder order) { claim_order_ = order; }

  // Replaces the cluster settings (atomically). Running agents see the new
  // fingerprint at their next heartbeat and stop (drift); agents started
  // afterwards adopt the new settings.
  Status Reconfigure(const ClusterConfig& config) override;

  Result<ClusterConfig> LoadCluster() override;
  bool Halted() override;
  Status SetHalted(bool halted) override;
  Result<size_t> Submit(const std::vector<std::pair<std::string, std::string>>& items,
                        std::string_view skill = {}) override;
  Result<std::vector<std::string>> SubmitGenerated(std::string_view prefix, int64_t count,
                                                   std::string_view skill = {}) override;
  Status Register(const AgentRecord& agent) override;
  Status Heartbeat(AgentRecord& agent, const Grant* held, bool* lost) override;
  Status MarkAgent(const AgentRecord& agent) override;
  Result<ClaimOutcome> ClaimNext(const std::string& agent) override;
  Result<Grant> Claim(const std::string& item, const std::string& agent) override;
  Status CheckGrant(const Grant& grant) override;
  Status Renew(Grant& grant) override;
  Status Complete(const Grant& grant, std::string_view result) override;
  Status Release(const Grant& grant, std::string_view reason) override;
  Result<ReapReport> Reap(const ReapOptions& options) override;
  Result<Snapshot> Inspect() override;
  // Read from the files the way a recovering process would: a state file
  // that does not parse is "unreadable", one without a status "?".
  Result<nlohmann::json> EndState() override;

  const std::string& dir() const { return dir_; }

 protected:
  FsStore(std::string dir, ClusterConfig config, Clock* clock, Probe* probe);
  // The checks of Open: the cluster settings of an existing coordination
  // directory, or InvalidArgument saying what to do.
  static Result<ClusterConfig> LoadDir(const std::string& dir);

  std::string ItemPath(std::string_view id) const;
  std::string ItemLockPath(std::string_view id) const;
  std::string AgentPath(std::string_view id) const;
  std::string AgentLockPath(std::string_view id) const;
  std::string MarkerPath(std::string_view id) const;
  std::string LedgerPath(std::string_view id) const;
  std::string Sub(std::string_view name) const { return dir_ + "/" + std::string(name); }
  // `path` relative to the directory: what messages and events name, so that
  // a trace never depends on where the run's directory happened to be.
  std::string Rel(const std::string& path) const {
    return path.compare(0, dir_.size() + 1, dir_ + "/") == 0 ? path.substr(dir_.size() + 1) : path;
  }

  // Takes a lock, retrying for a short while (sleeping on the clock) when
  // another process is inside its critical section; gives up with Busy and a
  // lock_timeout event naming the operation, the agent and the item.
  Result<FileLock> LockWithRetry(const std::string& path, std::string_view op,
                                 std::string_view who, std::string_view item);
  Result<ItemState> ReadItem(std::string_view id);
  // A claim is expired to anyone but its holder only clock_skew_ms after its
  // lease_until on the observer's clock: the holder's clock may be behind.
  bool ExpiredToOthers(const ItemState& s, int64_t now_us) const {
    return s.LeaseExpired(now_us - config_.clock_skew_ms * 1000);
  }
  // The same for a claim whose lease was read to end at `lease_until_us`.
  bool HeldPast(int64_t lease_until_us, int64_t now_us) const {
    return lease_until_us <= now_us - config_.clock_skew_ms * 1000;
  }
  Status WriteItem(const ItemState& state);
  // What the ledger says of an item. Its file's existence decides whether
  // the effect is recorded (it is created once, whole, by link); `effect` is
  // set when the file can also be read and parsed, else `unreadable` says
  // why. IOError only when not even its existence can be told.
  struct LedgerEntry {
    bool present = false;
    std::optional<Effect> effect;
    std::string unreadable;
  };
  Result<LedgerEntry> LookUpLedger(std::string_view id);
  // Fsyncs ledger/: called before an item is marked done on the strength of
  // an entry that may have been made by a process whose fsync failed, so
  // that `done` is never more durable than its effect.
  Status SyncLedger();
  // Under the item's lock: moves a corrupt state file to quarantine and
  // writes a record that accounts for the item.
  Status QuarantineItemLocked(std::string_view id, const Status& why);
  Status QuarantineAgent(std::string_view id, const Status& why);
  // Under the item's lock: an expired claim goes back to pending, or is
  // dead-lettered when it used up its attempts. `who` names the actor.
  Status ExpireLocked(ItemState& state, std::string_view who, ReapReport* report);
  // Under the item's lock: a pending item out of attempts is dead-lettered
  // (`who` names the actor), with the reason.
  Status DeadLetterPendingLocked(ItemState& state, std::string_view who);
  // Under the item's lock: removes its claim marker if it is not claimed.
  Status DropStaleMarker(const std::string& id);
  // Lists items/ again into open_ (minus the items known to be finished);
  // `announced` is the size of the submission log read before the listing.
  Status Relist(const std::string& agent, int64_t announced);
  // The size of the submission log (DIR/submitted.log), -1 when it cannot
  // be had: it grows after every item a submit adds, so a change of it is
  // what tells a running agent that items/ gained names.
  int64_t Announced();
  // Appends the ids of newly submitted items to the submission log (a hint
  // for running agents, not part of the durable state: see Announced).
  void Announce(const std::vector<std::string>& ids);
  // One walk over open_ from cursor_: claims the first claimable item and
  // drops the items it found finished.
  // `tried` counts the claims attempted and lost.
  Result<ClaimOutcome> Walk(const std::string& agent, int* tried);
  // Lists ledger/ into terminal_ (nothing when it cannot be listed: the walk
  // then stats each entry).
  void ListLedger();
  // Whether an item this process last read as claimed, with its lease then
  // running to `lease_until_us`, can be passed over unread: that lease has
  // not run out for others and the item still has its claim marker
  // (`markers`, listed at most once per walk into *markers).
  bool StillHeld(const std::string& id, int64_t now_us,
                 std::optional<std::set<std::string>>* markers);
  Status CheckCurrent(const ItemState& state, const Grant& grant, std::string_view op);
  // Whether `agent` may be granted the item: it needs no skill, or one the
  // agent registered with through this store. Every claim path asks this.
  virtual bool CanDo(const ItemState& state, const std::string& agent) const;
  // Whether the item with this claim marker is one `agent` may do (or its
  // state cannot be read, so it might be).
  bool MarkerConcerns(const std::string& id, const std::string& agent);
  void Event(nlohmann::json event);

  std::string dir_;
  // The directories of the claim and complete path, kept open (fs::Dir): the
  // state reads and writes, ledger entries and markers go through them.
  fs::Dir items_dir_, ledger_dir_, claims_dir_, tmp_dir_;
  ClusterConfig config_;  // as of Open; the lease and limits this process uses
  Clock* clock_;
  Probe* probe_;
  std::set<std::string> terminal_;    // items seen done/dead/quarantined
  std::map<std::string, std::vector<std::string>> skills_;  // of agents registered here

 private:
  std::vector<std::string> open_;     // items not known to be finished, sorted
  std::string listed_for_;            // the agent open_ was listed for
  std::set<std::string> others_;      // items needing a skill listed_for_ lacks
  int ledger_found_ = 0;  // entries found by a stat since ledger/ was last listed
  // Items last read claimed by another grant whose lease had not run out, and
  // that lease's end as read (docs/coordinator.md, "claim").
  std::map<std::string, int64_t> held_;
  size_t cursor_ = 0;                 // where the next walk of open_ starts
  uint64_t jumps_ = 0;                // fresh starting places taken (Walk)
  ClaimOrder claim_order_ = ClaimOrder::kSpread;
  int64_t announced_ = -2;            // the submission log's size before the last listing
  int64_t listed_at_us_ = 0;          // when items/ was last listed
  int64_t next_expiry_scan_us_ = 0;   // when ClaimNext next looks for expired claims
};

}  // namespace swarm
