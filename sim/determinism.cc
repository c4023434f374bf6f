#include "sim/determinism.h"

#include <fmt/format.h>

namespace faultline {

std::string TraceIdentity(const nlohmann::json& verdict, bool with_differential) {
  if (!verdict.is_object()) return "";
  std::string id = verdict.value("trace_sha256", "");
  if (with_differential) {
    const auto d = verdict.find("differential");
    id += "+" + (d != verdict.end() && d->is_object() ? d->value("trace_sha256", "") : "");
  }
  return id;
}

DeterminismCheck CheckDeterminism(const ResolvedScenario& scenario, const RunReport& first,
                                  const std::function<RunReport()>& run_again) {
  DeterminismCheck check;
  check.exit_code = first.exit_code;
  if (scenario.mode != Mode::kLockstep) {
    check.result = DeterminismCheck::Result::kSkipped;
    check.message =
        "  --check-determinism: skipped, freerun runs are reproducible in distribution only\n";
    return check;
  }
  const RunReport again = run_again();
  // Both runs must have the counterpart for its trace to count: a second run
  // that lost it differs already in its own trace_sha256.
  const bool differential = first.verdict.is_object() && first.verdict.contains("differential") &&
                            again.verdict.is_object() && again.verdict.contains("differential");
  check.first = TraceIdentity(first.verdict, differential);
  check.second = TraceIdentity(again.verdict, differential);
  if (check.first != check.second) {
    check.result = DeterminismCheck::Result::kDiffer;
    check.message = fmt::format(
        "  --check-determinism: FAILED: trace_sha256 {} then {} ({} vs {}); see "
        "docs/determinism.md\n",
        check.first, check.second, first.run_dir + "/trace.jsonl", again.run_dir + "/trace.jsonl");
    check.exit_code = kExitHarness;
    return check;
  }
  check.result = DeterminismCheck::Result::kSame;
  check.message = fmt::format("  --check-determinism: same trace twice ({})\n", check.first);
  return check;
}

}  // namespace faultline
