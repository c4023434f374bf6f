// Unit tests of reports/: the catalogue's shape and cross-reference checks,
// the statistics behind the FMEA figures, what the trace analysis measures
// (detection latency, recovery time) on hand-built histories, and that the
// JUnit and SVG writers produce well-formed XML.
#include <gtest/gtest.h>

#include <sstream>

#include "reports/fmea_catalog.h"
#include "reports/fmea_scales.h"
#include "reports/junit.h"
#include "reports/markup.h"
#include "reports/timeline_svg.h"
#include "reports/trace_analysis.h"
#include "tests/reports/xml_check.h"

namespace faultline::reports {
namespace {

using nlohmann::json;

// --- catalogue ----------------------------------------------------------

Catalog Registries() {
  Catalog c;
  FaultKind kill;
  kill.name = "kill_agent";
  FaultKind stall;
  stall.name = "stall_agent";
  c.faults = {kill, stall};
  for (const char* name : {"single_owner", "no_lost_work"}) {
    InvariantKind k{};
    k.name = name;
    k.summary = "";
    c.invariants.push_back(k);
  }
  return c;
}

constexpr const char* kGoodMode = R"({"id": "worker-crash", "title": "Worker crash",
    "source": "runbook", "S": null, "O": null, "D": null, "RPN": null,
    "faults": ["kill_agent"], "invariants": ["single_owner"], "scenarios": ["killed"]})";

std::vector<ScenarioError> Parse(const std::string& text, FmeaCatalog* out) {
  std::vector<ScenarioError> errors;
  ParseFmeaCatalog(text, "fmea.json", out, &errors);
  return errors;
}

bool Mentions(const std::vector<ScenarioError>& errors, const std::string& pointer,
              const std::string& words) {
  for (const ScenarioError& e : errors) {
    if (e.pointer == pointer && e.message.find(words) != std::string::npos) return true;
  }
  return false;
}

std::string Dump(const std::vector<ScenarioError>& errors) {
  std::string out;
  for (const ScenarioError& e : errors) out += e.ToString() + "\n";
  return out;
}

TEST(FmeaCatalog, ParsesAGoodCatalogueWithComments) {
  FmeaCatalog c;
  auto errors = Parse(std::string("// comment\n{\"modes\": [") + kGoodMode + "]}", &c);
  ASSERT_TRUE(errors.empty()) << Dump(errors);
  ASSERT_EQ(c.modes.size(), 1u);
  EXPECT_EQ(c.modes[0].id, "worker-crash");
  EXPECT_FALSE(c.modes[0].rpn.has_value());
  EXPECT_EQ(c.Find("worker-crash"), &c.modes[0]);
  EXPECT_EQ(c.Find("nope"), nullptr);
}

TEST(FmeaCatalog, ShapeErrorsNameTheirPointer) {
  FmeaCatalog c;
  auto errors = Parse(R"({"modes": [
      {"id": "Bad Id", "title": "", "source": "x", "S": 11, "O": 2, "D": 3, "RPN": 66,
       "faults": "kill_agent", "invariants": ["a", "a"], "scenarios": [], "colour": "red"},
      {"id": "dup", "title": "t", "source": "s", "S": 2, "O": 3, "D": 4, "RPN": 25,
       "faults": [], "invariants": [], "scenarios": []},
      {"id": "dup", "title": "t", "source": "s", "O": null, "D": null, "RPN": null,
       "faults": [], "invariants": [], "scenarios": []}]})",
                      &c);
  EXPECT_TRUE(Mentions(errors, "/modes/0/id", "expected an id")) << Dump(errors);
  EXPECT_TRUE(Mentions(errors, "/modes/0/title", "non-empty string")) << Dump(errors);
  EXPECT_TRUE(Mentions(errors, "/modes/0/S", "integer from 1 to 10")) << Dump(errors);
  EXPECT_TRUE(Mentions(errors, "/modes/0/faults", "expected an array")) << Dump(errors);
  EXPECT_TRUE(Mentions(errors, "/modes/0/invariants/1", "listed twice")) << Dump(errors);
  EXPECT_TRUE(Mentions(errors, "/modes/0/colour", "unknown key")) << Dump(errors);
  EXPECT_TRUE(Mentions(errors, "/modes/1/RPN", "is not S x O x D")) << Dump(errors);
  EXPECT_TRUE(Mentions(errors, "/modes/2", "missing \"S\"")) << Dump(errors);
  EXPECT_TRUE(Mentions(errors, "/modes/2/id", "used twice")) << Dump(errors);
}

TEST(FmeaCatalog, NotJsonIsOneError) {
  FmeaCatalog c;
  auto errors = Parse("{\"modes\": [", &c);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("not valid JSON"), std::string::npos);
}

TEST(FmeaCatalog, CrossReferencesAreChecked) {
  FmeaCatalog c;
  ASSERT_TRUE(Parse(R"({"modes": [
      {"id": "worker-crash", "title": "t", "source": "s", "S": null, "O": null, "D": null,
       "RPN": null, "faults": ["kill_agnet", "kill_agent"], "invariants": ["single_ownr"],
       "scenarios": ["killed", "ghost"]},
      {"id": "stalled", "title": "t", "source": "s", "S": null, "O": null, "D": null,
       "RPN": null, "faults": ["stall_agent"], "invariants": [], "scenarios": ["killed"]}]})",
                    &c).empty());
  std::vector<ScenarioFmea> scenarios = {
      {"scenarios/killed.json", "killed", {"worker-crash", "nope"}, true, true,
       {"kill_agent", "stall_agent"}},
      {"scenarios/other.json", "other", {"stalled"}, true, true, {"stall_agent"}},
      {"/elsewhere/mine.json", "mine", {"stalled"}, false, true, {"stall_agent"}},
  };
  auto errors = CheckCatalog(c, Registries(), scenarios);
  EXPECT_TRUE(Mentions(errors, "/modes/0/faults/0", "did you mean \"kill_agent\"")) << Dump(errors);
  EXPECT_TRUE(Mentions(errors, "/modes/0/invariants/0", "did you mean \"single_owner\""))
      << Dump(errors);
  EXPECT_TRUE(Mentions(errors, "/modes/0/scenarios/1", "no scenario named \"ghost\""))
      << Dump(errors);
  // killed.json names an unknown id, and does not name "stalled" although the
  // catalogue lists it there.
  EXPECT_TRUE(Mentions(errors, "/fmea/1", "unknown failure-mode id \"nope\"")) << Dump(errors);
  EXPECT_TRUE(Mentions(errors, "/fmea", "does not list \"stalled\"")) << Dump(errors);
  // other.json names "stalled", whose scenarios do not list it.
  EXPECT_TRUE(Mentions(errors, "/modes/1/scenarios", "does not list scenario \"other\""))
      << Dump(errors);
  // A scenario from elsewhere only needs known ids: "mine" is not an error.
  for (const ScenarioError& e : errors) EXPECT_EQ(e.message.find("\"mine\""), std::string::npos);
  EXPECT_EQ(errors.size(), 6u) << Dump(errors);
}

TEST(FmeaCatalog, AListedScenarioMustInjectOneOfTheModesFaults) {
  FmeaCatalog c;
  ASSERT_TRUE(Parse(std::string("{\"modes\": [") + kGoodMode + "]}", &c).empty());
  ScenarioFmea killed{"scenarios/killed.json", "killed", {"worker-crash"}, true, true,
                      {"stall_agent"}};
  auto errors = CheckCatalog(c, Registries(), {killed});
  EXPECT_TRUE(Mentions(errors, "/modes/0/scenarios/0", "injects none of this mode's faults"))
      << Dump(errors);
  killed.faults.push_back("kill_agent");
  EXPECT_TRUE(CheckCatalog(c, Registries(), {killed}).empty());
}

TEST(FmeaCatalog, UncheckedScenariosOnlyAnswerForNames) {
  FmeaCatalog c;
  ASSERT_TRUE(Parse(std::string("{\"modes\": [") + kGoodMode + "]}", &c).empty());
  ScenarioFmea killed{"scenarios/killed.json", "killed", {"bogus"}, true, /*checked=*/false,
                      {"kill_agent"}};
  EXPECT_TRUE(CheckCatalog(c, Registries(), {killed}).empty());
  killed.checked = true;
  EXPECT_FALSE(CheckCatalog(c, Registries(), {killed}).empty());
}

// --- scales ---------------------------------------------------------------

TEST(FmeaScales, PercentileIsNearestRank) {
  EXPECT_FALSE(Percentile({}, 50).has_value());
  EXPECT_EQ(*Percentile({7}, 99), 7);
  EXPECT_EQ(*Percentile({4, 1, 3, 2}, 50), 2);
  EXPECT_EQ(*Percentile({4, 1, 3, 2}, 99), 4);
  std::vector<int64_t> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  EXPECT_EQ(*Percentile(hundred, 50), 50);
  EXPECT_EQ(*Percentile(hundred, 99), 99);
}

TEST(FmeaScales, ZeroFailuresUseTheRuleOfThree) {
  UpperBound b = OccurrenceUpperBound(0, 300);
  EXPECT_DOUBLE_EQ(b.value, 0.01);
  EXPECT_EQ(b.method, "rule of three");
  EXPECT_DOUBLE_EQ(OccurrenceUpperBound(0, 2).value, 1.0);
}

TEST(FmeaScales, FailuresUseTheExactClopperPearsonBound) {
  // One-sided 95 %: 1 failure in 10 runs gives 0.3942 (tables of the exact
  // binomial bound); at the bound, P(X <= k) is 5 %.
  UpperBound b = OccurrenceUpperBound(1, 10);
  EXPECT_EQ(b.method, "Clopper-Pearson");
  EXPECT_NEAR(b.value, 0.3942, 5e-4);
  EXPECT_NEAR(BinomialCdf(1, 10, b.value), 0.05, 1e-6);
  UpperBound half = OccurrenceUpperBound(50, 100);
  EXPECT_GT(half.value, 0.5);
  EXPECT_LT(half.value, 0.6);
  EXPECT_DOUBLE_EQ(OccurrenceUpperBound(3, 3).value, 1.0);
}

TEST(FmeaScales, OccurrenceScoreFollowsTheAiagTable) {
  EXPECT_EQ(OccurrenceScore(1.0), 10);
  EXPECT_EQ(OccurrenceScore(0.1), 10);
  EXPECT_EQ(OccurrenceScore(0.099), 9);
  EXPECT_EQ(OccurrenceScore(0.01), 7);
  EXPECT_EQ(OccurrenceScore(0.003), 6);
  EXPECT_EQ(OccurrenceScore(0.0005), 5);
  EXPECT_EQ(OccurrenceScore(2e-6), 2);
  EXPECT_EQ(OccurrenceScore(1e-7), 1);
}

TEST(FmeaScales, DetectionAndSeverity) {
  EXPECT_EQ(DetectionScore({0, false, false, false}).value, 10);
  EXPECT_EQ(DetectionScore({2, false, false, false}).value, 10);
  EXPECT_EQ(DetectionScore({2, false, true, false}).value, 5);
  EXPECT_EQ(DetectionScore({2, true, true, false}).value, 3);
  EXPECT_EQ(DetectionScore({2, true, true, true}).value, 2);
  EXPECT_EQ(SeverityScore(8, "Low").value, 8);
  EXPECT_EQ(SeverityScore(std::nullopt, "Critical").value, 9);
  EXPECT_EQ(SeverityScore(std::nullopt, "SEV-2").value, 8);
  Score unknown = SeverityScore(std::nullopt, "");
  EXPECT_EQ(unknown.value, 10);
  EXPECT_NE(unknown.basis.find("assumed"), std::string::npos);
}

// --- trace analysis ---------------------------------------------------------

std::string Line(json j) { return j.dump() + "\n"; }

// A history builder: seq numbers in order, times in µs.
struct History {
  std::string text;
  uint64_t seq = 0;
  uint64_t Add(json e) {
    e["seq"] = seq;
    text += Line(e);
    return seq++;
  }
  TraceFacts Analyze(const EvidenceIndex& evidence = {}) const {
    std::istringstream in(text);
    return AnalyzeTrace(in, evidence);
  }
};

json Claim(const char* agent, const char* item, int token, int64_t t) {
  return {{"type", "claim_ok"}, {"proc", agent}, {"agent", agent}, {"item", item},
          {"token", token},     {"t", t},        {"now_us", t + 1'000'000},
          {"lease_until_us", t + 1'600'000}};
}

TEST(TraceAnalysis, KilledHolderRecoversAtTheTakeover) {
  History h;
  h.Add({{"type", "spawn"}, {"proc", "sim"}, {"agent", "a0"}, {"t", 0}});
  h.Add({{"type", "spawn"}, {"proc", "sim"}, {"agent", "a1"}, {"t", 0}});
  h.Add(Claim("a0", "w1", 1, 0));
  h.Add({{"type", "exit"}, {"proc", "sim"}, {"agent", "a0"}, {"signal", 9}, {"by", "kill_agent"},
         {"t", 100}});
  h.Add({{"type", "fault"}, {"proc", "sim"}, {"kind", "kill_agent"}, {"index", 0},
         {"agent", "a0"}, {"t", 100}});
  h.Add({{"type", "takeover"}, {"proc", "a1"}, {"agent", "a1"}, {"item", "w1"}, {"owner", "a0"},
         {"token", 1}, {"t", 700}});
  h.Add(Claim("a1", "w1", 2, 700));
  h.Add({{"type", "complete_ok"}, {"proc", "a1"}, {"agent", "a1"}, {"item", "w1"}, {"token", 2},
         {"t", 800}});
  TraceFacts f = h.Analyze();
  ASSERT_EQ(f.recoveries.size(), 1u);
  EXPECT_EQ(f.recoveries[0].affected, 1);
  EXPECT_EQ(f.recoveries[0].recovery_us, 600);
  ASSERT_EQ(f.claims.size(), 2u);
  EXPECT_EQ(f.claims[0].holder_died, 100);
  EXPECT_EQ(f.claims[0].ended_by, "taken over");
  EXPECT_EQ(f.claims[0].end, 700);
  EXPECT_EQ(f.claims[1].ended_by, "done");
  EXPECT_EQ(f.lanes, (std::vector<std::string>{"run", "reaper", "a0", "a1"}));
  EXPECT_FALSE(f.DetectionLatency().has_value());  // no violation
}

TEST(TraceAnalysis, ReaperRecoversAtItsNextStartAndIdleVictimsGiveNoSample) {
  History h;
  h.Add({{"type", "reaper_start"}, {"proc", "reaper"}, {"t", 0}});
  h.Add({{"type", "fault"}, {"proc", "sim"}, {"kind", "reaper_crash"}, {"agent", "reaper"},
         {"t", 50}});
  h.Add({{"type", "fault"}, {"proc", "sim"}, {"kind", "kill_agent"}, {"agent", "a4"}, {"t", 60}});
  h.Add({{"type", "reaper_start"}, {"proc", "reaper"}, {"t", 300}});
  TraceFacts f = h.Analyze();
  ASSERT_EQ(f.recoveries.size(), 2u);
  EXPECT_EQ(f.recoveries[0].recovery_us, 250);
  EXPECT_EQ(f.recoveries[1].affected, 0);
  EXPECT_EQ(f.recoveries[1].recovery_us, -1);
  EXPECT_FALSE(f.recoveries[1].unrecovered);
}

TEST(TraceAnalysis, ItemsNamedByTheFaultAndWholeSystemFaults) {
  History h;
  h.Add(Claim("a0", "w1", 1, 0));
  h.Add(Claim("a1", "w2", 1, 0));
  // corrupt_file names items/w3.json: recovered at w3's quarantine.
  h.Add({{"type", "fault"}, {"proc", "sim"}, {"kind", "corrupt_file"}, {"file", "items/w3.json"},
         {"t", 10}});
  // disk_full names nothing: every open grant (w1, w2) is affected.
  h.Add({{"type", "fault"}, {"proc", "sim"}, {"kind", "disk_full"}, {"t", 20}});
  h.Add({{"type", "fault"}, {"proc", "sim"}, {"kind", "disk_full"}, {"healed", true}, {"t", 30}});
  h.Add({{"type", "quarantine"}, {"proc", "a1"}, {"agent", "a1"}, {"item", "w3"}, {"t", 40}});
  h.Add({{"type", "complete_ok"}, {"proc", "a0"}, {"agent", "a0"}, {"item", "w1"}, {"t", 50}});
  h.Add({{"type", "release"}, {"proc", "a1"}, {"agent", "a1"}, {"item", "w2"}, {"t", 90}});
  TraceFacts f = h.Analyze();
  ASSERT_EQ(f.recoveries.size(), 2u) << "a heal is no landing";
  EXPECT_EQ(f.recoveries[0].recovery_us, 30);
  EXPECT_EQ(f.recoveries[1].affected, 2);
  EXPECT_EQ(f.recoveries[1].recovery_us, 70);
  ASSERT_EQ(f.faults.size(), 3u);
  EXPECT_TRUE(f.faults[2].heal);
  EXPECT_EQ(*f.first_landing, 10);
}

TEST(TraceAnalysis, UnfreedItemsAreUnrecoveredAndEvidenceGivesTheLatency) {
  History h;
  h.Add(Claim("a0", "w1", 1, 0));
  h.Add({{"type", "fault"}, {"proc", "sim"}, {"kind", "stall_agent"}, {"agent", "a0"},
         {"until_us", 5000}, {"t", 100}});
  uint64_t evidence = h.Add({{"type", "run_end"}, {"proc", "sim"}, {"t", 900}});
  TraceFacts f = h.Analyze({{evidence, {"progress"}}});
  ASSERT_EQ(f.recoveries.size(), 1u);
  EXPECT_TRUE(f.recoveries[0].unrecovered);
  EXPECT_EQ(*f.DetectionLatency(), 800);
  ASSERT_EQ(f.evidence.size(), 1u);
  EXPECT_EQ(f.evidence[0].lane, "run");
  EXPECT_EQ(f.claims[0].ended_by, "open");
  EXPECT_EQ(f.faults[0].until, 5000);
}

TEST(TraceAnalysis, EvidenceIndexComesFromTheVerdict) {
  json verdict = {{"invariants",
                   {{{"name", "single_owner"},
                     {"violations", {{{"message", "m"}, {"evidence", {3, 7}}}}}},
                    {{"name", "progress"}, {"violations", {{{"message", "m"}, {"evidence", {7}}}}}}}}};
  EvidenceIndex e = EvidenceOf(verdict);
  EXPECT_EQ(e.size(), 2u);
  EXPECT_EQ(e[7], (std::vector<std::string>{"single_owner", "progress"}));
}

TEST(TraceAnalysis, NaturalOrder) {
  EXPECT_TRUE(NaturalLess("a2", "a10"));
  EXPECT_FALSE(NaturalLess("a10", "a2"));
  EXPECT_TRUE(NaturalLess("a", "b"));
  EXPECT_TRUE(NaturalLess("a09", "a10"));
}

// --- writers ---------------------------------------------------------------

TEST(Junit, ParsesAndCountsEveryOutcome) {
  json pass = {{"scenario", "s"}, {"seed", 1}, {"ok", true}, {"end", "completed"},
               {"stats", {{"wall_ms", 1500}}}, {"reproduce", "faultline run a & b"},
               {"vacuous", true}, {"invariants", json::array()}};
  json fail = {{"scenario", "s"}, {"seed", 2}, {"ok", false}, {"end", "completed"},
               {"reproduce", "faultline run x"},
               {"invariants",
                {{{"name", "single_owner"},
                  {"violations", {{{"message", "w1 <granted> \"twice\""}, {"evidence", {1}}},
                                  {{"message", "again"}, {"evidence", {2}}}}}}}}};
  json harness = {{"scenario", "t"}, {"seed", 3}, {"ok", false}, {"end", "harness_error"},
                  {"error", "cannot start \x01swarm"}, {"invariants", json::array()}};
  std::vector<JunitCase> cases = {JunitCaseFromVerdict(pass, "s-1", "out/s-1"),
                                  JunitCaseFromVerdict(fail, "s-2", "out/s-2"),
                                  JunitCaseFromVerdict(harness, "t-3", "out/t-3"),
                                  JunitErrorCase("bad", "bad", "bad.json: not a scenario")};
  std::string xml = RenderJunit(cases);
  std::string error;
  auto root = testing::XmlParser::Parse(xml, &error);
  ASSERT_TRUE(root) << error << "\n" << xml;
  EXPECT_EQ(root->name, "testsuites");
  EXPECT_EQ(root->Attr("tests"), "4");
  EXPECT_EQ(root->Attr("failures"), "1");
  EXPECT_EQ(root->Attr("errors"), "2");
  EXPECT_EQ(root->FindAll("testsuite").size(), 3u);
  auto testcases = root->FindAll("testcase");
  ASSERT_EQ(testcases.size(), 4u);
  EXPECT_EQ(testcases[0]->Attr("name"), "s-1");
  EXPECT_EQ(testcases[0]->Attr("time"), "1.500");
  auto failures = root->FindAll("failure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0]->Attr("message"), "single_owner: w1 <granted> \"twice\" (and 1 more)");
  EXPECT_NE(failures[0]->text.find("reproduce: faultline run x"), std::string::npos);
  EXPECT_NE(failures[0]->text.find("single_owner: again"), std::string::npos);
  auto errors = root->FindAll("error");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0]->Attr("type"), "harness error");
  EXPECT_NE(root->FindAll("system-out")[0]->text.find("vacuous"), std::string::npos);
}

TEST(Timeline, IsWellFormedSvgWithEveryKindOfMark) {
  History h;
  h.Add({{"type", "spawn"}, {"proc", "sim"}, {"agent", "a0"}, {"t", 0}});
  h.Add(Claim("a0", "w<1>", 1, 0));
  h.Add({{"type", "exit"}, {"proc", "sim"}, {"agent", "a0"}, {"signal", 9}, {"t", 100}});
  h.Add({{"type", "fault"}, {"proc", "sim"}, {"kind", "kill_agent"}, {"agent", "a0"}, {"t", 100}});
  h.Add({{"type", "fault"}, {"proc", "sim"}, {"kind", "stall_agent"}, {"agent", "a0"},
         {"until_us", 400}, {"t", 200}});
  uint64_t ev = h.Add({{"type", "lease_expired"}, {"proc", "reaper"}, {"item", "w<1>"}, {"t", 700}});
  TraceFacts f = h.Analyze({{ev, {"eventual_lock_release"}}});
  std::string svg = RenderTimelineSvg(f, {"r-1", "r · seed 1 · lockstep · violation"});
  std::string error;
  auto root = testing::XmlParser::Parse(svg, &error);
  ASSERT_TRUE(root) << error << "\n" << svg;
  EXPECT_EQ(root->name, "svg");
  EXPECT_EQ(root->Attr("class"), "timeline");
  size_t orphan = 0, stall = 0, lost = 0;
  for (const auto* rect : root->FindAll("rect")) {
    if (rect->children.empty()) continue;  // the legend's swatches have no tooltip
    orphan += rect->Attr("class") == "tl-orphan";
    stall += rect->Attr("class") == "tl-stall";
    lost += rect->Attr("class") == "tl-lost";
  }
  EXPECT_EQ(orphan, 1u);
  EXPECT_EQ(stall, 1u);
  EXPECT_EQ(lost, 1u);
  EXPECT_EQ(root->FindAll("circle").size(), 1u);
  EXPECT_EQ(RenderTimelineSvg(f, {"r-1", "x"}), RenderTimelineSvg(f, {"r-1", "x"}));
}

TEST(Markup, EscapesAndDurations) {
  EXPECT_EQ(XmlEscape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
  EXPECT_EQ(XmlEscape(std::string("x\x01y")), "x\xEF\xBF\xBDy");
  EXPECT_EQ(MdCell("a|b\nc"), "a\\|b c");
  EXPECT_EQ(FormatDuration(850), "850 µs");
  EXPECT_EQ(FormatDuration(250000), "250 ms");
  EXPECT_EQ(FormatDuration(2500), "2.5 ms");
  EXPECT_EQ(FormatDuration(1250000), "1.250 s");
}

}  // namespace
}  // namespace faultline::reports
