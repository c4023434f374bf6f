// What telemetry costs, side by side in one run (docs/telemetry.md):
//
//   BM_ExporterToSink        spans/s through the exporter (live-file append, OTLP
//                            encoding, one POST per batch) into faultline sink
//   BM_SinkIngest            spans/s the sink takes from pre-encoded batches
//   BM_ClaimThroughput       claim+complete items/s of 4 real swarm agents on tmpfs:
//                            telemetry off / on with a collector / on with it down
//   BM_SpoolGrowthPerOutageMinute   spans and bytes one agent spools per minute
//                            of collector outage (simulated clock: items of 100 ms,
//                            heartbeats every 500 ms); at full speed it is
//                            BM_ClaimThroughput's span rate times 60
//
//   build/bench/telemetry_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true      (medians are what to quote)
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/agent.h"
#include "coordinator/clock.h"
#include "coordinator/fs_store.h"
#include "coordinator/telemetry.h"
#include "coordinator/telemetry_http.h"
#include "sim/sink.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace {

using faultline::CollectorMode;
using faultline::SinkServer;
using faultline::testing::TempDir;
using namespace swarm;
using namespace swarm::telemetry;

Config ConfigFor(int port, size_t batch) {
  Config c;
  c.enabled = true;
  c.traces_url = "http://127.0.0.1:" + std::to_string(port) + "/v1/traces";
  c.timeout_ms = 2000;
  c.batch_spans = batch;
  c.schedule_delay_ms = 1000;
  return c;
}

std::unique_ptr<SinkServer> StartSink(const std::string& record) {
  auto sink = SinkServer::Start("127.0.0.1", 0, record, CollectorMode::kUp);
  return sink.ok() ? std::move(*sink) : nullptr;
}

// A free port nobody listens on: exports to it are refused at once.
int DeadPort() {
  auto sink = StartSink("/dev/null");
  return sink ? sink->port() : 1;
}

void BM_ExporterToSink(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  TempDir tmp;
  auto sink = StartSink(tmp / "record.jsonl");
  if (!sink) return state.SkipWithError("cannot start the sink");
  FakeClock clock;
  NullProbe probe;
  Config c = ConfigFor(sink->port(), batch);
  auto t = AgentTelemetry::Open(c, MakeHttpTransport(c), tmp.path(), "a1", 1, &clock, &probe);
  if (!t.ok()) return state.SkipWithError(t.status().ToString().c_str());
  int64_t spans = 0;
  for (auto _ : state) {
    const int64_t start = clock.NowMicros();
    clock.Advance(10);
    (*t)->Record("claim_work", start,
                 {{"swarm.item", "w000123"}, {"swarm.token", 3}, {"swarm.attempt", 1}}, {},
                 "w000123/3");
    ++spans;
  }
  (*t)->Shutdown();
  state.counters["spans_per_s"] =
      benchmark::Counter(static_cast<double>(spans), benchmark::Counter::kIsRate);
  state.counters["sink_recorded"] = static_cast<double>(sink->counts().spans_recorded);
}

void BM_SinkIngest(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  TempDir tmp;
  auto sink = StartSink(tmp / "record.jsonl");
  if (!sink) return state.SkipWithError("cannot start the sink");
  Config c = ConfigFor(sink->port(), static_cast<size_t>(batch));
  auto transport = MakeHttpTransport(c);
  uint64_t next = 1;
  int64_t spans = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<Span> spans_of_batch;
    for (int i = 0; i < batch; ++i, ++next) {
      Span s;
      s.trace_id = Hex128(7, next);
      s.span_id = Hex64(next);
      s.name = "heartbeat";
      s.start_us = 1;
      s.end_us = 2;
      spans_of_batch.push_back(std::move(s));
    }
    const std::string body = EncodeOtlpJson(spans_of_batch, {"swarm", "a1"});
    state.ResumeTiming();
    if (transport->Post(body).kind != PostOutcome::Kind::kAccepted) {
      return state.SkipWithError("the sink did not accept a batch");
    }
    spans += batch;
  }
  state.counters["spans_per_s"] =
      benchmark::Counter(static_cast<double>(spans), benchmark::Counter::kIsRate);
}

enum Telemetry { kOff = 0, kCollectorUp = 1, kCollectorDown = 2 };

bool RunQuiet(const std::vector<std::string>& argv) {
  pid_t pid = faultline::testing::Spawn(argv, "/dev/null");
  int status = 0;
  return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

// 4 swarm agent processes work off 2000 items on tmpfs (no work time).
void BM_ClaimThroughput(benchmark::State& state) {
  constexpr int kAgents = 4;
  constexpr int kItems = 2000;
  const auto mode = static_cast<Telemetry>(state.range(0));
  TempDir sink_dir;
  std::unique_ptr<SinkServer> sink;
  unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (mode != kOff) {
    int port = DeadPort();
    if (mode == kCollectorUp) {
      sink = StartSink(sink_dir / "record.jsonl");
      if (!sink) return state.SkipWithError("cannot start the sink");
      port = sink->port();
    }
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", ("http://127.0.0.1:" + std::to_string(port)).c_str(), 1);
  }
  int64_t processed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    TempDir tmp;
    const std::string dir = tmp / "coord";
    if (!RunQuiet({SWARM_BIN, "init", dir}) ||
        !RunQuiet({SWARM_BIN, "submit", dir, "--items", std::to_string(kItems)})) {
      return state.SkipWithError("init/submit failed");
    }
    state.ResumeTiming();
    std::vector<pid_t> pids;
    for (int i = 0; i < kAgents; ++i) {
      pids.push_back(faultline::testing::Spawn(
          {SWARM_BIN, "agent", dir, "--id", "a" + std::to_string(i), "--exit-when-idle"},
          "/dev/null"));
    }
    bool ok = true;
    for (pid_t pid : pids) {
      int status = 0;
      ok = ok && pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
    }
    if (!ok) return state.SkipWithError("an agent failed");
    processed += kItems;
  }
  unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  state.counters["items_per_s"] =
      benchmark::Counter(static_cast<double>(processed), benchmark::Counter::kIsRate);
}

// One agent works through a minute of simulated time while the collector is
// down; what its spool holds at the end is the growth per minute of outage.
void BM_SpoolGrowthPerOutageMinute(benchmark::State& state) {
  const int64_t work_ms = state.range(0);
  for (auto _ : state) {
    TempDir tmp;
    const std::string dir = tmp / "coord";
    if (!FsStore::Init(dir, ClusterConfig{}).ok()) return state.SkipWithError("init failed");
    FakeClock clock;
    NullProbe probe;
    auto store = FsStore::Open(dir, &clock, &probe);
    if (!store.ok()) return state.SkipWithError("open failed");
    const int items = static_cast<int>(60'000 / work_ms);  // a minute of work
    std::vector<std::pair<std::string, std::string>> batch;
    for (int i = 0; i < items; ++i) batch.emplace_back("w" + std::to_string(i), "");
    if (!(*store)->Submit(batch).ok()) return state.SkipWithError("submit failed");
    Config c = ConfigFor(DeadPort(), 64);
    c.spool_max_spans = 1u << 30;
    c.spool_max_bytes = size_t{1} << 40;
    auto t = AgentTelemetry::Open(c, MakeHttpTransport(c), dir, "a1", 1, &clock, &probe);
    if (!t.ok()) return state.SkipWithError(t.status().ToString().c_str());
    AgentOptions options;
    options.id = "a1";
    options.work_min_ms = options.work_max_ms = work_ms;
    options.exit_when_idle = true;
    std::atomic<bool> stop{false};
    const int64_t began = clock.NowMicros();
    Agent agent(store->get(), &clock, &probe, options, &stop, t->get());
    agent.Run();
    const double minutes = static_cast<double>(clock.NowMicros() - began) / 60e6;
    state.counters["spool_spans_per_min"] =
        static_cast<double>((*t)->spool().spans()) / std::max(minutes, 1e-9);
    state.counters["spool_bytes_per_min"] =
        static_cast<double>((*t)->spool().bytes()) / std::max(minutes, 1e-9);
    state.counters["sim_minutes"] = minutes;
  }
}

BENCHMARK(BM_ExporterToSink)->Arg(64)->Arg(512)->ArgName("batch")->UseRealTime();
BENCHMARK(BM_SinkIngest)->Arg(64)->Arg(512)->ArgName("batch")->UseRealTime();
BENCHMARK(BM_ClaimThroughput)
    ->ArgName("telemetry_off0_up1_down2")
    ->Arg(kOff)
    ->Arg(kCollectorUp)
    ->Arg(kCollectorDown)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK(BM_SpoolGrowthPerOutageMinute)
    ->ArgName("work_ms")
    ->Arg(100)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
