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
// The PostgreSQL series runs the same agents on `swarm init --store
// postgres://` against a private server this process starts (and removes) for
// each benchmark run; its bound is single-row UPDATE+COMMIT transactions per
// second of one connection to the same server, measured likewise, and
// items_per_commit is again bounded by 0.5 for one agent.
//
//   build/bench/claim_throughput_bench --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/fs_util.h"
#include "coordinator/pg_conn.h"
#include "sim/pg_server.h"
#include "sim/run_containment.h"
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

// How often per second `op(0)`, `op(1)`, ... run back to back for about
// `seconds` of wall time; 0 as soon as one returns false.
double TimesPerSecond(double seconds, const std::function<bool(long)>& op) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  long times = 0;
  for (auto now = start; now < until; now = Clock::now(), ++times) {
    if (!op(times)) return 0;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return elapsed > 0 ? static_cast<double>(times) / elapsed : 0;
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
    rate = TimesPerSecond(seconds, [&](long i) {
      return swarm::fs::WriteAtomic(tmp, items + "/w" + std::to_string(i % 64) + ".json", data)
          .ok();
    });
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
// FAULTLINE_BENCH_SWARM_BEFORE names a second swarm binary, measured by
// BM_SwarmBeforeClaimComplete beside BM_SwarmClaimComplete in the same
// process (with --benchmark_enable_random_interleaving their repetitions
// alternate), so that before and after a change see the same machine.
const char* BeforeBin() {
  const char* before = std::getenv("FAULTLINE_BENCH_SWARM_BEFORE");
  return before != nullptr && *before != '\0' ? before : nullptr;
}
const Coordinator kBash{{"/bin/bash", BASH_COORDINATOR}};

std::vector<std::string> Cmd(const Coordinator& c, std::vector<std::string> rest) {
  std::vector<std::string> argv = c.prefix;
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

// Starts `agents` agents on `dir` at once, each with --exit-when-idle, and
// waits for all; adds the wall time from the first spawn to the last exit to
// *seconds. False unless every one exited 0.
bool RunAgents(const Coordinator& coord, const std::string& dir, int agents, double* seconds) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<pid_t> pids;
  for (int i = 0; i < agents; ++i) {
    pids.push_back(SpawnQuiet(
        Cmd(coord, {"agent", dir, "--id", "a" + std::to_string(i), "--exit-when-idle"})));
  }
  bool ok = true;
  for (pid_t pid : pids) {
    // Every one is waited for, also after a failure: none is left running.
    int status = 0;
    const bool exited =
        pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    ok = exited && ok;
  }
  *seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return ok;
}

// The counters of a run of `processed` items in `run_s` seconds of agents'
// wall time, against a bound summed over the iterations in `bound_sum`:
// items_per_s, `bound_name` (the bound's mean) and `ratio_name` (items per
// second of the agents' time over that mean).
void ReportAgainstBound(benchmark::State& state, int64_t processed, double run_s, double bound_sum,
                        const char* bound_name, const char* ratio_name) {
  state.counters["items_per_s"] =
      benchmark::Counter(static_cast<double>(processed), benchmark::Counter::kIsRate);
  if (processed > 0 && run_s > 0) {
    const double bound = bound_sum / static_cast<double>(state.iterations());
    state.counters[bound_name] = bound;
    state.counters[ratio_name] = static_cast<double>(processed) / run_s / bound;
  }
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
    const bool ok = RunAgents(coord, dir, agents, &run_s);
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
  ReportAgainstBound(state, processed, run_s, writes_per_s, "durable_writes_per_s",
                     "items_per_write");
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

void BM_SwarmBeforeClaimComplete(benchmark::State& state) {
  static const Coordinator before{{BeforeBin()}};
  RunThroughput(state, before, state.range(1) == kTmpfs ? 2000 : 300);
}
BENCHMARK(BM_BashFlockMvClaimComplete)->Apply(Args);

// ---------------------------------------------------------------------------
// The PostgreSQL backend: the same agents on `swarm init --store postgres://`.

// A private PostgreSQL server for one benchmark run, started as faultline
// starts one for a scenario (sim/pg_server.h): inside a RunContainment whose
// scratch directory under /dev/shm holds the cluster and its socket, so that
// the server, its backends and the directory go at the end, also when a run
// fails, and even when this process is SIGKILLed (the supervisor removes
// them). The server runs with fsync off, so it compares with the fs series on
// tmpfs, where an fsync costs nothing either.
class BenchDatabase {
 public:
  static constexpr int64_t kStartTimeoutMs = 60'000;

  BenchDatabase()
      : containment_(
            std::make_unique<faultline::RunContainment>("/dev/shm/faultline-pgbench-XXXXXX")) {}
  ~BenchDatabase() {
    if (server_ != nullptr) (void)server_->Stop(10'000, /*immediate=*/true);
    server_.reset();
    containment_->Quiesce();
    if (!containment_->scratch().empty()) {
      std::error_code ec;
      std::filesystem::remove_all(containment_->scratch(), ec);
    }
    containment_->End();
  }
  BenchDatabase(const BenchDatabase&) = delete;
  BenchDatabase& operator=(const BenchDatabase&) = delete;

  // Makes the cluster and starts the server; "" when it is up, else why not.
  std::string Start() {
    const std::string& scratch = containment_->scratch();
    if (scratch.empty()) return "cannot create a scratch directory under /dev/shm";
    auto server = faultline::PgServer::Create(scratch + "/pg", scratch + "/postgres.log");
    if (!server.ok()) return server.status().message();
    server_ = std::move(*server);
    const base::Status started = server_->Start(kStartTimeoutMs);
    return started.ok() ? "" : started.message();
  }

  // The run's scratch directory (under /dev/shm), which goes with it.
  const std::string& scratch() const { return containment_->scratch(); }

  // The server as `swarm init --store` takes it: a URL naming the socket
  // directory as its host.
  std::string Url() const {
    return fmt::format("postgresql://{}@/{}?host={}", faultline::PgServer::kUser,
                       faultline::PgServer::kDatabase, server_->socket_dir());
  }

 private:
  std::unique_ptr<faultline::RunContainment> containment_;
  std::unique_ptr<faultline::PgServer> server_;
};

// Transactions per second of one connection that each update one row of an
// item-sized table and commit (autocommit: the UPDATE is its own transaction,
// its commit record written to the WAL), for about `seconds`. A claim and a
// complete are one such transaction each at the least. 0 if a statement fails.
double UpdateCommitsPerSecond(const std::string& url, double seconds) {
  swarm::pg::Connection conn(url, 10'000);
  if (!conn.Exec("CREATE TABLE IF NOT EXISTS bound_item (id text PRIMARY KEY, status text NOT "
                 "NULL, token bigint NOT NULL, owner text NOT NULL, lease_until_us bigint NOT "
                 "NULL)")
           .ok() ||
      !conn.Exec("INSERT INTO bound_item VALUES ('w000123', 'pending', 0, '', 0) "
                 "ON CONFLICT (id) DO NOTHING")
           .ok()) {
    return 0;
  }
  return TimesPerSecond(seconds, [&](long i) {
    return conn
        .Exec(
            "UPDATE bound_item SET status = 'claimed', token = token + 1, owner = 'a7', "
            "lease_until_us = $1 WHERE id = 'w000123'",
            {swarm::pg::P(static_cast<int64_t>(1700000003000000 + i))})
        .ok();
  });
}

// Items whose status is done in `schema` (-1 if the query fails).
int64_t DoneItems(const std::string& url, const std::string& schema) {
  swarm::pg::Connection conn(url, 10'000);
  auto rows = conn.Exec("SELECT count(*) FROM " + swarm::pg::Quote(schema) +
                        ".items WHERE status = 'done'");
  return rows.ok() && rows->size() == 1 ? rows->Int(0, 0) : -1;
}

// Transactions the server has ended in its database, committed or rolled
// back (a statement outside BEGIN is one), as its statistics count them: a
// backend reports its counts at the latest when it exits. -1 if the query
// fails.
int64_t EndedTransactions(const std::string& url) {
  swarm::pg::Connection conn(url, 10'000);
  auto rows =
      conn.Exec("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
                {swarm::pg::P(faultline::PgServer::kDatabase)});
  return rows.ok() && rows->size() == 1 ? rows->Int(0, 0) : -1;
}

void BM_SwarmPostgresClaimComplete(benchmark::State& state) {
  const int agents = static_cast<int>(state.range(0));
  constexpr int kItems = 2000;  // as many as the fs series on tmpfs
  BenchDatabase db;
  if (std::string error = db.Start(); !error.empty()) {
    state.SkipWithError(("cannot start PostgreSQL: " + error).c_str());
    return;
  }
  const std::string url = db.Url();
  int64_t processed = 0, txns = 0;
  double commits_per_s = 0, run_s = 0;
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    commits_per_s += UpdateCommitsPerSecond(url, 0.5) / 2;
    // A schema a run: every iteration starts from an empty queue.
    const std::string schema = "bench" + std::to_string(++round);
    const std::string dir = fmt::format("{}/coord{}", db.scratch(), round);
    if (!RunQuiet(Cmd(kSwarm, {"init", dir, "--store", url, "--schema", schema})) ||
        !RunQuiet(Cmd(kSwarm, {"submit", dir, "--items", std::to_string(kItems)}))) {
      state.SkipWithError("swarm init --store postgres:// or submit failed");
      break;
    }
    const int64_t txns_before = EndedTransactions(url);
    state.ResumeTiming();
    const bool ok = RunAgents(kSwarm, dir, agents, &run_s);
    state.PauseTiming();
    txns += EndedTransactions(url) - txns_before;
    const int64_t done = DoneItems(url, schema);
    commits_per_s += UpdateCommitsPerSecond(url, 0.5) / 2;
    state.ResumeTiming();
    if (!ok) {
      state.SkipWithError("an agent failed");
      break;
    }
    if (done != kItems) {
      state.SkipWithError(fmt::format("{} of {} items done", done, kItems).c_str());
      break;
    }
    processed += kItems;
  }
  ReportAgainstBound(state, processed, run_s, commits_per_s, "update_commits_per_s",
                     "items_per_commit");
  if (processed > 0) {
    // What an item costs the server: its claim, its completion, and the
    // agents' other statements (heartbeats, leases, empty searches) shared out.
    state.counters["txns_per_item"] = static_cast<double>(txns) / static_cast<double>(processed);
  }
}

BENCHMARK(BM_SwarmPostgresClaimComplete)
    ->ArgName("agents")
    ->Arg(1)
    ->Arg(4)
    ->Arg(16)
    ->Arg(64)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace

int main(int argc, char** argv) {
  if (BeforeBin() != nullptr) {
    benchmark::RegisterBenchmark("BM_SwarmBeforeClaimComplete", BM_SwarmBeforeClaimComplete)
        ->Apply(Args);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
