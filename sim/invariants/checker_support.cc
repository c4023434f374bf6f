#include "sim/invariants/checker_support.h"

#include <fmt/format.h>

#include <utility>

namespace faultline::checker {

int64_t IntField(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

const std::string& StrField(const nlohmann::json& j, const char* key) {
  static const std::string kNone;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get_ref<const std::string&>() : kNone;
}

std::string Seconds(int64_t us) { return fmt::format("{:.3f} s", static_cast<double>(us) / 1e6); }

void ViolationList::Report(std::string message, std::vector<uint64_t> evidence) {
  if (++reported_ > cap_) return;
  listed_.push_back({invariant_, std::move(message), std::move(evidence)});
}

void ViolationList::MoveTo(std::vector<Violation>* out) {
  for (Violation& v : listed_) out->push_back(std::move(v));
  listed_.clear();
  if (reported_ > cap_) {
    out->push_back(
        {invariant_,
         fmt::format("{} more {} not listed ({} in all)", reported_ - cap_, noun_, reported_),
         {}});
  }
}

void ProcessClocks::Observe(const TraceEvent& event) {
  if (event.type == "spawn") {
    started_[event.agent] = event.t;
  } else if (event.type == "fault" && StrField(event.fields, "kind") == "clock_skew") {
    skew_[event.agent] =
        Skew{IntField(event.fields, "offset_us"), IntField(event.fields, "drift_ppm")};
  }
}

int64_t ProcessClocks::SkewAt(const std::string& proc, int64_t t) const {
  if (skew_.empty()) return 0;
  auto it = skew_.find(proc);
  if (it == skew_.end()) return 0;
  auto start = started_.find(proc);
  const int64_t since = start == started_.end() ? t : t - start->second;
  return it->second.offset_us + it->second.drift_ppm * since / 1'000'000;
}

}  // namespace faultline::checker
