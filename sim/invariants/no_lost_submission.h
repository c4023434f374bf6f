// no_lost_submission: work submitted during a run ("work"/"arrivals") is
// neither lost nor invented.
//
// A submitter that exits 0 has been told that all the items it was asked
// for (its spawn event's "items") were added. At the end:
// - the items in run_end.items are at least those submitted at set-up
//   (run_start.items) plus every acknowledged submission, and at most that
//   plus what submitters that did not exit 0 (killed, failed) were asked for:
//   those may have added some or none;
// - a submitter that reported the ids it added (the reference's submit_ok)
//   and exited 0 reported as many ids as it was asked for, no id another
//   submitter reported too, and each of them is in run_end.items (whose
//   status no_lost_work judges).
//
// Without submitters there is nothing to judge. Needs the final item list
// (observes::kItemStates). Thread-compatible; memory is the ids reported.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class NoLostSubmission final : public Invariant {
 public:
  static constexpr const char* kName = "no_lost_submission";
  static constexpr const char* kSummary =
      "every item a submitter was told was added (exit 0) exists at the end, under an id no "
      "other submitter was given; the item count equals what was acknowledged";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  struct Start {           // one start of one submitter
    std::string submitter;
    int64_t items = 0;      // asked for
    uint64_t spawn_seq = 0;
    bool reported = false;  // sent submit_ok
    std::vector<std::string> ids;
    uint64_t report_seq = 0;
    bool ended = false, acknowledged = false;
    uint64_t end_seq = 0;
  };
  void OnRunEnd(const TraceEvent& event);

  int64_t initial_ = 0;
  std::vector<Start> starts_;
  std::map<std::string, size_t> current_;  // submitter -> its latest start in starts_
  std::map<std::string, size_t> owner_;    // reported id -> start that reported it first
  checker::ViolationList violations_{kName};
};

}  // namespace faultline
