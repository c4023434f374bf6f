#include "sim/invariants/no_retry_storm.h"

#include <fmt/format.h>

#include <utility>

namespace faultline {

using checker::Seconds;

void NoRetryStorm::Observe(const TraceEvent& event) {
  if (event.type != "model_call" || event.agent.empty()) return;
  auto ok = event.fields.find("ok");
  if (ok == event.fields.end() || !ok->is_boolean() || ok->get<bool>()) return;
  const std::string error = checker::StrField(event.fields, "error");
  if (error.rfind("abandoned", 0) == 0) return;  // the agent stopped waiting: not a retry
  Agent& a = agents_[event.agent];
  ++a.failed;
  a.window.push_back({event.t, event.seq});
  while (!a.window.empty() && a.window.front().t <= event.t - kWindowUs) a.window.pop_front();
  if (a.window.size() > a.peak) {
    a.peak = a.window.size();
    a.peak_first = a.window.front();
    a.peak_last = a.window.back();
  }
}

void NoRetryStorm::Finish(std::vector<Violation>* out) {
  for (auto& [agent, a] : agents_) {
    if (a.peak <= kMaxFailures) continue;
    violations_.Report(
        fmt::format("{} made {} failed model calls within {} (from {} to {}; {} failed in all): "
                    "a retry storm, where at most {} a second are allowed — a failing API calls "
                    "for backing off, not retrying at once",
                    agent, a.peak, Seconds(a.peak_last.t - a.peak_first.t), Seconds(a.peak_first.t),
                    Seconds(a.peak_last.t), a.failed, kMaxFailures),
        {a.peak_first.seq, a.peak_last.seq});
  }
  violations_.MoveTo(out);
}

}  // namespace faultline
