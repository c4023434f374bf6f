// The simulator's own speed (DESIGN §10), measured on whole runs of the real
// coordinator:
//   BM_LockstepSteps/agents:N   steps (process resumptions) per second, and
//                               steps_per_rt: that rate over the socket round
//                               trips per second to N processes in turn,
//                               measured in the same process around each run
//                               (bench/bounds.h; bound 1.0)
//   BM_SpawnAndRegister/256     256 agents started, registered, and exited
//   BM_SimTimeSpeedup           64 agents, 2,000 items, 10 simulated minutes
//                               of leases and heartbeats: simulated / wall time
// Lockstep runs are measured with each CPU placement (sim/lockstep_cpu.h),
// side by side in one process so that all see the same machine: pin:0 the
// default (never placed, as lockstep always ran), pin:1 "auto" (measure and
// choose), pin:2 on one CPU; and with the heartbeat's own-state yield points
// passed (pass:1, "scheduler": {"own_state": "pass"}, the default) or decided
// like every other point (pass:0, "park", as lockstep ran before), so that
// before and after are measured in one run.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>

#include "bench/bounds.h"
#include "faults/registry.h"
#include "sim/invariants/registry.h"
#include "sim/lockstep_cpu.h"
#include "sim/run.h"
#include "sim/sut/systems.h"

namespace faultline {
namespace {

struct Outcome {
  RunReport report;
  double steps = 0, sim_ms = 0, startup_ms = 0, loop_ms = 0;
};

// The placement the benchmark's argument names (the engine reads the variable).
void SetPin(int64_t pin) {
  if (pin == 0) {
    unsetenv(kLockstepPinEnv);
  } else {
    setenv(kLockstepPinEnv, pin == 1 ? "auto" : "1", 1);
  }
}

Outcome RunOnce(const ResolvedScenario& s, benchmark::State& state) {
  static const Catalog catalog{faults::AllFaults(), CoreInvariants(), &sut::Systems()};
  RunOptions o;
  o.out_dir = "/dev/shm/faultline-bench-out";
  o.swarm_bin = SWARM_BIN;
  Outcome out{RunScenario(s, catalog, o)};
  if (out.report.exit_code != kExitPass) state.SkipWithError(out.report.summary.c_str());
  out.steps = out.report.verdict["stats"]["steps"].get<double>();
  out.sim_ms = out.report.verdict["stats"]["sim_ms"].get<double>();
  out.startup_ms = out.report.verdict["stats"]["startup_ms"].get<double>();
  out.loop_ms = out.report.verdict["stats"]["loop_ms"].get<double>();
  return out;
}

ResolvedScenario Base(int agents, int items) {
  ResolvedScenario s;
  s.name = "bench";
  s.agents = agents;
  s.items = items;
  s.invariants = {"single_owner", "exactly_once_effect", "no_lost_work"};
  s.wall_ms = 600'000;
  return s;
}

void BM_LockstepSteps(benchmark::State& state) {
  const int agents = static_cast<int>(state.range(0));
  SetPin(state.range(1));
  ResolvedScenario s = Base(agents, 2000);
  s.own_state = state.range(2) != 0 ? "pass" : "park";
  s.work_min_ms = 1;
  s.work_max_ms = 5;
  double steps = 0, loop_ms = 0, round_trips = 0;
  for (auto _ : state) {
    // The bound is measured on either side of the run, so that both see the
    // same load on the machine.
    state.PauseTiming();
    round_trips += bench::SocketRoundTripsPerSecond(0.5, agents) / 2;
    state.ResumeTiming();
    Outcome o = RunOnce(s, state);
    steps += o.steps;
    loop_ms += o.loop_ms;
    state.PauseTiming();
    round_trips += bench::SocketRoundTripsPerSecond(0.5, agents) / 2;
    state.ResumeTiming();
  }
  // Steps per second of the scheduling loop alone (start-up and the final
  // state read are measured elsewhere).
  const double n = static_cast<double>(state.iterations());
  state.counters["steps"] = steps / n;
  state.counters["loop_steps_per_s"] = steps / (loop_ms / 1000.0);
  state.counters["socket_rt_per_s"] = round_trips / n;
  state.counters["steps_per_rt"] = steps / (loop_ms / 1000.0) / (round_trips / n);
}
BENCHMARK(BM_LockstepSteps)
    ->ArgNames({"agents", "pin", "pass"})
    ->Args({1, 1, 1})
    ->Args({8, 1, 1})
    ->Args({64, 0, 0})
    ->Args({64, 0, 1})
    ->Args({64, 1, 1})
    ->Args({64, 2, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

void BM_SpawnAndRegister(benchmark::State& state) {
  ResolvedScenario s = Base(static_cast<int>(state.range(0)), 1);
  SetPin(0);
  s.reaper = false;
  double startup_ms = 0;
  for (auto _ : state) startup_ms += RunOnce(s, state).startup_ms;
  // Wall time from the first spawn until every agent said hello on its
  // control channel (registration is its first step after that).
  state.counters["startup_ms"] = startup_ms / static_cast<double>(state.iterations());
}
BENCHMARK(BM_SpawnAndRegister)
    ->Arg(256)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

void BM_SimTimeSpeedup(benchmark::State& state) {
  // 2,000 items of ~18 s each over 64 agents: about 10 minutes of simulated
  // time, with 3 s leases renewed every 1.5 s and heartbeats every 500 ms.
  SetPin(state.range(0));
  ResolvedScenario s = Base(64, 2000);
  s.own_state = state.range(1) != 0 ? "pass" : "park";
  s.work_min_ms = 16'000;
  s.work_max_ms = 20'000;
  s.sim_ms = 900'000;
  double sim_ms = 0, steps = 0;
  for (auto _ : state) {
    const Outcome o = RunOnce(s, state);
    sim_ms += o.sim_ms;
    steps += o.steps;
  }
  state.counters["sim_s"] = sim_ms / 1000.0 / static_cast<double>(state.iterations());
  // Scheduling decisions per simulated second: what passing own-state points
  // cuts.
  state.counters["steps_per_sim_s"] = steps / (sim_ms / 1000.0);
  state.counters["speedup"] = benchmark::Counter(sim_ms / 1000.0, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SimTimeSpeedup)
    ->ArgNames({"pin", "pass"})
    ->Args({0, 0})
    ->Args({0, 1})
    ->Args({1, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace
}  // namespace faultline

BENCHMARK_MAIN();
