// What lockstep inside unmodified programs costs (docs/interposition.md).
//
// BM_InterposedSteps: one bash loop of file checks on the coordination
//   directory, each check one step (park, go, run to the next park):
//   interposed steps per second.
// BM_ClaimSideBySide: one `queue.sh claim` as "interleave": "commands" runs
//   it (a plain command, one step for all of it) and as "syscalls" does
//   (every file-system call of bash, jq, flock, mv and date a step), both in
//   each iteration: the cost of one claim each way, their ratio, and the
//   interposed steps per second of this shell SUT.
//
//   build/bin/interpose_bench --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true
// and quote the medians (docs/interposition.md).
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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

// Fresh queue with one pending item; false on failure.
bool FreshQueue(const std::string& queue, const std::string& dir) {
  std::filesystem::remove_all(dir);
  return system((queue + " init " + dir + " && " + queue + " submit " + dir + " 1 >/dev/null")
                    .c_str()) == 0;
}

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// One `queue.sh claim` (1 pending item) run both ways in every iteration,
// in alternating order, so that both see the same machine load: as the
// command adapter runs it with "interleave": "commands" (one process tree
// running freely) and with "syscalls" (every process under the library,
// every file-system call on the queue a step, one process at a time on a
// seeded random schedule). Both are `bash -c 'queue.sh claim ... >/dev/null'`
// started by fork and exec; the interposed one also pays for adopting the
// command and settling after each step, as the engine does. Counters (per
// repetition; take the medians of --benchmark_repetitions=3):
//   commands_ms, syscalls_ms  mean wall time of one claim each way
//   ratio                     syscalls_ms / commands_ms
//   steps_per_claim           interposed steps one claim takes
//   steps_per_second          interposed steps per second of the claim's
//                             wall time (a shell SUT's own step rate)
void BM_ClaimSideBySide(benchmark::State& state) {
  const std::string queue = std::string(SUT_DIR) + "/queue.sh";
  faultline::testing::TempDir tmp;
  const std::string dir = tmp / "q";
  const std::vector<std::string> argv = {"/bin/bash", "-c",
                                         queue + " claim " + dir + " a1 1 >/dev/null"};
  double commands_ms = 0, syscalls_ms = 0;
  size_t steps = 0;
  bool interposed_first = false;
  for (auto _ : state) {
    for (int half = 0; half < 2; ++half) {
      const bool interposed = (half == 0) == interposed_first;
      if (!FreshQueue(queue, dir)) {
        state.SkipWithError("queue.sh init failed");
        return;
      }
      std::unique_ptr<InterposedProcesses> procs;
      if (interposed && (procs = Listen(dir, state)) == nullptr) return;
      const auto start = std::chrono::steady_clock::now();
      if (interposed) {
        pid_t pid = SpawnControlled(argv, dir, "/dev/null", procs->Environment());
        if (!procs->Adopt(pid).ok()) {
          state.SkipWithError("adopt failed");
          return;
        }
        auto r = RunSchedule(*procs, 1 + state.iterations());
        if (!r.status.ok() || r.deadlock) {
          state.SkipWithError(r.status.ok() ? "deadlock" : r.status.ToString().c_str());
          return;
        }
        steps += r.steps;
        syscalls_ms += MillisSince(start);
      } else {
        pid_t pid = SpawnControlled(argv, dir, "/dev/null", {});
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
          state.SkipWithError("claim failed");
          return;
        }
        commands_ms += MillisSince(start);
      }
    }
    interposed_first = !interposed_first;
  }
  const double n = static_cast<double>(std::max<int64_t>(1, state.iterations()));
  state.counters["commands_ms"] = commands_ms / n;
  state.counters["syscalls_ms"] = syscalls_ms / n;
  state.counters["ratio"] = commands_ms > 0 ? syscalls_ms / commands_ms : 0;
  state.counters["steps_per_claim"] = static_cast<double>(steps) / n;
  state.counters["steps_per_second"] =
      syscalls_ms > 0 ? static_cast<double>(steps) / (syscalls_ms / 1000) : 0;
}
BENCHMARK(BM_ClaimSideBySide)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(20);

}  // namespace

BENCHMARK_MAIN();
