// What lockstep inside unmodified programs costs (docs/interposition.md).
//
// BM_InterposedSteps: one bash loop of file checks on the coordination
//   directory, each check one step (park, go, run to the next park):
//   interposed steps per second.
// BM_ClaimCommand/0: one `queue.sh claim` run as a plain command (how the
//   command adapter runs it today: one step for the whole command).
// BM_ClaimCommand/1: the same claim under interposition, every file-system
//   call of bash, jq, flock, mv and date a step; reports steps per claim.
//
//   build/bin/interpose_bench --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/interpose/interposed_run.h"
#include "tests/support/temp_dir.h"

namespace {

using faultline::InterposedProcesses;
using faultline::testing::RunSchedule;
using faultline::testing::SpawnControlled;

std::unique_ptr<InterposedProcesses> Listen(const std::string& dir, benchmark::State& state) {
  InterposedProcesses::Options o;
  o.library = INTERPOSE_LIB;
  o.coordination_dir = dir;
  auto procs = InterposedProcesses::Listen(o);
  if (!procs.ok()) state.SkipWithError(procs.status().ToString().c_str());
  return procs.ok() ? std::move(*procs) : nullptr;
}

// Runs `script` under control to its end; returns the steps taken (0 on error).
size_t RunControlled(const std::string& script, const std::string& dir, benchmark::State& state) {
  auto procs = Listen(dir, state);
  if (procs == nullptr) return 0;
  pid_t pid = SpawnControlled({"/bin/bash", "-c", script}, dir, "/dev/null", procs->Environment());
  if (!procs->Adopt(pid).ok()) {
    state.SkipWithError("adopt failed");
    return 0;
  }
  auto r = RunSchedule(*procs, 1);
  if (!r.status.ok() || r.deadlock) {
    state.SkipWithError(r.status.ok() ? "deadlock" : r.status.ToString().c_str());
    return 0;
  }
  return r.steps;
}

void BM_InterposedSteps(benchmark::State& state) {
  faultline::testing::TempDir tmp;
  const std::string script = "for ((i = 0; i < 2000; i++)); do [ -e f ]; done";
  size_t steps = 0;
  for (auto _ : state) steps += RunControlled(script, tmp.path(), state);
  state.counters["steps_per_second"] =
      benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kIsRate);
  state.counters["steps_per_run"] =
      static_cast<double>(steps) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
}
BENCHMARK(BM_InterposedSteps)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ClaimCommand(benchmark::State& state) {
  const bool interposed = state.range(0) == 1;
  const std::string queue = std::string(SUT_DIR) + "/queue.sh";
  faultline::testing::TempDir tmp;
  const std::string dir = tmp / "q";
  size_t steps = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(dir);
    if (system((queue + " init " + dir + " && " + queue + " submit " + dir + " 1 >/dev/null")
                   .c_str()) != 0) {
      state.SkipWithError("init failed");
      break;
    }
    state.ResumeTiming();
    const std::string claim = queue + " claim " + dir + " a1 1";
    if (interposed) {
      steps += RunControlled(claim + " >/dev/null", dir, state);
    } else if (system((claim + " >/dev/null").c_str()) != 0) {
      state.SkipWithError("claim failed");
    }
  }
  if (interposed) {
    state.counters["steps_per_claim"] =
        static_cast<double>(steps) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
  }
}
BENCHMARK(BM_ClaimCommand)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
