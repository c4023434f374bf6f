#include "sim/invariants/no_retry_storm.h"

#include <fmt/format.h>

#include <utility>

#include "sim/option_check.h"

namespace faultline {

using checker::Seconds;

std::vector<OptionSpec> NoRetryStorm::Options() {
  OptionSpec calls;
  calls.name = "max_failed_calls";
  calls.default_value = 10;
  calls.min = 1;
  calls.help = "failed model calls one agent may make within window_ms";
  OptionSpec window;
  window.name = "window_ms";
  window.default_value = 1000;
  window.min = 1;
  window.help = "the length of the window, in run time";
  return {calls, window};
}

NoRetryStorm::NoRetryStorm() : NoRetryStorm(DefaultOptions(Options())) {}

NoRetryStorm::NoRetryStorm(const nlohmann::json& options)
    : max_failures_(options.at("max_failed_calls").get<size_t>()),
      window_us_(options.at("window_ms").get<int64_t>() * 1000) {}

void NoRetryStorm::Observe(const TraceEvent& event) {
  if (event.type != "model_call" || event.agent.empty()) return;
  auto ok = event.fields.find("ok");
  if (ok == event.fields.end() || !ok->is_boolean() || ok->get<bool>()) return;
  const std::string error = checker::StrField(event.fields, "error");
  if (error.rfind("abandoned", 0) == 0) return;  // the agent stopped waiting: not a retry
  Agent& a = agents_[event.agent];
  ++a.failed;
  a.window.push_back({event.t, event.seq});
  while (!a.window.empty() && a.window.front().t <= event.t - window_us_) a.window.pop_front();
  if (a.window.size() > a.peak) {
    a.peak = a.window.size();
    a.peak_first = a.window.front();
    a.peak_last = a.window.back();
  }
}

void NoRetryStorm::Finish(std::vector<Violation>* out) {
  for (auto& [agent, a] : agents_) {
    if (a.peak <= max_failures_) continue;
    violations_.Report(
        fmt::format("{} made {} failed model calls within {} (from {} to {}; {} failed in all): "
                    "a retry storm, where at most {} {} are allowed — a failing API calls "
                    "for backing off, not retrying at once",
                    agent, a.peak, Seconds(a.peak_last.t - a.peak_first.t), Seconds(a.peak_first.t),
                    Seconds(a.peak_last.t), a.failed, max_failures_,
                    window_us_ == 1'000'000 ? "a second" : "per " + Seconds(window_us_)),
        {a.peak_first.seq, a.peak_last.seq});
  }
  violations_.MoveTo(out);
}

}  // namespace faultline
