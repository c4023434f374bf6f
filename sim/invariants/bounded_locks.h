// bounded_locks (DESIGN §6): lock and temp files never exceed the live
// claims plus a small constant.
//
// For every `snapshot` event: locks + temps <= claims + live_procs + 4.
// Lock files exist only inside critical sections (at most one per live
// process) or briefly after a crash inside one, temps only inside atomic
// writes; the 4 covers leftovers the reaper has not swept yet. Only the first
// violating snapshot is reported in full, followed by how many others
// violated and the worst excess, so a leaking build yields two lines, not one
// per snapshot.
//
// Thread-compatible; constant memory.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "sim/invariant.h"

namespace faultline {

class BoundedLocks final : public Invariant {
 public:
  static constexpr const char* kName = "bounded_locks";
  static constexpr const char* kSummary =
      "lock/temp files never exceed live claims + live processes + 4";
  static constexpr int64_t kSlack = 4;

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  std::optional<Violation> first_;
  uint64_t violating_ = 0;  // snapshots over the bound, the first included
  int64_t worst_excess_ = 0;
  uint64_t worst_seq_ = 0;
};

}  // namespace faultline
