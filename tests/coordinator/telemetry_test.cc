// The coordinator's telemetry: settings from the OTEL_* environment, span
// encodings, and the exporter against the real collector (faultline sink,
// in-process, over real loopback HTTP) — batching, retry with backoff, the
// spool, its bound and the counted drops, crash safety, the reaper's export —
// and an exporter made to drop silently, which no_silent_span_loss catches.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "coordinator/clock.h"
#include "coordinator/telemetry.h"
#include "coordinator/telemetry_config.h"
#include "coordinator/telemetry_exporter.h"
#include "coordinator/telemetry_http.h"
#include "coordinator/telemetry_span.h"
#include "coordinator/telemetry_spool.h"
#include "sim/invariants/no_silent_span_loss.h"
#include "sim/sink.h"
#include "tests/support/recording_probe.h"
#include "tests/support/temp_dir.h"

namespace swarm::telemetry {
namespace {

using faultline::CollectorMode;
using faultline::SinkServer;
using faultline::testing::RecordingProbe;
using faultline::testing::TempDir;
using nlohmann::json;

// ---------------------------------------------------------------------------
// settings

Result<Config> FromMap(const std::map<std::string, std::string>& vars,
                       std::vector<std::string>* warnings = nullptr) {
  return ConfigFromEnvironment(warnings, [&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(TelemetryConfigTest, OffWithoutAnEndpoint) {
  auto c = FromMap({{"OTEL_SERVICE_NAME", "x"}});
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->enabled);
}

TEST(TelemetryConfigTest, BaseEndpointGetsTheTracesPath) {
  auto c = FromMap({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/"}});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->enabled);
  EXPECT_EQ(c->traces_url, "http://127.0.0.1:4318/v1/traces");
  EXPECT_EQ(c->timeout_ms, 10'000);
  EXPECT_EQ(c->service_name, "swarm");
}

TEST(TelemetryConfigTest, TracesEndpointAndSpecificSettingsWin) {
  auto c = FromMap({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1"},
                    {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:2/custom"},
                    {"OTEL_EXPORTER_OTLP_TIMEOUT", "100"},
                    {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "250"},
                    {"OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%3Dcret, team = core"},
                    {"OTEL_SERVICE_NAME", "workers"},
                    {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "7"},
                    {"OTEL_BSP_SCHEDULE_DELAY", "20"},
                    {"SWARM_SPOOL_MAX_SPANS", "99"},
                    {"SWARM_SPOOL_MAX_BYTES", "4096"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->traces_url, "http://b:2/custom");
  EXPECT_EQ(c->timeout_ms, 250);
  EXPECT_EQ(c->service_name, "workers");
  EXPECT_EQ(c->batch_spans, 7u);
  EXPECT_EQ(c->schedule_delay_ms, 20);
  EXPECT_EQ(c->spool_max_spans, 99u);
  EXPECT_EQ(c->spool_max_bytes, 4096u);
  using H = std::pair<std::string, std::string>;
  EXPECT_EQ(c->headers, (std::vector<H>{{"api-key", "s=cret"}, {"team", "core"}}));
}

TEST(TelemetryConfigTest, DisabledBySdkSwitchOrExporterNone) {
  EXPECT_FALSE(FromMap({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1"},
                        {"OTEL_SDK_DISABLED", "TRUE"}})->enabled);
  EXPECT_FALSE(FromMap({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1"},
                        {"OTEL_TRACES_EXPORTER", "none"}})->enabled);
}

TEST(TelemetryConfigTest, BadSettingsSayWhichVariable) {
  auto proto = FromMap({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1"},
                        {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"}});
  ASSERT_FALSE(proto.ok());
  EXPECT_NE(proto.status().message().find("OTEL_EXPORTER_OTLP_PROTOCOL"), std::string::npos);
  auto url = FromMap({{"OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://a:1"}});
  ASSERT_FALSE(url.ok());
  EXPECT_NE(url.status().message().find("OTEL_EXPORTER_OTLP_ENDPOINT"), std::string::npos);
  auto tls = FromMap({{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://a:1"}});
  ASSERT_FALSE(tls.ok());
  EXPECT_NE(tls.status().message().find("local OpenTelemetry Collector"), std::string::npos);
  std::vector<std::string> warnings;
  auto number = FromMap({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1"},
                         {"OTEL_EXPORTER_OTLP_TIMEOUT", "soon"}},
                        &warnings);
  ASSERT_TRUE(number.ok());
  EXPECT_EQ(number->timeout_ms, 10'000);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("OTEL_EXPORTER_OTLP_TIMEOUT=\"soon\""), std::string::npos);
}

TEST(TelemetryConfigTest, ParsesHttpUrls) {
  auto u = ParseUrl("http://127.0.0.1:4318/v1/traces");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "4318");
  EXPECT_EQ(u->path, "/v1/traces");
  u = ParseUrl("http://collector");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->path, "/");
  u = ParseUrl("http://[::1]:9/x");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, "9");
  for (const char* bad : {"http://:80/", "http://h:0/", "http://h:x/", "ftp://h/", "http://[::1"}) {
    EXPECT_FALSE(ParseUrl(bad).ok()) << bad;
  }
}

// ---------------------------------------------------------------------------
// encodings

Span MakeSpan(int n) {
  Span s;
  s.trace_id = Hex128(0xabc, static_cast<uint64_t>(n) + 1);
  s.span_id = Hex64(static_cast<uint64_t>(n) + 0x100);
  s.name = "claim_work";
  s.start_us = 1'000'000 + n;
  s.end_us = 1'000'500 + n;
  s.attributes = {{"swarm.item", "w" + std::to_string(n)}, {"swarm.token", 3}};
  return s;
}

TEST(SpanEncodingTest, SpoolLineRoundTripsAndATornLineIsIgnored) {
  Span s = MakeSpan(7);
  s.error = "stale_token";
  s.parent_span_id = Hex64(9);
  auto back = FromSpoolLine(ToSpoolLine(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->span_id, s.span_id);
  EXPECT_EQ(back->trace_id, s.trace_id);
  EXPECT_EQ(back->parent_span_id, s.parent_span_id);
  EXPECT_EQ(back->error, "stale_token");
  EXPECT_EQ(back->attributes, s.attributes);
  size_t bad = 0;
  std::string text = ToSpoolLine(MakeSpan(1)) + "\n" + "garbage\n" + ToSpoolLine(MakeSpan(2));
  std::vector<Span> spans = ParseSpoolText(text, &bad);
  ASSERT_EQ(spans.size(), 1u) << "the last line has no newline: a write cut short";
  EXPECT_EQ(spans[0].span_id, MakeSpan(1).span_id);
  EXPECT_EQ(bad, 1u);
}

TEST(SpanEncodingTest, OtlpJsonHasHexIdsNanoStringsAndTypedAttributes) {
  Span error = MakeSpan(2);
  error.error = "no_space";
  json j = json::parse(EncodeOtlpJson({MakeSpan(1), error}, {"swarm", "a3"}));
  const json& rs = j["resourceSpans"][0];
  EXPECT_EQ(rs["resource"]["attributes"],
            json::parse(R"([{"key": "service.instance.id", "value": {"stringValue": "a3"}},
                            {"key": "service.name", "value": {"stringValue": "swarm"}}])"));
  const json& spans = rs["scopeSpans"][0]["spans"];
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0]["spanId"], MakeSpan(1).span_id);
  EXPECT_EQ(spans[0]["traceId"], MakeSpan(1).trace_id);
  EXPECT_EQ(spans[0]["startTimeUnixNano"], "1000001000");
  EXPECT_EQ(spans[0]["endTimeUnixNano"], "1000501000");
  EXPECT_EQ(spans[0]["kind"], 1);
  EXPECT_EQ(spans[0]["status"], json({{"code", 1}}));
  EXPECT_EQ(spans[1]["status"], json({{"code", 2}, {"message", "no_space"}}));
  EXPECT_EQ(spans[0]["attributes"],
            json::parse(R"([{"key": "swarm.item", "value": {"stringValue": "w1"}},
                            {"key": "swarm.token", "value": {"intValue": "3"}}])"));
}

TEST(BackoffTest, DoublesWithJitterUpToTheMaximumAndResets) {
  Backoff a(100, 1000, 42), b(100, 1000, 42);
  int64_t now = 0;
  for (int64_t full : {100, 200, 400, 800, 1000, 1000}) {
    a.Failed(now);
    b.Failed(now);
    int64_t wait = 0;
    while (a.Waiting(now + wait)) ++wait;
    EXPECT_GE(wait, full / 2) << full;
    EXPECT_LE(wait, full) << full;
    EXPECT_EQ(a.Waiting(now + wait - 1), b.Waiting(now + wait - 1)) << "same seed, same delays";
    now += wait;
  }
  a.Succeeded();
  EXPECT_FALSE(a.Waiting(now));
}

// ---------------------------------------------------------------------------
// the exporter against the real sink

// One test's world: a coordination directory, a fake clock, a recording
// probe, and a sink on a free loopback port.
class ExporterTest : public ::testing::Test {
 public:
  void SetUp() override { StartSink(0, CollectorMode::kUp); }

  void StartSink(int port, CollectorMode mode) {
    auto sink = SinkServer::Start("127.0.0.1", port, tmp_ / "record.jsonl", mode);
    ASSERT_TRUE(sink.ok()) << sink.status().ToString();
    sink_ = std::move(*sink);
    port_ = sink_->port();
  }
  void StopSink() { sink_.reset(); }

  Config MakeConfig(size_t batch = 4, size_t spool_max = 1000) {
    Config c;
    c.enabled = true;
    c.traces_url = "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces";
    c.timeout_ms = 300;
    c.batch_spans = batch;
    c.schedule_delay_ms = 100;
    c.spool_max_spans = spool_max;
    c.retry_initial_ms = 100;
    c.retry_max_ms = 400;
    return c;
  }

  std::unique_ptr<AgentTelemetry> Open(const Config& c, const std::string& agent = "a1",
                                       const ExporterFactory& make = nullptr) {
    auto t = AgentTelemetry::Open(c, MakeHttpTransport(c), tmp_.path(), agent, 7, &clock_,
                                  &probe_, make);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(*t) : nullptr;
  }

  void Spans(AgentTelemetry& t, int n) {
    for (int i = 0; i < n; ++i) {
      const int64_t start = clock_.NowMicros();
      clock_.Advance(1000);
      t.Record("claim_work", start, {{"swarm.item", "w" + std::to_string(i)}});
    }
  }

  std::set<std::string> Received() {
    auto ids = faultline::ReadSinkRecord(tmp_ / "record.jsonl");
    return ids.ok() ? std::set<std::string>(ids->begin(), ids->end()) : std::set<std::string>();
  }
  std::set<std::string> Created() {
    std::set<std::string> ids;
    for (const json& e : probe_.events) {
      if (e["type"] == "span_created") ids.insert(e["span"].get<std::string>());
    }
    return ids;
  }
  std::set<std::string> Dropped() {
    std::set<std::string> ids;
    for (const json& e : probe_.events) {
      if (e["type"] == "span_dropped") {
        for (const json& id : e["spans"]) ids.insert(id.get<std::string>());
      }
    }
    return ids;
  }
  int64_t Sum(const std::string& type, const std::string& field = "count") {
    int64_t n = 0;
    for (const json& e : probe_.events) {
      if (e["type"] == type) n += e.value(field, int64_t{0});
    }
    return n;
  }
  // Past every backoff, then a Tick.
  void Later(AgentTelemetry& t, int64_t ms = 1000) {
    clock_.Advance(ms * 1000);
    t.Tick();
  }

  TempDir tmp_;
  FakeClock clock_;
  RecordingProbe probe_;
  std::unique_ptr<SinkServer> sink_;
  int port_ = 0;
};

TEST_F(ExporterTest, FullBatchesGoAtOnceAPartialOneAfterItsDelay) {
  auto t = Open(MakeConfig(/*batch=*/4));
  Spans(*t, 10);
  EXPECT_EQ(Sum("span_exported"), 8);
  EXPECT_EQ(Received().size(), 8u);
  t->Tick();  // the rest is not due yet (1 ms old)
  EXPECT_EQ(Received().size(), 8u);
  Later(*t, 200);
  EXPECT_EQ(Received().size(), 10u);
  EXPECT_EQ(Received(), Created());
  EXPECT_EQ(Sum("span_spooled"), 0);
  EXPECT_EQ(sink_->counts().requests, 3u);
}

TEST_F(ExporterTest, Http503IsSpooledAndResentWhenTheCollectorIsBack) {
  sink_->SetMode(CollectorMode::kUnavailable);
  auto t = Open(MakeConfig());
  Spans(*t, 8);
  EXPECT_EQ(Received().size(), 0u);
  EXPECT_EQ(Sum("span_spooled"), 8);
  EXPECT_EQ(t->spool().spans(), 8u);
  for (const json& e : probe_.events) {
    if (e["type"] == "span_spooled") {
      EXPECT_TRUE(e["why"] == "HTTP 503" || e["why"] == "backing off after a failed export")
          << e.dump();
    }
  }
  sink_->SetMode(CollectorMode::kUp);
  Later(*t);
  EXPECT_EQ(Received(), Created());
  EXPECT_EQ(t->spool().spans(), 0u);
  EXPECT_EQ(t->spool().segments(), 0u);
  EXPECT_EQ(Sum("span_dropped"), 0);
}

TEST_F(ExporterTest, CollectorKilledAndRestartedOnTheSamePort) {
  auto t = Open(MakeConfig());
  const int port = port_;
  StopSink();
  Spans(*t, 4);
  ASSERT_EQ(Sum("span_spooled"), 4);
  bool refused = false;
  for (const json& e : probe_.events) refused |= e.value("why", "") == "connection refused";
  EXPECT_TRUE(refused);
  StartSink(port, CollectorMode::kUp);
  Spans(*t, 2);
  Later(*t);
  EXPECT_EQ(Received(), Created());
  EXPECT_EQ(Received().size(), 6u);
}

TEST_F(ExporterTest, BlackholeTimesOutNothingIsRecordedAndTheSpansAreSpooled) {
  sink_->SetMode(CollectorMode::kBlackhole);
  auto t = Open(MakeConfig());
  Spans(*t, 4);
  EXPECT_EQ(Sum("span_spooled"), 4);
  EXPECT_EQ(probe_.events.back().value("why", ""), "no answer within the timeout");
  EXPECT_EQ(Received().size(), 0u);
  EXPECT_EQ(sink_->counts().blackholed, 1u);
  sink_->SetMode(CollectorMode::kUp);
  Later(*t);
  EXPECT_EQ(Received(), Created());
}

TEST_F(ExporterTest, BoundedSpoolDropsWhatDoesNotFitAndCountsEverySpan) {
  StopSink();
  auto t = Open(MakeConfig(/*batch=*/4, /*spool_max=*/8));
  Spans(*t, 20);
  EXPECT_EQ(t->spool().spans(), 8u);
  EXPECT_EQ(Sum("span_spooled"), 8);
  EXPECT_EQ(Sum("span_dropped"), 12);
  EXPECT_EQ(t->exporter().dropped_spans(), 12u);
  std::set<std::string> dropped = Dropped();
  EXPECT_EQ(dropped.size(), 12u);
  for (const json& e : probe_.events) {
    if (e["type"] == "span_dropped") {
      EXPECT_EQ(e["reason"], "spool_full") << e.dump();
    }
  }
  // Every created span is either dropped (counted, by id) or still spooled.
  auto backlog = SpoolBacklog(tmp_.path());
  ASSERT_TRUE(backlog.ok());
  ASSERT_EQ(backlog->size(), 1u);
  EXPECT_EQ((*backlog)[0].spans, 8u);
  EXPECT_TRUE((*backlog)[0].owner_running);
  StartSink(port_, CollectorMode::kUp);
  Later(*t);
  std::set<std::string> accounted = Received();
  accounted.insert(dropped.begin(), dropped.end());
  EXPECT_EQ(accounted, Created());
  EXPECT_EQ(Received().size(), 8u);
}

TEST_F(ExporterTest, SpansOfAKilledAgentSurviveInTheLiveFileAndGoAtItsNextStart) {
  auto t = Open(MakeConfig(/*batch=*/10));
  Spans(*t, 3);
  const std::set<std::string> first = Created();
  EXPECT_EQ(t->spool().incarnation(), 1u);
  t.reset();  // a SIGKILL: no Shutdown; the spans are only in live.jsonl
  EXPECT_EQ(Received().size(), 0u);
  auto again = Open(MakeConfig(/*batch=*/10));
  EXPECT_EQ(again->spool().incarnation(), 2u);
  Spans(*again, 1);
  EXPECT_EQ(Created().size(), 4u) << "span ids of a restart never repeat the first run's";
  Later(*again);
  EXPECT_EQ(Received(), Created());
}

TEST_F(ExporterTest, TheReaperExportsTheSpoolOfAnAgentThatIsNotRunning) {
  const int port = port_;
  StopSink();
  auto t = Open(MakeConfig(/*batch=*/4));
  Spans(*t, 6);
  // While the agent runs, its spool is its own.
  auto busy = OrphanSpool::Claim(tmp_.path(), "a1");
  ASSERT_FALSE(busy.ok());
  EXPECT_TRUE(busy.status().IsBusy()) << busy.status().ToString();
  t->Shutdown();
  t.reset();
  StartSink(port, CollectorMode::kUp);
  Config c = MakeConfig();
  auto transport = MakeHttpTransport(c);
  OrphanExporter reaper(c, transport.get(), &clock_, &probe_, tmp_.path(), 1);
  reaper.Pass();
  EXPECT_EQ(Received(), Created());
  int64_t by_reaper = 0;
  for (const json& e : probe_.events) {
    if (e["type"] == "span_exported" && e["by"] == "reaper") by_reaper += e["count"].get<int>();
  }
  EXPECT_EQ(by_reaper, 6);
  auto backlog = SpoolBacklog(tmp_.path());
  ASSERT_TRUE(backlog.ok());
  EXPECT_EQ((*backlog)[0].spans, 0u);
  EXPECT_FALSE((*backlog)[0].owner_running);
}

// A transport that answers with one status for everything.
class FixedTransport final : public Transport {
 public:
  explicit FixedTransport(PostOutcome o) : o_(std::move(o)) {}
  PostOutcome Post(const std::string&) override {
    ++posts;
    return o_;
  }
  int posts = 0;

 private:
  PostOutcome o_;
};

TEST_F(ExporterTest, ARejectedBatchIsDroppedCountedNotRetried) {
  Config c = MakeConfig(/*batch=*/2);
  auto fixed = std::make_unique<FixedTransport>(
      PostOutcome{PostOutcome::Kind::kRejected, "HTTP 400"});
  FixedTransport* raw = fixed.get();
  auto t = AgentTelemetry::Open(c, std::move(fixed), tmp_.path(), "a1", 7, &clock_, &probe_);
  ASSERT_TRUE(t.ok());
  Spans(**t, 4);
  EXPECT_EQ(raw->posts, 2);
  EXPECT_EQ(Dropped(), Created());
  EXPECT_EQ((*t)->spool().spans(), 0u);
  for (const json& e : probe_.events) {
    if (e["type"] == "span_dropped") {
      EXPECT_EQ(e["reason"], "rejected");
      EXPECT_EQ(e["detail"], "HTTP 400");
    }
  }
}

TEST_F(ExporterTest, RetriesWaitForTheBackoffOnTheProcessClock) {
  Config c = MakeConfig(/*batch=*/1);
  auto fixed = std::make_unique<FixedTransport>(
      PostOutcome{PostOutcome::Kind::kRetryable, "HTTP 503"});
  FixedTransport* raw = fixed.get();
  auto t = AgentTelemetry::Open(c, std::move(fixed), tmp_.path(), "a1", 7, &clock_, &probe_);
  ASSERT_TRUE(t.ok());
  Spans(**t, 5);  // 5 ms of fake time: well inside the first backoff (50-100 ms)
  EXPECT_EQ(raw->posts, 1) << "one attempt, then the spool until the backoff has passed";
  EXPECT_EQ(Sum("span_spooled"), 5);
  clock_.Advance(100'000);
  (*t)->Tick();
  EXPECT_EQ(raw->posts, 2) << "one retry of the spool once the backoff is over";
}

// The drop path made silent, as a broken exporter would have it: batches the
// collector does not take vanish without a span_dropped.
class SilentDropExporter final : public Exporter {
 public:
  using Exporter::Exporter;

 protected:
  void Undeliverable(std::vector<Span>, const std::string&) override {}
};

TEST_F(ExporterTest, SilentDropsAreCaughtByNoSilentSpanLoss) {
  ExporterFactory silent = [](const Config& c, Transport* tr, OwnedSpool* sp, Clock* cl,
                              Probe* pr, const std::string& agent, uint64_t seed) {
    return std::make_unique<SilentDropExporter>(c, tr, sp, cl, pr, agent, seed);
  };
  auto t = Open(MakeConfig(/*batch=*/4), "a1", silent);
  Spans(*t, 4);
  sink_->SetMode(CollectorMode::kUnavailable);
  Spans(*t, 8);
  sink_->SetMode(CollectorMode::kUp);
  Later(*t);
  t->Shutdown();
  EXPECT_EQ(Sum("span_dropped"), 0) << "nothing was counted";

  // The history as the engine would write it: the agent's events, then what
  // the sink received.
  faultline::NoSilentSpanLoss checker;
  uint64_t seq = 0;
  for (json e : probe_.events) {
    e["seq"] = seq++;
    e["proc"] = "a1";
    checker.Observe(faultline::TraceEvent::FromJson(e));
  }
  std::set<std::string> received = Received();
  checker.Observe(faultline::TraceEvent::FromJson(
      {{"seq", seq++}, {"type", "sink_received"}, {"total", received.size()},
       {"spans", std::vector<std::string>(received.begin(), received.end())}}));
  std::vector<faultline::Violation> violations;
  checker.Finish(&violations);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_NE(violations[0].message.find("a1 lost 8 spans silently"), std::string::npos)
      << violations[0].message;
  EXPECT_EQ(checker.Summary()["lost"], 8);
  EXPECT_EQ(checker.Summary()["delivered"], 4);
}

TEST_F(ExporterTest, TheSameSeedGivesTheSameSpanIds) {
  std::vector<std::string> runs[2];
  for (auto& ids : runs) {
    TempDir dir;
    RecordingProbe probe;
    FakeClock clock;
    Config c = MakeConfig();
    auto t = AgentTelemetry::Open(c, MakeHttpTransport(c), dir.path(), "a1", 7, &clock, &probe);
    ASSERT_TRUE(t.ok());
    for (int i = 0; i < 3; ++i) (*t)->Record("heartbeat", clock.NowMicros(), {});
    for (const json& e : probe.events) {
      if (e["type"] == "span_created") ids.push_back(e["span"]);
    }
  }
  EXPECT_EQ(runs[0].size(), 3u);
  EXPECT_EQ(runs[0], runs[1]);
}

}  // namespace
}  // namespace swarm::telemetry
