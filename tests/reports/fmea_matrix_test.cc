// Unit tests of the coverage matrix, measured detection and suite probe
// coverage (reports/fmea_matrix.h, reports/probe_coverage.h) on hand-built
// verdicts.
#include <gtest/gtest.h>

#include <cmath>

#include "reports/fmea_matrix.h"
#include "reports/fmea_scales.h"
#include "reports/probe_coverage.h"

namespace faultline::reports {
namespace {

using nlohmann::json;

FailureMode Mode() {
  FailureMode m;
  m.id = "race";
  m.faults = {"kill_agent"};
  m.invariants = {"single_owner"};
  return m;
}

json Verdict(bool landed, bool violated, const json& probes, const char* mutant = nullptr) {
  json v = {{"faults", json::array({{{"kind", "kill_agent"}, {"landed", landed}}})},
            {"invariants",
             json::array({{{"name", "single_owner"},
                           {"violations", violated ? json::array({{{"message", "x"}}})
                                                   : json::array()}}})},
            {"probes", probes},
            {"mode", "lockstep"}};
  if (mutant) v["mutant"] = mutant;
  return v;
}

struct Runs {
  std::vector<std::string> fmea = {"race"};
  std::vector<json> verdicts;
  json resolved = {{"expect", {{"reached", {"takeover.after_expiry"}}}}};
  std::vector<RunEvidence> Evidence() const {
    std::vector<RunEvidence> out;
    for (const json& v : verdicts) out.push_back({"s", &fmea, &v, &resolved, true});
    return out;
  }
};

TEST(DetectionBound, ClopperPearsonLowerBound) {
  EXPECT_DOUBLE_EQ(DetectionLowerBound(0, 10), 0);
  EXPECT_NEAR(DetectionLowerBound(3, 3), std::pow(0.05, 1.0 / 3), 1e-12);
  EXPECT_NEAR(DetectionLowerBound(100, 100), 0.97049, 1e-4);
  // 64 of 100 (check_then_create's catch rate): the exact one-sided bound.
  const double p = DetectionLowerBound(64, 100);
  EXPECT_NEAR(1 - BinomialCdf(63, 100, p), 0.05, 1e-6);
  EXPECT_NEAR(p, 0.5535, 1e-3);
}

TEST(DetectionBound, AiagDetectionScale) {
  EXPECT_EQ(MeasuredDetectionScore(0.995), 1);
  EXPECT_EQ(MeasuredDetectionScore(0.9705), 2);
  EXPECT_EQ(MeasuredDetectionScore(0.5535), 6);
  EXPECT_EQ(MeasuredDetectionScore(0.368), 7);
  EXPECT_EQ(MeasuredDetectionScore(0.01), 9);
  EXPECT_EQ(MeasuredDetectionScore(0), 10);
}

TEST(MeasuredDetection, PlantedDefectRunsAloneAreEvidence) {
  Runs runs;
  const json reached = {{"takeover.after_expiry", {{"reached", 1}, {"hits", 1}}}};
  runs.verdicts = {Verdict(true, false, reached),            // product run: not evidence
                   Verdict(false, true, json::object(), "m"),  // planted, detected
                   Verdict(false, true, reached, "m"),
                   Verdict(false, false, json::object(), "m")};  // planted, missed
  const json d = MeasuredDetection(Mode(), runs.Evidence());
  ASSERT_TRUE(d.is_object());
  EXPECT_EQ(d["runs"], 3);
  EXPECT_EQ(d["detected"], 2);
  EXPECT_NEAR(d["per_run_lower95"].get<double>(), DetectionLowerBound(2, 3), 1e-12);
  EXPECT_EQ(d["D"], MeasuredDetectionScore(DetectionLowerBound(2, 3)));
  EXPECT_NEAR(d["within_budget_lower95"].get<double>(),
              1 - std::pow(1 - DetectionLowerBound(2, 3), kDetectionBudgetRuns), 1e-12);
  EXPECT_EQ(d["mutants"][0]["mutant"], "m");

  Runs product_only;
  product_only.verdicts = {Verdict(true, false, reached)};
  EXPECT_TRUE(MeasuredDetection(Mode(), product_only.Evidence()).is_null());
}

TEST(CoverageMatrix, CellsCountLandedCheckedAndFiredAndProbesTheirRuns) {
  Runs runs;
  const json reached = {{"takeover.after_expiry", {{"reached", 2}, {"hits", 2}}},
                        {"fault.kill_agent.landed", {{"reached", 1}, {"hits", 1}}}};
  runs.verdicts = {Verdict(true, true, reached), Verdict(true, false, json::object()),
                   Verdict(false, false, json::object()), Verdict(false, true, reached, "m")};
  const json x = CoverageMatrix(Mode(), runs.Evidence());
  EXPECT_EQ(x["runs"], 3);
  EXPECT_EQ(x["planted_runs"], 1);
  ASSERT_EQ(x["cells"].size(), 2u);
  EXPECT_EQ(x["cells"][0], json({{"fault", "kill_agent"}, {"invariant", "single_owner"},
                                 {"runs", 2}, {"detected", 1}}));
  EXPECT_EQ(x["cells"][1]["fault"], "planted defect");
  EXPECT_EQ(x["cells"][1]["detected"], 1);
  ASSERT_EQ(x["probes"].size(), 2u);
  EXPECT_EQ(x["probes"][0]["probe"], "fault.kill_agent.landed");
  EXPECT_EQ(x["probes"][1], json({{"probe", "takeover.after_expiry"}, {"runs", 3},
                                  {"reached", 1}, {"detected", 1}, {"planted_reached", 1}}));
}

TEST(ProbeCoverage, NamesWhatNoRunReached) {
  ProbeCoverage c;
  // An adapter-run system: its expectations, its fault and the adapter's probes are known.
  c.Add({{"mode", "lockstep"},
         {"probes", {{"op.claim.granted", {{"reached", 3}, {"hits", 3}}},
                     {"queue.deep", {{"reached", 4}, {"hits", 0}}}}}},
        {{"sut", {{"adapter", json::object()}}},
         {"expect", {{"sometimes", {"queue.deep"}}}},
         {"faults", {{{"kind", "kill_agent"}}}}});
  const std::vector<std::string> missing = c.Unreached();
  EXPECT_TRUE(std::count(missing.begin(), missing.end(), "queue.deep"));  // never held
  EXPECT_TRUE(std::count(missing.begin(), missing.end(), "fault.kill_agent.landed"));
  EXPECT_TRUE(std::count(missing.begin(), missing.end(), "op.complete.ok"));
  EXPECT_FALSE(std::count(missing.begin(), missing.end(), "op.claim.granted"));
  EXPECT_FALSE(std::count(missing.begin(), missing.end(), "takeover.after_expiry"));
  // A reference run makes the reference's probes known.
  c.Add({{"mode", "lockstep"}, {"probes", json::object()}}, json::object());
  EXPECT_EQ(c.runs(), 2);
  const std::vector<std::string> now = c.Unreached();
  EXPECT_TRUE(std::count(now.begin(), now.end(), "takeover.after_expiry"));
  EXPECT_NE(c.Text().find("never reached: "), std::string::npos);
}

}  // namespace
}  // namespace faultline::reports
