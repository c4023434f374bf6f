// Claim+complete throughput of the swarm coordinator against the bash
// flock+mv baseline (bench/bash_coordinator.sh), side by side in one run.
//
// Each iteration: a fresh directory, N items submitted (untimed), K agent
// processes started at once with --exit-when-idle, timed from the first
// spawn to the last exit. Reported: items per second (wall clock).
//
//   build/bench/claim_throughput_bench --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include "tests/support/subprocess.h"
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {

enum Storage { kTmpfs = 0, kDisk = 1 };

// tmpfs: /dev/shm. Disk: a directory next to the benchmark binary (the build
// tree), where fsync reaches the device.
std::string ScratchRoot(Storage storage) {
  if (storage == kTmpfs) return "/dev/shm";
  return std::filesystem::canonical("/proc/self/exe").parent_path().string();
}

// Output goes nowhere: a benchmark measures, it does not log.
pid_t SpawnQuiet(const std::vector<std::string>& argv) {
  return faultline::testing::Spawn(argv, "/dev/null");
}

bool RunQuiet(const std::vector<std::string>& argv) {
  pid_t pid = SpawnQuiet(argv);
  int status = 0;
  return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

// One coordinator under test: how to invoke it.
struct Coordinator {
  std::vector<std::string> prefix;  // argv before the subcommand
};
const Coordinator kSwarm{{SWARM_BIN}};
const Coordinator kBash{{"/bin/bash", BASH_COORDINATOR}};

std::vector<std::string> Cmd(const Coordinator& c, std::vector<std::string> rest) {
  std::vector<std::string> argv = c.prefix;
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

void RunThroughput(benchmark::State& state, const Coordinator& coord, int items) {
  const int agents = static_cast<int>(state.range(0));
  const auto storage = static_cast<Storage>(state.range(1));
  int64_t processed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string root = ScratchRoot(storage) + "/faultline-bench-XXXXXX";
    if (mkdtemp(root.data()) == nullptr) {
      state.SkipWithError("mkdtemp failed");
      break;
    }
    std::string dir = root + "/coord";
    if (!RunQuiet(Cmd(coord, {"init", dir})) ||
        !RunQuiet(Cmd(coord, {"submit", dir, "--items", std::to_string(items)}))) {
      state.SkipWithError("init/submit failed");
      break;
    }
    state.ResumeTiming();
    std::vector<pid_t> pids;
    for (int i = 0; i < agents; ++i) {
      pids.push_back(SpawnQuiet(
          Cmd(coord, {"agent", dir, "--id", "a" + std::to_string(i), "--exit-when-idle"})));
    }
    bool ok = true;
    for (pid_t pid : pids) {
      int status = 0;
      ok = ok && pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
    }
    state.PauseTiming();
    std::filesystem::remove_all(root);
    state.ResumeTiming();
    if (!ok) {
      state.SkipWithError("an agent failed");
      break;
    }
    processed += items;
  }
  state.counters["items_per_s"] =
      benchmark::Counter(static_cast<double>(processed), benchmark::Counter::kIsRate);
}

void BM_SwarmClaimComplete(benchmark::State& state) {
  // fsync costs far more on a real disk; fewer items keep an iteration short.
  RunThroughput(state, kSwarm, state.range(1) == kTmpfs ? 2000 : 300);
}

void BM_BashFlockMvClaimComplete(benchmark::State& state) {
  RunThroughput(state, kBash, 300);
}

void Args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"agents", "disk"});
  for (int storage : {kTmpfs, kDisk}) {
    for (int agents : {1, 4, 16, 64}) b->Args({agents, storage});
  }
  b->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(1);
}

BENCHMARK(BM_SwarmClaimComplete)->Apply(Args);
BENCHMARK(BM_BashFlockMvClaimComplete)->Apply(Args);

}  // namespace

BENCHMARK_MAIN();
