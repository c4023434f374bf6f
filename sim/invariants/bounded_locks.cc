#include "sim/invariants/bounded_locks.h"

#include <fmt/format.h>

#include <utility>

#include "sim/invariants/checker_support.h"

namespace faultline {

using checker::IntField;
using checker::Seconds;

void BoundedLocks::Observe(const TraceEvent& event) {
  if (event.type != "snapshot") return;
  const int64_t locks = IntField(event.fields, "locks");
  const int64_t temps = IntField(event.fields, "temps");
  const int64_t claims = IntField(event.fields, "claims");
  const int64_t procs = IntField(event.fields, "live_procs");
  const int64_t excess = locks + temps - (claims + procs + kSlack);
  if (excess <= 0) return;
  ++violating_;
  if (excess > worst_excess_) {
    worst_excess_ = excess;
    worst_seq_ = event.seq;
  }
  if (!first_) {
    first_ = Violation{kName,
                       fmt::format("snapshot at {} (seq {}): {} locks + {} temps = {} exceeds {} "
                                   "claims + {} live processes + {}",
                                   Seconds(event.t), event.seq, locks, temps, locks + temps, claims,
                                   procs, kSlack),
                       {event.seq}};
  }
}

void BoundedLocks::Finish(std::vector<Violation>* out) {
  if (!first_) return;
  out->push_back(std::move(*first_));
  first_.reset();
  if (violating_ > 1) {
    out->push_back({kName,
                    fmt::format("{} snapshots in all exceeded the bound; the worst by {} files "
                                "(seq {})",
                                violating_, worst_excess_, worst_seq_),
                    {worst_seq_}});
  }
}

}  // namespace faultline
