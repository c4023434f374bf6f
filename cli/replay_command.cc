// faultline replay: a run directory again, with its resolved scenario and
// seed; a lockstep run must write the same trace. With --stop-at, --until or
// --step it stops between decisions (cli/replay_stops.h, docs/debugging.md).
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "cli/cli_support.h"
#include "cli/commands.h"
#include "cli/replay_stops.h"
#include "reports/timeline_text.h"
#include "reports/run_record.h"

namespace faultline::cli {
namespace {

struct ReplayFlags {
  std::string dir;
  std::string swarm;
  std::string stop_at;  // a trace seq
  std::string until;    // "violation" or an invariant's name
  bool step = false;
  std::string stop_report;
};

bool Stopping(const ReplayFlags& f) { return !f.stop_at.empty() || !f.until.empty() || f.step; }

// The stop plan of the flags, checked against the recorded run; prints what
// is wrong and returns nullopt.
std::optional<StopPlan> PlanStops(const ReplayFlags& f, const nlohmann::json& verdict,
                                  const ResolvedScenario& resolved) {
  if (resolved.mode != Mode::kLockstep) {
    std::fprintf(stderr,
                 "faultline replay: %s is a freerun run; --stop-at, --until and --step need a "
                 "lockstep run (freerun has no decisions to stop between)\n",
                 f.dir.c_str());
    return std::nullopt;
  }
  StopPlan plan;
  plan.step = f.step;
  plan.report_path = f.stop_report;
  plan.recorded_trace = f.dir + "/trace.jsonl";
  const uint64_t lines =
      verdict.contains("stats") ? verdict["stats"].value("events", uint64_t{0}) : 0;
  if (!f.stop_at.empty()) {
    char* end = nullptr;
    const unsigned long long seq = std::strtoull(f.stop_at.c_str(), &end, 10);
    if (*end != '\0' || f.stop_at[0] == '-') {
      std::fprintf(stderr, "faultline replay: --stop-at %s is not a trace seq (a number)\n",
                   f.stop_at.c_str());
      return std::nullopt;
    }
    plan.stop_at = seq;
    plan.why = "--stop-at " + f.stop_at;
  } else if (!f.until.empty()) {
    for (const reports::ViolationAt& v : reports::ViolationsOf(verdict)) {
      if (f.until != "violation" && f.until != v.invariant) continue;
      plan.stop_at = v.seq;
      plan.why =
          fmt::format("--until {}: {} at seq {}: {}", f.until, v.invariant, v.seq, v.message);
      break;
    }
    if (!plan.stop_at) {
      std::fprintf(stderr,
                   "faultline replay: --until %s: %s/verdict.json records no such violation with "
                   "evidence (pass \"violation\" for the first of any invariant, or an invariant "
                   "the verdict names)\n",
                   f.until.c_str(), f.dir.c_str());
      return std::nullopt;
    }
  }
  if (plan.stop_at && lines > 0 && *plan.stop_at >= lines) {
    std::fprintf(stderr,
                 "faultline replay: seq %llu is past the recorded trace (seq 0 to %llu); pick a "
                 "seq from %s/trace.jsonl or the verdict\n",
                 static_cast<unsigned long long>(*plan.stop_at),
                 static_cast<unsigned long long>(lines - 1), f.dir.c_str());
    return std::nullopt;
  }
  return plan;
}

int Replay(const ReplayFlags& f) {
  const std::string& dir = f.dir;
  if (!f.stop_at.empty() && !f.until.empty()) {
    std::fprintf(stderr, "faultline replay: give --stop-at or --until, not both\n");
    return kExitUsage;
  }
  reports::RunDir run;
  std::string error;
  if (!reports::LoadRunDir(dir, &run, &error) || !run.verdict.contains("trace_sha256")) {
    std::fprintf(stderr, "faultline replay: %s; pass a directory written by faultline run\n",
                 error.empty() ? (dir + "/verdict.json has no trace_sha256").c_str()
                               : error.c_str());
    return kExitUsage;
  }
  const nlohmann::json& verdict = run.verdict;
  Catalog catalog = MakeCatalog();
  Scenario scenario;
  if (!Load(dir + "/scenario.resolved.json", "", catalog, &scenario)) return kExitUsage;
  ResolvedScenario resolved = Resolve(scenario, catalog, verdict["seed"].get<uint64_t>());
  RunOptions options = MakeRunOptions(dir + "/replay", f.swarm);
  std::unique_ptr<ReplayStops> stops;
  if (Stopping(f)) {
    std::optional<StopPlan> plan = PlanStops(f, verdict, resolved);
    if (!plan) return kExitUsage;
    stops = std::make_unique<ReplayStops>(std::move(*plan));
    options.stop = stops.get();
    options.progress = false;
  }
  RunReport report = RunScenario(resolved, catalog, options);
  AfterRun(report, resolved.name, nullptr);
  // With --stop-report -, stdout carries the stop reports as JSON lines only.
  std::FILE* text = f.stop_report == "-" ? stderr : stdout;
  std::fputs(report.summary.c_str(), text);
  if (report.exit_code == kExitHarness || report.exit_code == kExitInterrupted) {
    return report.exit_code;
  }
  const std::string was = verdict["trace_sha256"].get<std::string>();
  const std::string now = report.verdict.value("trace_sha256", "");
  if (resolved.mode != Mode::kLockstep) {
    std::fprintf(text,
                 "replay: freerun run re-run (reproducible in distribution only; recorded "
                 "verdict: %s, now: %s)\n",
                 verdict.value("ok", false) ? "ok" : "failed",
                 report.verdict.value("ok", false) ? "ok" : "failed");
    return report.exit_code;
  }
  if (was != now) {
    std::fprintf(text,
                 "replay: trace differs from the recorded run (%s, now %s): the run is not "
                 "reproducible; see docs/determinism.md\n",
                 was.c_str(), now.c_str());
    return kExitHarness;
  }
  std::fprintf(text, "replay: identical trace (sha256 %s)\n", now.c_str());
  return report.exit_code;
}

}  // namespace

base::Runner SetupReplay(CLI::App* app) {
  auto f = std::make_shared<ReplayFlags>();
  app->footer(
      "\nStopping a lockstep replay (docs/debugging.md). At a stop every live process is\n"
      "parked on its control channel; for each, faultline prints its role, pid, where it is\n"
      "parked (yield point and item, sleep, hello), the grants the history says it holds, the\n"
      "locks the kernel says it holds, and `gdb -p PID`; then the coordination directory.\n"
      "Resume with `kill -USR1 <faultline pid>` (SIGUSR2: run to the end without stopping\n"
      "again) or, on a terminal, Enter (c Enter: to the end; s Enter: print the stop again).\n"
      "Detach debuggers before resuming: the run waits while one holds a process stopped.\n\n"
      "  faultline replay out/mutant-no-fencing-2 --until violation\n"
      "  faultline replay out/mutant-no-fencing-2 --stop-at 40 --step\n"
      "  faultline replay RUN_DIR --stop-at 45 --stop-report stop.json   # for scripts\n\n"
      "A stop comes after the step that wrote SEQ: that line is in the trace and on disk, the\n"
      "process that wrote it is parked at its next point. To see the moment before, stop at an\n"
      "earlier seq and --step. The run then goes on and ends with the usual trace-hash check.");
  app->add_option("RUN_DIR", f->dir, "A run directory written by faultline run")->required();
  app->add_option("--swarm", f->swarm, "The coordinator binary (default: next to faultline)");
  app->add_option("--stop-at", f->stop_at,
                  "Stop once the trace line SEQ is written (a seq of trace.jsonl, or of a "
                  "violation's evidence in verdict.json)");
  app->add_option("--until", f->until,
                  "Stop at the first violation: \"violation\" (any invariant) or an invariant's "
                  "name; its seq is the last of its evidence in the recorded verdict");
  app->add_flag("--step", f->step,
                "Stop at every scheduling decision (after --stop-at/--until's stop, else from "
                "the start) and print what ran");
  app->add_option("--stop-report", f->stop_report,
                  "Also write each stop as JSON to FILE (replaced atomically at every stop); "
                  "\"-\": JSON lines on stdout instead of the text");
  return [f] { return Replay(*f); };
}

}  // namespace faultline::cli
