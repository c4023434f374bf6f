// The rate and telemetry checkers over hand-built histories (success_rate,
// no_silent_span_loss, no_retry_storm).
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sim/invariants/no_retry_storm.h"
#include "sim/invariants/no_silent_span_loss.h"
#include "sim/invariants/success_rate.h"
#include "tests/sim/checker_history.h"

namespace faultline::checker_test {
namespace {

// ---------------------------------------------------------------------------
// success_rate

// `ok` claim_ok, `contended` claim_contended, `renewed` renew_ok, `completed`
// complete_ok and `timeouts` lock_timeout events, then run_end.
std::vector<json> Coordination(int ok, int contended, int renewed = 0, int completed = 0,
                               int timeouts = 0) {
  std::vector<json> h = {RunStart("lockstep")};
  uint64_t seq = 1;
  for (int i = 0; i < ok; ++i) h.push_back(Claim(seq++, "w1", "a1", i + 1, 1000, 4000));
  for (int i = 0; i < contended; ++i) {
    h.push_back(Ev(seq++, 1000, "claim_contended", {{"agent", "a2"}, {"tried", 2}}));
  }
  for (int i = 0; i < renewed; ++i) h.push_back(Op(seq++, 1100, "renew_ok", "w1", "a1", ok));
  for (int i = 0; i < completed; ++i) h.push_back(Op(seq++, 1200, "complete_ok", "w1", "a1", ok));
  for (int i = 0; i < timeouts; ++i) {
    h.push_back(Ev(seq++, 1300, "lock_timeout", {{"agent", "a1"}, {"item", "w1"},
                                                 {"op", "renew"}}));
  }
  h.push_back(RunEnd(seq, 2000, json::array()));
  return h;
}

TEST(SuccessRateTest, ExactlyEightyPercentIsFine) {
  auto v = Check<SuccessRate>(Coordination(80, 20));
  EXPECT_TRUE(v.empty()) << Messages(v);
  v = Check<SuccessRate>(Coordination(16, 4));  // 20 attempts, 80 %
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(SuccessRateTest, SeventyNinePercentIsSev3) {
  auto v = Check<SuccessRate>(Coordination(79, 21));
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{80, 101}));  // the first claim_contended, the run_end
  EXPECT_EQ(v[0].message,
            "SEV-3: claim success rate 79.0% is below 80% (79 of 100 claim attempts got an "
            "item; 21 lost every race)");
}

// The scenario's SLO moves the SEV-3 bounds; SEV-2 stays below 50 %.
TEST(SuccessRateTest, TheScenariosSloSetsTheSev3Bounds) {
  auto with_slo = [](std::vector<json> h, int min_success, int max_timeouts) {
    h[0]["slo"] = {{"min_claim_success_percent", min_success},
                   {"max_lock_timeout_percent", max_timeouts}};
    return h;
  };
  EXPECT_TRUE(Check<SuccessRate>(with_slo(Coordination(70, 30), 60, 20)).empty());
  auto v = Check<SuccessRate>(with_slo(Coordination(85, 15), 90, 20));
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "SEV-3: claim success rate 85.0% is below 90%"))
      << v[0].message;
  v = Check<SuccessRate>(with_slo(Coordination(40, 60), 0, 20));
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "SEV-2")) << v[0].message;
}

TEST(SuccessRateTest, FortyNinePercentIsSev2) {
  auto v = Check<SuccessRate>(Coordination(49, 51));
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].message,
            "SEV-2: claim success rate 49.0% is below 50% (49 of 100 claim attempts got an "
            "item; 51 lost every race)");
  v = Check<SuccessRate>(Coordination(50, 50));  // exactly 50 %: SEV-3, not SEV-2
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "SEV-3: claim success rate 50.0%")) << v[0].message;
}

TEST(SuccessRateTest, ARateJustBelowTheThresholdDoesNotReadAsIt) {
  // 3999 of 5000 is 79.98 %.
  auto v = Check<SuccessRate>(Coordination(3999, 1001));
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "SEV-3: claim success rate 79.9% is below 80%"))
      << v[0].message;
}

TEST(SuccessRateTest, FewerThanTwentyAttemptsGiveNoVerdict) {
  auto v = Check<SuccessRate>(Coordination(0, 19));
  EXPECT_TRUE(v.empty()) << Messages(v);
  v = Check<SuccessRate>(Coordination(0, 20));
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "SEV-2: claim success rate 0.0%")) << v[0].message;
}

TEST(SuccessRateTest, TimeoutRateAboveTwentyPercentIsSev3) {
  // 10 claims + 4 renewals + 2 completions + 4 timeouts = 20 operations, 20 %.
  auto v = Check<SuccessRate>(Coordination(10, 0, 4, 2, 4));
  EXPECT_TRUE(v.empty()) << Messages(v);

  v = Check<SuccessRate>(Coordination(10, 0, 3, 2, 5));  // 25 %
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{16, 21}));  // the first lock_timeout, the run_end
  EXPECT_EQ(v[0].message,
            "SEV-3: lock timeout rate 25.0% is above 20% (5 of 20 operations gave up waiting "
            "for a lock; 10 claims, 3 renewals and 2 completions succeeded)");

  v = Check<SuccessRate>(Coordination(10, 0, 2, 2, 5));  // 19 operations: no verdict
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(SuccessRateTest, AtMostOneViolationPerRate) {
  auto v = Check<SuccessRate>(Coordination(20, 80, 0, 0, 60));
  ASSERT_EQ(v.size(), 2u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "SEV-2: claim success rate 20.0%")) << v[0].message;
  EXPECT_TRUE(Contains(v[1].message, "SEV-3: lock timeout rate 75.0%")) << v[1].message;
}


// ---------------------------------------------------------------------------
// no_silent_span_loss

json SpanCreated(uint64_t seq, const char* agent, const char* span, const char* item = "") {
  json extra = {{"proc", agent}, {"agent", agent}, {"span", span}, {"name", "claim_work"}};
  if (*item) extra["item"] = item;
  return Ev(seq, static_cast<int64_t>(seq) * 10, "span_created", extra);
}
json SpanDropped(uint64_t seq, const char* agent, std::vector<std::string> spans,
                 const char* reason = "spool_full", int64_t count = -1) {
  return Ev(seq, static_cast<int64_t>(seq) * 10, "span_dropped",
            {{"proc", agent}, {"agent", agent}, {"by", agent},
             {"count", count < 0 ? static_cast<int64_t>(spans.size()) : count},
             {"reason", reason}, {"spans", spans}});
}
json SinkReceived(uint64_t seq, std::vector<std::string> spans) {
  return Ev(seq, 5000, "sink_received",
            {{"total", spans.size()}, {"part", 0}, {"parts", 1}, {"spans", spans}});
}
json SpoolLeft(uint64_t seq, const char* agent, std::vector<std::string> spans) {
  return Ev(seq, 5000, "spool_left", {{"agent", agent}, {"count", spans.size()}, {"spans", spans}});
}

TEST(NoSilentSpanLossTest, DeliveredDroppedAndSpooledSpansAreAllAccountedFor) {
  NoSilentSpanLoss checker;
  std::vector<json> history = {
      RunStart("lockstep"),
      SpanCreated(1, "a1", "0000000000000001", "w1"),
      SpanCreated(2, "a1", "0000000000000002"),
      SpanCreated(3, "a2", "0000000000000003"),
      SpanCreated(4, "a2", "0000000000000004"),
      SpanDropped(5, "a2", {"0000000000000003"}),
      SpoolLeft(6, "a2", {"0000000000000004"}),
      SinkReceived(7, {"0000000000000001", "0000000000000002"}),
      RunEnd(8, 5000, json::array()),
  };
  for (const json& line : history) checker.Observe(TraceEvent::FromJson(line));
  std::vector<Violation> v;
  checker.Finish(&v);
  EXPECT_TRUE(v.empty()) << Messages(v);
  EXPECT_EQ(checker.Summary(), json({{"created", 4}, {"delivered", 2}, {"dropped", 1},
                                     {"still_spooled", 1}, {"lost", 0}}));
  EXPECT_EQ(checker.SummaryText(),
            "4 spans created: 2 delivered to the collector, 1 dropped and counted, 1 still "
            "spooled, 0 lost");
}

TEST(NoSilentSpanLossTest, ASpanNobodyAccountsForIsASilentLossPerAgent) {
  auto v = Check<NoSilentSpanLoss>({
      RunStart("lockstep"),
      SpanCreated(1, "a1", "0000000000000001", "w7"),
      SpanCreated(2, "a1", "0000000000000002"),
      SpanCreated(3, "a2", "0000000000000003"),
      SinkReceived(4, {"0000000000000002"}),
      RunEnd(5, 5000, json::array()),
  });
  ASSERT_EQ(v.size(), 2u) << Messages(v);
  EXPECT_EQ(v[0].invariant, "no_silent_span_loss");
  EXPECT_EQ(v[0].evidence, (Evidence{1}));
  EXPECT_EQ(v[0].message,
            "a1 lost 1 span silently: created, never received by the collector, never counted "
            "in a span_dropped, and in no spool at the end (0000000000000001 claim_work w7 at "
            "0.010 s)");
  EXPECT_EQ(v[1].evidence, (Evidence{3}));
  EXPECT_TRUE(Contains(v[1].message, "a2 lost 1 span silently")) << v[1].message;
}

TEST(NoSilentSpanLossTest, SpansWithoutTheCollectorsRecordAreAViolation) {
  auto v = Check<NoSilentSpanLoss>({
      RunStart("lockstep"),
      SpanCreated(1, "a1", "0000000000000001"),
      RunEnd(2, 5000, json::array()),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "no sink_received event")) << v[0].message;
  EXPECT_EQ(v[0].evidence, (Evidence{1}));
}

TEST(NoSilentSpanLossTest, UnreadableSpoolLinesExcuseAsManySpansOfTheirAgent) {
  auto v = Check<NoSilentSpanLoss>({
      RunStart("lockstep"),
      SpanCreated(1, "a1", "0000000000000001"),
      SpanCreated(2, "a1", "0000000000000002"),
      SpanDropped(3, "a1", {}, "unreadable", 1),
      SinkReceived(4, {}),
      RunEnd(5, 5000, json::array()),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "a1 lost 1 span silently")) << v[0].message;
}

TEST(NoSilentSpanLossTest, ARunWithoutTelemetryHoldsWithoutASummary) {
  NoSilentSpanLoss checker;
  checker.Observe(TraceEvent::FromJson(RunStart("lockstep")));
  checker.Observe(TraceEvent::FromJson(RunEnd(1, 1000, json::array())));
  std::vector<Violation> v;
  checker.Finish(&v);
  EXPECT_TRUE(v.empty());
  EXPECT_TRUE(checker.Summary().is_null());
  EXPECT_EQ(checker.SummaryText(), "");
}

// ---------------------------------------------------------------------------
// no_retry_storm

json ModelCall(uint64_t seq, int64_t t_ms, const char* agent, bool ok,
               const char* error = "HTTP 503") {
  json extra = {{"proc", agent}, {"agent", agent}, {"item", "w1"}, {"ok", ok}};
  if (!ok) extra["error"] = error;
  return Ev(seq, t_ms, "model_call", extra);
}

TEST(NoRetryStormTest, FailuresWithABackoffHold) {
  // The reference's pace: 50 ms, then doubling (at most ~5 failures a second).
  std::vector<json> lines = {RunStart("lockstep")};
  int64_t t = 100, wait = 50;
  for (uint64_t seq = 1; seq <= 12; ++seq, t += wait, wait = std::min<int64_t>(wait * 2, 1000)) {
    lines.push_back(ModelCall(seq, t, "a1", false));
  }
  lines.push_back(ModelCall(13, t, "a1", true));
  EXPECT_TRUE(Check<NoRetryStorm>(lines).empty());
}

TEST(NoRetryStormTest, ElevenFailuresWithinASecondAreAStorm) {
  std::vector<json> lines = {RunStart("lockstep")};
  for (uint64_t seq = 1; seq <= 11; ++seq) {
    lines.push_back(ModelCall(seq, 1000 + static_cast<int64_t>(seq) * 90, "a2", false));
  }
  auto v = Check<NoRetryStorm>(lines);
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "a2 made 11 failed model calls within 0.900 s"))
      << v[0].message;
  EXPECT_EQ(v[0].evidence, (Evidence{1, 11}));
}

TEST(NoRetryStormTest, TenFailuresASecondAndSuccessesAndAbandonedCallsDoNotCount) {
  std::vector<json> lines = {RunStart("lockstep")};
  uint64_t seq = 1;
  // Ten failures spread over exactly one second: the eleventh is past the window.
  for (int i = 0; i < 11; ++i) lines.push_back(ModelCall(seq++, 1000 + i * 100, "a1", false));
  // Successes and abandoned waits in between are not retries.
  for (int i = 0; i < 30; ++i) lines.push_back(ModelCall(seq++, 2100 + i, "a1", true));
  for (int i = 0; i < 30; ++i) {
    lines.push_back(ModelCall(seq++, 2200 + i, "a3", false, "abandoned"));
  }
  EXPECT_TRUE(Check<NoRetryStorm>(lines).empty()) << Messages(Check<NoRetryStorm>(lines));
}

TEST(NoRetryStormTest, EachStormingAgentIsReportedOnce) {
  std::vector<json> lines = {RunStart("lockstep")};
  uint64_t seq = 1;
  for (int i = 0; i < 40; ++i) {
    lines.push_back(ModelCall(seq++, 500 + i * 5, i % 2 ? "a1" : "a2", false));
  }
  auto v = Check<NoRetryStorm>(lines);
  ASSERT_EQ(v.size(), 2u) << Messages(v);
  EXPECT_TRUE(Contains(v[0].message, "a1 made 20 failed model calls")) << v[0].message;
  EXPECT_TRUE(Contains(v[1].message, "a2 made 20 failed model calls")) << v[1].message;
}

}  // namespace
}  // namespace faultline::checker_test
