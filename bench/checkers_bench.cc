// The six core invariant checkers over a synthetic history of 1,000,000
// events (DESIGN §10: checkers >= 1,000,000 events in < 2 s), and, apart
// from that, parsing as many trace lines into TraceEvents.
//
// The history: 64 agents, each cycling claim_ok / heartbeat / renew_ok /
// effect / complete_ok over its own items, interleaved round-robin, a
// snapshot every 1,000 events, run_start first and a run_end that lists
// every item as done. Every checker passes it (checked once, untimed).
//
//   build/bench/checkers_bench --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "sim/invariant.h"
#include "sim/option_check.h"
#include "sim/invariants/registry.h"
#include "sim/trace_event.h"

namespace faultline {
namespace {

using nlohmann::json;

constexpr size_t kEvents = 1'000'000;
constexpr int kAgents = 64;
constexpr int64_t kLeaseUs = 3'000'000;
constexpr int64_t kStepUs = 50;  // run time between two events

std::vector<json> MakeLines() {
  std::vector<json> lines;
  lines.reserve(kEvents);
  int64_t t = 0;
  auto add = [&](const char* proc, const char* type, json fields) {
    fields["seq"] = lines.size();
    fields["t"] = t;
    fields["proc"] = proc;
    fields["type"] = type;
    lines.push_back(std::move(fields));
    t += kStepUs;
    if (lines.size() % 1000 == 999) {
      lines.push_back({{"seq", lines.size()}, {"t", t}, {"proc", "sim"}, {"type", "snapshot"},
                       {"locks", 2}, {"temps", 1}, {"claims", kAgents}, {"live_procs", kAgents + 1}});
    }
  };
  add("sim", "run_start",
      {{"scenario", "bench"}, {"seed", 1}, {"mode", "lockstep"}, {"lease_ms", 3000},
       {"heartbeat_ms", 500}, {"reap_interval_ms", 1000}, {"agent_timeout_ms", 3000},
       {"max_attempts", 5}, {"agents", kAgents}, {"items", 0}});

  struct Agent {
    std::string id;
    std::string item;
    int phase = 0;  // the next step: 0 claim, 1 heartbeat, 2 renew, 3 effect, 4 complete
  };
  std::vector<Agent> agents(kAgents);
  for (int a = 0; a < kAgents; ++a) agents[a].id = fmt::format("a{}", a);
  int next_item = 0;
  json items = json::array();

  auto step = [&](Agent& a) {
    const char* id = a.id.c_str();
    switch (a.phase) {
      case 0:
        a.item = fmt::format("w{:07}", next_item++);
        add(id, "claim_ok",
            {{"item", a.item}, {"agent", a.id}, {"token", 1}, {"now_us", t},
             {"lease_until_us", t + kLeaseUs}, {"attempt", 1}});
        break;
      case 1:
        add(id, "heartbeat", {{"agent", a.id}, {"at_us", t}});
        break;
      case 2:
        add(id, "renew_ok",
            {{"item", a.item}, {"agent", a.id}, {"token", 1}, {"now_us", t},
             {"lease_until_us", t + kLeaseUs}});
        break;
      case 3:
        add(id, "effect", {{"item", a.item}, {"agent", a.id}, {"token", 1}, {"now_us", t}});
        break;
      case 4:
        add(id, "complete_ok", {{"item", a.item}, {"agent", a.id}, {"token", 1}, {"now_us", t}});
        items.push_back({{"id", a.item}, {"status", "done"}, {"reason", ""}, {"effect", true}});
        break;
    }
    a.phase = (a.phase + 1) % 5;
  };

  // Room to finish every open cycle (4 steps each, plus their snapshots),
  // then heartbeats up to kEvents - 1, then run_end.
  const size_t finish_room = kAgents * 4 * 2 + 8;
  for (size_t i = 0; lines.size() < kEvents - finish_room; ++i) step(agents[i % kAgents]);
  for (Agent& a : agents) {
    while (a.phase != 0) step(a);
  }
  while (lines.size() < kEvents - 1) {
    add("a0", "heartbeat", {{"agent", "a0"}, {"at_us", t}});
  }
  lines.resize(kEvents - 1);  // a snapshot may have overshot by one
  const int64_t ledger = static_cast<int64_t>(items.size());
  lines[0]["items"] = ledger;  // the engine submits every item before the run starts
  add("sim", "run_end",
      {{"completed", true}, {"locks", 0}, {"ledger", ledger}, {"items", std::move(items)},
       {"deadlock", ""}});
  return lines;
}

const std::vector<TraceEvent>& History() {
  static const std::vector<TraceEvent>* history = [] {
    auto* events = new std::vector<TraceEvent>;
    events->reserve(kEvents);
    for (json& line : MakeLines()) events->push_back(TraceEvent::FromJson(std::move(line)));
    return events;
  }();
  return *history;
}

const std::vector<std::string>& Lines() {
  static const std::vector<std::string>* lines = [] {
    auto* out = new std::vector<std::string>;
    out->reserve(kEvents);
    for (const json& line : MakeLines()) out->push_back(line.dump());
    return out;
  }();
  return *lines;
}

// Runs `kinds` over the history; the number of violations.
size_t RunCheckers(const std::vector<InvariantKind>& kinds, std::vector<Violation>* out) {
  std::vector<std::unique_ptr<Invariant>> checkers;
  for (const InvariantKind& k : kinds) checkers.push_back(k.make(DefaultOptions(k.options)));
  for (const TraceEvent& e : History()) {
    for (auto& c : checkers) c->Observe(e);
  }
  for (auto& c : checkers) c->Finish(out);
  return out->size();
}

// The checkers that judge a run of the reference coordinator, as the engine
// picks them (a differential run's no_semantic_drift needs a counterpart).
std::vector<InvariantKind> ReferenceCheckers() {
  std::vector<InvariantKind> kinds;
  for (InvariantKind& k : CoreInvariants()) {
    if ((k.needs & ~observes::kReference) == 0) kinds.push_back(std::move(k));
  }
  return kinds;
}

void BM_AllCheckers(benchmark::State& state) {
  const std::vector<InvariantKind> kinds = ReferenceCheckers();
  state.SetLabel(fmt::format("{} checkers", kinds.size()));
  History();  // built before timing starts
  for (auto _ : state) {
    std::vector<Violation> out;
    if (RunCheckers(kinds, &out) != 0) {
      state.SkipWithError(fmt::format("{}: {}", out[0].invariant, out[0].message).c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kEvents));
}
BENCHMARK(BM_AllCheckers)->Unit(benchmark::kMillisecond);

void BM_OneChecker(benchmark::State& state) {
  const InvariantKind kind = CoreInvariants().at(static_cast<size_t>(state.range(0)));
  state.SetLabel(kind.name);
  History();
  for (auto _ : state) {
    std::vector<Violation> out;
    if (RunCheckers({kind}, &out) != 0) {
      state.SkipWithError(out[0].message.c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kEvents));
}
BENCHMARK(BM_OneChecker)->DenseRange(0, 5)->Unit(benchmark::kMillisecond);

void BM_ParseTraceLines(benchmark::State& state) {
  const std::vector<std::string>& lines = Lines();
  int64_t bytes = 0;
  for (const std::string& line : lines) bytes += static_cast<int64_t>(line.size()) + 1;
  for (auto _ : state) {
    std::vector<TraceEvent> events;
    events.reserve(lines.size());
    for (const std::string& line : lines) {
      events.push_back(TraceEvent::FromJson(json::parse(line)));
    }
    benchmark::DoNotOptimize(events.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kEvents));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * bytes);
}
BENCHMARK(BM_ParseTraceLines)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace faultline

BENCHMARK_MAIN();
