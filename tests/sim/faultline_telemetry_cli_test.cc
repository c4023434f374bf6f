// End-to-end tests of telemetry under collector outage (docs/telemetry.md)
// and of `faultline sink`, the collector, on its own and under a run.
#include <signal.h>

#include <algorithm>
#include <filesystem>

#include "tests/sim/faultline_cli_fixture.h"
#include "tests/support/poll.h"

namespace faultline {
namespace {

using namespace std::chrono_literals;
using testing::Exit;
using testing::Ran;
using testing::ReadAll;
using testing::TempDir;

struct SpanCounts {
  nlohmann::json summary;  // no_silent_span_loss's: created, delivered, dropped, ...
  std::map<std::string, int64_t> by_type;  // span_* event counts (sum of "count")
  std::map<std::string, int64_t> dropped_by_reason;
  std::set<std::string> spooled_why;
  int64_t exported_from_spool = 0, exported_by_reaper = 0;
  std::vector<nlohmann::json> faults;
};

SpanCounts Spans(FaultlineCliTest* t, const std::string& dir) {
  SpanCounts c;
  const nlohmann::json verdict = t->Verdict(dir);
  for (const auto& inv : verdict["invariants"]) {
    if (inv["name"] == "no_silent_span_loss") c.summary = inv.value("summary", nlohmann::json());
  }
  for (const auto& e : Trace(dir)) {
    const std::string type = e["type"];
    if (type == "fault") c.faults.push_back(e);
    if (type.rfind("span_", 0) != 0) continue;
    c.by_type[type] += e.value("count", int64_t{1});
    if (type == "span_dropped") c.dropped_by_reason[e["reason"]] += e["count"].get<int64_t>();
    if (type == "span_spooled") c.spooled_why.insert(e["why"]);
    if (type == "span_exported" && e["from"] == "spool") c.exported_from_spool += e["count"].get<int64_t>();
    if (type == "span_exported" && e["by"] == "reaper") c.exported_by_reaper += e["count"].get<int64_t>();
  }
  return c;
}

// Every span created is delivered, dropped (counted) or still spooled; none lost.
void ExpectAllAccountedFor(const SpanCounts& c) {
  ASSERT_TRUE(c.summary.is_object()) << "no span summary in the verdict";
  EXPECT_GT(c.summary["created"].get<int64_t>(), 0);
  EXPECT_EQ(c.summary["lost"], 0) << c.summary.dump();
  EXPECT_EQ(c.summary["created"].get<int64_t>(),
            c.summary["delivered"].get<int64_t>() + c.summary["dropped"].get<int64_t>() +
                c.summary["still_spooled"].get<int64_t>())
      << c.summary.dump();
  EXPECT_EQ(c.summary["created"].get<int64_t>(), c.by_type.at("span_created"));
}

TEST_F(FaultlineCliTest, CollectorDownMidWorkSpansAreSpooledThenResent) {
  Ran r;
  std::string dir = RunBundled(this, "collector-outage", tmp_ / "out", &r);
  ASSERT_EQ(r.exit.code, 0) << r.output;
  EXPECT_NE(r.output.find("same trace twice"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no_silent_span_loss: "), std::string::npos) << r.output;
  SpanCounts c = Spans(this, dir);
  ExpectAllAccountedFor(c);
  ASSERT_EQ(c.faults.size(), 2u);
  EXPECT_EQ(c.faults[0]["mode"], "down");
  EXPECT_EQ(c.faults[1]["healed"], true);
  EXPECT_TRUE(c.spooled_why.count("connection refused")) << "the outage was never noticed";
  EXPECT_GT(c.exported_from_spool, 0) << "nothing spooled was ever resent";
  EXPECT_EQ(c.summary["still_spooled"], 0) << "the spools drain once the collector is back";
  EXPECT_EQ(c.summary["delivered"], c.summary["created"]);
  // The collector's record is kept with the run.
  EXPECT_TRUE(std::filesystem::exists(dir + "/logs/collector-spans.jsonl"));
}

TEST_F(FaultlineCliTest, CollectorOutageLongerThanTheSpoolDropsOnlyCounted) {
  Ran r;
  std::string dir = RunBundled(this, "collector-outage-long", tmp_ / "out", &r);
  ASSERT_EQ(r.exit.code, 0) << r.output;
  SpanCounts c = Spans(this, dir);
  ExpectAllAccountedFor(c);
  EXPECT_TRUE(c.spooled_why.count("HTTP 503"));
  EXPECT_GT(c.summary["dropped"].get<int64_t>(), 0) << "the spool bound never filled";
  EXPECT_EQ(c.dropped_by_reason.size(), 1u);
  EXPECT_GT(c.dropped_by_reason["spool_full"], 0);
}

TEST_F(FaultlineCliTest, CollectorBlackholeWithKilledAgentsLosesNoSpan) {
  Ran r;
  std::string dir = RunBundled(this, "collector-outage-kills", tmp_ / "out", &r);
  ASSERT_EQ(r.exit.code, 0) << r.output;
  SpanCounts c = Spans(this, dir);
  ExpectAllAccountedFor(c);
  EXPECT_TRUE(c.spooled_why.count("no answer within the timeout"));
  EXPECT_GT(c.exported_by_reaper, 0) << "the dead agent's spool was never exported";
  EXPECT_EQ(c.summary["dropped"], 0);
}

TEST_F(FaultlineCliTest, CollectorOutageOnAFullDiskDropsCountedAndRecovers) {
  setenv("FAULTLINE_WORKDIR", (tmp_ / "work").c_str(), 1);
  std::filesystem::create_directories(tmp_ / "work");
  Ran r;
  std::string dir = RunBundled(this, "collector-outage-disk-full", tmp_ / "out", &r);
  unsetenv("FAULTLINE_WORKDIR");
  if (r.exit.code == 3 && r.output.find("not supported on this host") != std::string::npos) {
    GTEST_SKIP() << r.output;
  }
  ASSERT_EQ(r.exit.code, 0) << r.output;
  SpanCounts c = Spans(this, dir);
  ExpectAllAccountedFor(c);
  EXPECT_GT(c.dropped_by_reason["spool_write_failed"], 0) << "the full disk never hit the spool";
  EXPECT_EQ(testing::CountEntries(tmp_ / "work"), 0u);
}

TEST_F(FaultlineCliTest, RunsWithoutTelemetryHaveNoSpansAndNoCollector) {
  std::string out = tmp_ / "out";
  Ran r = Faultline({"run", Write("small.json", kSmall), "--out", out});
  ASSERT_EQ(r.exit.code, 0) << r.output;
  EXPECT_EQ(r.output.find("no_silent_span_loss:"), std::string::npos) << r.output;
  for (const auto& e : Trace(out + "/small-3")) {
    const std::string type = e["type"];
    EXPECT_TRUE(type.rfind("span_", 0) != 0 && type != "sink_received") << e.dump();
  }
  EXPECT_FALSE(std::filesystem::exists(out + "/small-3/logs/sink.log"));
}

// The standalone collector, as a user would point their own agents at it.
TEST_F(FaultlineCliTest, SinkRecordsWhatSwarmAgentsExport) {
  const std::string log = tmp_ / "sink.log";
  pid_t sink = testing::Spawn({FAULTLINE_BIN, "sink", "--port", "0", "--record",
                               tmp_ / "spans.jsonl"}, log);
  std::string port;
  ASSERT_TRUE(testing::Eventually("the sink to say where it listens", [&] {
    std::string text = ReadAll(log);
    size_t at = text.find("127.0.0.1:");
    if (at != std::string::npos) port = text.substr(at + 10, text.find('/', at) - at - 10);
    return !port.empty();
  }, 5s, 25ms)) << ReadAll(log);
  const std::string swarm = std::filesystem::path(FAULTLINE_BIN).parent_path() / "swarm";
  const std::string dir = tmp_ / "coord";
  ASSERT_EQ(testing::Run({swarm, "init", dir}, tmp_ / "init.log").exit.code, 0);
  ASSERT_EQ(testing::Run({swarm, "submit", dir, "--items", "10"}, tmp_ / "submit.log").exit.code, 0);
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", ("http://127.0.0.1:" + port).c_str(), 1);
  Ran agent = testing::Run({swarm, "agent", dir, "--id", "a1", "--exit-when-idle"},
                           tmp_ / "agent.log");
  unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  EXPECT_EQ(agent.exit.code, 0) << agent.output;
  kill(sink, SIGTERM);
  testing::Exit ended = testing::WaitFor(sink, 30s);
  EXPECT_TRUE(ended.exited && ended.code == 0) << ReadAll(log);
  std::set<std::string> names;
  std::ifstream in(tmp_ / "spans.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["instance"], "a1");
    names.insert(j["name"]);
  }
  EXPECT_TRUE(names.count("claim_work") && names.count("complete_work") && names.count("register"))
      << ReadAll(tmp_ / "spans.jsonl");
  Ran status = testing::Run({swarm, "status", dir}, tmp_ / "status.log");
  EXPECT_NE(status.output.find("spool      0 spans"), std::string::npos) << status.output;
}

TEST_F(FaultlineCliTest, TheCollectorDiesWithASigkilledHarness) {
  std::ofstream(tmp_ / "long.json") << R"({"name": "long-telemetry", "mode": "freerun",
      "agents": {"count": 2, "work_ms": [200, 400]}, "work": {"items": 5000},
      "telemetry": {"enabled": true}, "limits": {"wall_ms": 600000}})";
  pid_t pid = testing::Spawn({FAULTLINE_BIN, "run", tmp_ / "long.json", "--out", tmp_ / "out"},
                             tmp_ / "long.log");
  pid_t sink = -1;
  ASSERT_TRUE(testing::Eventually("the collector to start", [&] {
    for (pid_t child : Descendants(pid)) {
      std::string cmdline = ReadAll("/proc/" + std::to_string(child) + "/cmdline");
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      if (cmdline.find(" sink ") != std::string::npos) sink = child;
    }
    return sink > 0;
  }, 10s, 25ms)) << ReadAll(tmp_ / "long.log");
  kill(pid, SIGKILL);
  testing::WaitFor(pid, 30s);
  EXPECT_TRUE(testing::Eventually("the sink to die with faultline", [&] {
    std::string stat = ReadAll("/proc/" + std::to_string(sink) + "/stat");
    return stat.empty() || stat.find(") Z") != std::string::npos;
  }, 5s, 25ms));
}

}  // namespace
}  // namespace faultline
