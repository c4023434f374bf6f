#include "coordinator/telemetry.h"

#include <sys/random.h>

#include <cstdio>

#include "coordinator/telemetry_http.h"

namespace swarm::telemetry {
namespace {

// The reaper holds an agent's spool only while it exports it: an agent
// starting meanwhile waits this long between tries, this many times.
constexpr int64_t kSpoolBusyWaitUs = 10'000;
constexpr int kSpoolBusyTries = 500;

uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Next(uint64_t& state) { return Mix(state += 0x9e3779b97f4a7c15ULL); }

uint64_t Fnv(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// Outside the simulator two clusters must not share span ids: real entropy.
uint64_t Entropy(Probe* probe) {
  if (probe->recording()) return 0;
  uint64_t v = 0;
  if (getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) v = 0;
  return v;
}

void Warn(std::string_view who, const std::vector<std::string>& warnings) {
  for (const std::string& w : warnings) {
    std::fprintf(stderr, "swarm %.*s: telemetry: %s\n", static_cast<int>(who.size()), who.data(),
                 w.c_str());
  }
}

}  // namespace

Result<std::unique_ptr<AgentTelemetry>> AgentTelemetry::FromEnvironment(
    const std::string& coord_dir, const std::string& agent, uint64_t seed, Clock* clock,
    Probe* probe, const ExporterFactory& make_exporter) {
  std::vector<std::string> warnings;
  auto config = ConfigFromEnvironment(&warnings);
  Warn(agent, warnings);
  if (!config.ok()) return config.status();
  if (!config->enabled) return std::unique_ptr<AgentTelemetry>();
  return Open(*config, MakeHttpTransport(*config), coord_dir, agent, seed, clock, probe,
              make_exporter);
}

Result<std::unique_ptr<AgentTelemetry>> AgentTelemetry::Open(
    const Config& config, std::unique_ptr<Transport> transport, const std::string& coord_dir,
    const std::string& agent, uint64_t seed, Clock* clock, Probe* probe,
    const ExporterFactory& make_exporter) {
  const Limits limits{config.spool_max_spans, config.spool_max_bytes};
  auto spool = OwnedSpool::Open(coord_dir, agent, limits);
  for (int i = 1; i < kSpoolBusyTries && !spool.ok() && spool.status().IsBusy(); ++i) {
    clock->SleepMicros(kSpoolBusyWaitUs);
    spool = OwnedSpool::Open(coord_dir, agent, limits);
  }
  if (!spool.ok()) return spool.status();
  std::unique_ptr<AgentTelemetry> t(new AgentTelemetry());
  t->clock_ = clock;
  t->agent_ = agent;
  t->transport_ = std::move(transport);
  t->spool_ = std::move(*spool);
  t->trace_salt_ = Mix(seed ^ Fnv(agent)) ^ Entropy(probe);
  t->ids_ = Mix(t->trace_salt_ ^ (t->spool_->incarnation() * 0x2545f4914f6cdd1dULL));
  const uint64_t jitter_seed = Next(t->ids_);
  t->exporter_ = make_exporter ? make_exporter(config, t->transport_.get(), t->spool_.get(), clock,
                                               probe, agent, jitter_seed)
                               : std::make_unique<Exporter>(config, t->transport_.get(),
                                                            t->spool_.get(), clock, probe, agent,
                                                            jitter_seed);
  return t;
}

std::string AgentTelemetry::NextSpanId() {
  uint64_t v = 0;
  while (v == 0) v = Next(ids_);  // an all-zero id is invalid in OTLP
  return Hex64(v);
}

void AgentTelemetry::Record(std::string_view name, int64_t start_us, nlohmann::json attributes,
                           std::string_view error, std::string_view trace_key) {
  Span span;
  if (trace_key.empty()) {
    const uint64_t hi = Next(ids_);
    const uint64_t lo = Next(ids_) | 1;
    span.trace_id = Hex128(hi, lo);
  } else {
    const uint64_t h = Fnv(trace_key) ^ trace_salt_;
    span.trace_id = Hex128(Mix(h), Mix(h ^ 0x5851f42d4c957f2dULL) | 1);
  }
  span.span_id = NextSpanId();
  span.name = std::string(name);
  span.start_us = start_us;
  span.end_us = clock_->NowMicros();
  span.error = std::string(error);
  span.attributes = std::move(attributes);
  span.attributes["swarm.agent"] = agent_;
  exporter_->Add(std::move(span));
}

Result<std::unique_ptr<ReaperTelemetry>> ReaperTelemetry::FromEnvironment(
    const std::string& coord_dir, Clock* clock, Probe* probe) {
  std::vector<std::string> warnings;
  auto config = ConfigFromEnvironment(&warnings);
  Warn("reaper", warnings);
  if (!config.ok()) return config.status();
  if (!config->enabled) return std::unique_ptr<ReaperTelemetry>();
  std::unique_ptr<ReaperTelemetry> t(new ReaperTelemetry());
  t->transport_ = MakeHttpTransport(*config);
  t->exporter_ = std::make_unique<OrphanExporter>(*config, t->transport_.get(), clock, probe,
                                                  coord_dir, Mix(Fnv("reaper")) ^ Entropy(probe));
  return t;
}

}  // namespace swarm::telemetry
