#include "sim/invariants/no_unplanned_crash.h"

#include <fmt/format.h>

#include <cstring>

namespace faultline {

using checker::Seconds;

void NoUnplannedCrash::Observe(const TraceEvent& event) {
  if (event.proc != "sim" || event.type != "exit") return;
  const auto signal = event.fields.find("signal");
  if (signal == event.fields.end() || !signal->is_number_integer()) return;
  if (event.fields.contains("by")) return;
  const int number = signal->get<int>();
  const char* name = number > 0 && number < 65 ? sigabbrev_np(number) : nullptr;
  violations_.Report(
      fmt::format("{} died of signal {}{} at {} and no fault of the run sent it: the process "
                  "crashed (or something outside the run killed it); see its log",
                  event.agent.empty() ? "a process" : event.agent, number,
                  name != nullptr ? fmt::format(" (SIG{})", name) : "", Seconds(event.t)),
      {event.seq});
}

void NoUnplannedCrash::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

}  // namespace faultline
