#include "sim/invariants/sut_responsive.h"

#include <fmt/format.h>

namespace faultline {

using checker::Seconds;
using checker::StrField;

void SutResponsive::Observe(const TraceEvent& event) {
  if (event.type != "sut_command_failed") return;
  const std::string& op = StrField(event.fields, "op");
  const std::string& how = StrField(event.fields, "how");
  const std::string& first_line = StrField(event.fields, "first_line");
  const std::string who = event.agent.empty() ? event.proc : event.agent;
  violations_.Report(
      fmt::format("the SUT's {} command{} run by {} at {} {}{}", op,
                  event.item.empty() ? "" : " for " + event.item, who, Seconds(event.t), how,
                  first_line.empty() ? "" : " (it said: " + first_line + ")"),
      {event.seq});
}

void SutResponsive::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

}  // namespace faultline
