// Claim+complete throughput of the swarm coordinator against the bash
// flock+mv baseline (bench/bash_coordinator.sh), side by side in one run.
//
// Each iteration: a fresh directory, N items submitted (untimed), K agent
// processes started at once with --exit-when-idle, timed from the first
// spawn to the last exit. Reported: items per second (wall clock), and
// items_per_write: that rate over the atomic durable writes per second
// (swarm's fs::WriteAtomic: temp file, fsync, rename, fsync of the directory)
// one process makes on the same file system, measured in this process on
// either side of each run. A claim and a complete are two transitions: at
// one write each, the bound is 0.5.
//
//   build/bench/claim_throughput_bench --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/fs_util.h"
#include "tests/support/subprocess.h"

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

// Atomic durable writes per second of an item-sized state file, for about
// `seconds`, in a fresh directory under `root`. 0 if a write fails.
double DurableWritesPerSecond(const std::string& root, double seconds) {
  std::string dir = root + "/faultline-bound-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) return 0;
  const std::string tmp = dir + "/tmp", items = dir + "/items";
  double rate = 0;
  if (swarm::fs::MakeDir(tmp).ok() && swarm::fs::MakeDir(items).ok()) {
    const std::string data =
        R"({"attempts":1,"id":"w000123","lease_until_us":1700000003000000,"owner":"a7",)"
        R"("payload":"","reason":"","skill":"","status":"claimed","token":1})";
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    const auto until = start + std::chrono::duration<double>(seconds);
    long writes = 0;
    bool ok = true;
    for (auto now = start; now < until && ok; now = Clock::now(), ++writes) {
      ok = swarm::fs::WriteAtomic(tmp, items + "/w" + std::to_string(writes % 64) + ".json", data)
               .ok();
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (ok && elapsed > 0) rate = static_cast<double>(writes) / elapsed;
  }
  std::filesystem::remove_all(dir);
  return rate;
}

// One coordinator under test: how to invoke it.
struct Coordinator {
  std::vector<std::string> prefix;  // argv before the subcommand
};
// FAULTLINE_BENCH_SWARM names another swarm binary to measure (a build of
// the coordinator before a change, say), so that two builds can be compared
// side by side on the same machine; by default, the one of this build.
const char* SwarmBin() {
  const char* other = std::getenv("FAULTLINE_BENCH_SWARM");
  return other != nullptr && *other != '\0' ? other : SWARM_BIN;
}
const Coordinator kSwarm{{SwarmBin()}};
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
  double writes_per_s = 0, run_s = 0;
  for (auto _ : state) {
    state.PauseTiming();
    writes_per_s += DurableWritesPerSecond(ScratchRoot(storage), 0.5) / 2;
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
    const auto started = std::chrono::steady_clock::now();
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
    run_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    state.PauseTiming();
    std::filesystem::remove_all(root);
    writes_per_s += DurableWritesPerSecond(ScratchRoot(storage), 0.5) / 2;
    state.ResumeTiming();
    if (!ok) {
      state.SkipWithError("an agent failed");
      break;
    }
    processed += items;
  }
  state.counters["items_per_s"] =
      benchmark::Counter(static_cast<double>(processed), benchmark::Counter::kIsRate);
  if (processed > 0 && run_s > 0) {
    const double n = static_cast<double>(state.iterations());
    state.counters["durable_writes_per_s"] = writes_per_s / n;
    state.counters["items_per_write"] = static_cast<double>(processed) / run_s / (writes_per_s / n);
  }
}

void BM_SwarmClaimComplete(benchmark::State& state) {
  // fsync costs far more on a real disk; fewer items keep an iteration short.
  RunThroughput(state, kSwarm, state.range(1) == kTmpfs ? 2000 : 300);
}

void BM_BashFlockMvClaimComplete(benchmark::State& state) { RunThroughput(state, kBash, 300); }

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
