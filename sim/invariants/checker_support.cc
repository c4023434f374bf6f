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
  if (event.type == "run_start") freerun_ = StrField(event.fields, "mode") == "freerun";
  int64_t reading = event.now_us;
  if (reading == 0 && event.type == "heartbeat") reading = IntField(event.fields, "at_us");
  if (reading != 0) Note(event.proc, reading, event.t);
}

void ProcessClocks::Note(const std::string& proc, int64_t reading, int64_t t) {
  const int64_t offset = reading - t;
  auto [it, inserted] = offset_.try_emplace(proc, offset);
  if (!inserted && (!freerun_ || offset > it->second)) it->second = offset;
  if (!first_offset_) first_offset_ = offset;
}

std::optional<int64_t> ProcessClocks::ToRunTime(const std::string& proc, int64_t reading) const {
  auto it = offset_.find(proc);
  if (it != offset_.end()) return reading - it->second;
  if (first_offset_) return reading - *first_offset_;
  return std::nullopt;
}

}  // namespace faultline::checker
