// The disk spool of one agent's spans, under the coordination directory:
//
//   DIR/spool/<agent>/owner.lock     flock(LOCK_EX|LOCK_NB)ed by the running agent for its
//                                    whole life; free means nobody runs under that id, so
//                                    the reaper may export what is left
//   DIR/spool/<agent>/incarnation    how many times the agent started (span ids differ
//                                    across restarts without reading any real clock)
//   DIR/spool/<agent>/live.jsonl     the batch being filled: one line per span, appended
//                                    with one write(2) each, so a SIGKILL loses nothing
//   DIR/spool/<agent>/seg-<n>.jsonl  sealed batches the collector did not take, written
//                                    atomically (temp + fsync + rename + dir fsync),
//                                    exported oldest first
//
// Sealed segments are bounded (spans and bytes, Limits); the live file holds
// at most one batch and is not counted. The spool never decides to drop: the
// exporter asks Fits() and drops, counted, what does not.
//
// Thread-compatible. An OwnedSpool is used by one process at a time (the
// owner lock guarantees it); OrphanSpool is the reaper's view of a spool whose
// owner is gone.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/status.h"
#include "coordinator/telemetry_span.h"

namespace swarm::telemetry {

struct Limits {
  size_t max_spans = 10'000;
  size_t max_bytes = 16u << 20;
};

// A sealed batch on disk.
struct Segment {
  std::string name;  // "seg-000000000007.jsonl" (or "live.jsonl" for an orphan's live file)
  std::vector<Span> spans;
  size_t bytes = 0;
  size_t unreadable = 0;  // lines that were not spans (damaged by something else)
};

std::string SpoolRoot(const std::string& coord_dir);

class OwnedSpool {
 public:
  // Creates DIR/spool/<agent>/ if needed and takes its owner lock. Busy if
  // another process holds it (the reaper exporting it right now, or a live
  // agent with the same id): retry shortly.
  static Result<std::unique_ptr<OwnedSpool>> Open(const std::string& coord_dir,
                                                  const std::string& agent, Limits limits);
  ~OwnedSpool();  // releases the owner lock
  OwnedSpool(const OwnedSpool&) = delete;
  OwnedSpool& operator=(const OwnedSpool&) = delete;

  // This start's number: 1 for the first, counted in the spool directory.
  uint64_t incarnation() const { return incarnation_; }
  // Spans a previous run of this agent left in live.jsonl (killed before
  // it exported or sealed them); they are still in the file.
  std::vector<Span> TakeLeftover() { return std::move(leftover_); }

  // Appends one span to live.jsonl (one write(2), no fsync: survives the
  // death of the process, not of the machine).
  Status AppendLive(const Span& span);
  // Empties live.jsonl once its batch was exported, sealed or dropped.
  Status ClearLive();

  // Whether a batch of `spans` spans and `bytes` bytes fits the bound.
  bool Fits(size_t spans, size_t bytes) const;
  // Bytes the batch takes once sealed.
  static size_t SealedBytes(const std::vector<Span>& batch);
  // Writes the batch as the newest segment, atomically and durably.
  // REQUIRES: Fits(batch.size(), SealedBytes(batch)).
  Status Seal(const std::vector<Span>& batch);
  // The oldest segment, read; std::nullopt when there is none.
  Result<std::optional<Segment>> Oldest();
  // Removes a segment once the collector took it.
  Status Remove(const Segment& segment);

  size_t spans() const { return spans_; }
  size_t bytes() const { return bytes_; }
  size_t segments() const { return names_.size(); }
  const std::string& dir() const { return dir_; }

 private:
  OwnedSpool(std::string dir, Limits limits, int lock_fd);
  Status Load();

  std::string dir_;
  Limits limits_;
  int lock_fd_ = -1;
  int live_fd_ = -1;
  uint64_t incarnation_ = 0;
  uint64_t next_seq_ = 1;
  std::vector<std::string> names_;      // segments, oldest first
  std::vector<size_t> spans_per_;       // parallel to names_
  std::vector<size_t> bytes_per_;
  size_t spans_ = 0;
  size_t bytes_ = 0;
  std::vector<Span> leftover_;
};

// The reaper's handle on the spool of an agent that is not running: holds
// its owner lock (so the agent, should it start meanwhile, waits) while the
// leftovers are exported.
class OrphanSpool {
 public:
  // NotFound if the agent's spool holds nothing; Busy if its owner runs.
  static Result<std::unique_ptr<OrphanSpool>> Claim(const std::string& coord_dir,
                                                    const std::string& agent);
  ~OrphanSpool();
  OrphanSpool(const OrphanSpool&) = delete;
  OrphanSpool& operator=(const OrphanSpool&) = delete;

  // What is left, oldest first: the segments, then live.jsonl. Also removes
  // temp files of interrupted seals.
  Result<std::vector<Segment>> Read();
  Status Remove(const Segment& segment);

 private:
  OrphanSpool(std::string dir, int lock_fd) : dir_(std::move(dir)), lock_fd_(lock_fd) {}
  std::string dir_;
  int lock_fd_;
};

// Agents whose spool holds anything, sorted (what the reaper looks at).
Result<std::vector<std::string>> SpoolOwners(const std::string& coord_dir);

// `swarm status`: what each agent's spool holds.
struct Backlog {
  std::string agent;
  size_t segments = 0;
  size_t spans = 0;       // in segments and the live file
  size_t bytes = 0;
  bool owner_running = false;
};
Result<std::vector<Backlog>> SpoolBacklog(const std::string& coord_dir);

}  // namespace swarm::telemetry
