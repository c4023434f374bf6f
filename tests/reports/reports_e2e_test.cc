// End-to-end tests of `faultline report`, `faultline run --junit` and the
// catalogue checks of `faultline validate`, through the real binary:
//  - golden reports (md, json, junit) from the fixed run directories in
//    tests/reports/data/runs (real runs, trimmed: see data/README.md);
//    FAULTLINE_UPDATE_GOLDEN=1 rewrites the golden files instead;
//  - the report of two shard folders equals the report of one folder;
//  - the HTML opened in headless Chromium shows the failure-mode table and
//    the timelines;
//  - run --junit, then report, from a real bundled scenario.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/reports/xml_check.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;
using testing::Ran;

const std::string kData = REPORTS_DATA_DIR;
const std::string kGolden = REPORTS_GOLDEN_DIR;
const std::string kSource = PROJECT_SOURCE_DIR;

class ReportsE2eTest : public ::testing::Test {
 protected:
  Ran Faultline(std::vector<std::string> args, std::chrono::milliseconds timeout = 300s) {
    args.insert(args.begin(), FAULTLINE_BIN);
    return testing::Run(args, tmp_ / "faultline.log", timeout);
  }

  // Copies the fixed runs (all, or those whose name is in `only`) into `dest`.
  void CopyRuns(const std::string& dest, const std::vector<std::string>& only = {}) {
    stdfs::create_directories(dest);
    for (const auto& entry : stdfs::directory_iterator(kData + "/runs")) {
      const std::string name = entry.path().filename().string();
      if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
      stdfs::copy(entry.path(), dest + "/" + name, stdfs::copy_options::recursive);
    }
  }

  // `faultline report` of `inputs` into `out` with the test catalogue.
  Ran Report(std::vector<std::string> inputs, const std::string& out,
             std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"report"};
    args.insert(args.end(), inputs.begin(), inputs.end());
    args.insert(args.end(), {"--out", out, "--fmea", tmp_ / "fmea.json", "--generated", "golden"});
    args.insert(args.end(), extra.begin(), extra.end());
    return Faultline(args);
  }

  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    stdfs::copy_file(kData + "/scenarios/fmea.json", tmp_ / "fmea.json");
  }

  testing::TempDir tmp_;
};

std::string Read(const std::string& path) { return testing::ReadAll(path); }

// The first line where two texts differ, for a readable failure.
std::string FirstDifference(const std::string& want, const std::string& got) {
  std::istringstream a(want), b(got);
  std::string la, lb;
  for (int line = 1;; ++line) {
    bool ha = static_cast<bool>(std::getline(a, la)), hb = static_cast<bool>(std::getline(b, lb));
    if (!ha && !hb) return "identical";
    if (la != lb || ha != hb) {
      return "line " + std::to_string(line) + ":\n  want: " + (ha ? la : "<end>") +
             "\n  got:  " + (hb ? lb : "<end>");
    }
  }
}

TEST_F(ReportsE2eTest, GoldenReportFromFixedRuns) {
  CopyRuns(tmp_ / "runs");
  Ran r = Report({tmp_ / "runs"}, tmp_ / "report");
  ASSERT_EQ(r.exit.code, 0) << r.output;
  EXPECT_NE(r.output.find("7 runs (1 with violations, 1 harness errors, 2 vacuous)"),
            std::string::npos) << r.output;
  const bool update = std::getenv("FAULTLINE_UPDATE_GOLDEN") != nullptr;
  for (const char* name : {"fmea-report.md", "fmea-report.json", "junit.xml"}) {
    const std::string got = Read(tmp_ / "report/" + name);
    if (update) {
      std::ofstream(kGolden + "/" + name, std::ios::binary | std::ios::trunc) << got;
      continue;
    }
    const std::string want = Read(kGolden + "/" + name);
    EXPECT_EQ(want, got) << name << " differs from " << kGolden << "/" << name << " at "
                         << FirstDifference(want, got)
                         << "\n(if the change is intended: FAULTLINE_UPDATE_GOLDEN=1 ctest -R "
                            "reports_ReportsE2eTest.GoldenReportFromFixedRuns)";
  }
}

TEST_F(ReportsE2eTest, GoldenReportSaysWhatTheRunsShow) {
  CopyRuns(tmp_ / "runs");
  ASSERT_EQ(Report({tmp_ / "runs"}, tmp_ / "report").exit.code, 0);
  nlohmann::json m = nlohmann::json::parse(Read(tmp_ / "report/fmea-report.json"));
  std::map<std::string, nlohmann::json> modes;
  for (const auto& mode : m["modes"]) modes[mode["id"]] = mode;
  // killed-worker-3 ran against the lock_leak mutant: a lock file left behind.
  const auto& locks = modes["lock-accumulation"];
  EXPECT_EQ(locks["status"], "failing");
  EXPECT_EQ(locks["runs"]["counted"], 3);
  EXPECT_EQ(locks["runs"]["failed"], 1);
  EXPECT_EQ(locks["occurrence"]["method"], "Clopper-Pearson");
  EXPECT_EQ(locks["residual"]["D"], 2);  // its invariant fired: detection demonstrated
  ASSERT_EQ(locks["failing_runs"].size(), 1u);
  EXPECT_EQ(locks["failing_runs"][0]["run"], "killed-worker-3");
  EXPECT_EQ(locks["failing_runs"][0]["minimal"], "../runs/killed-worker-3/minimal.json");
  EXPECT_EQ(locks["detection_latency_us"]["samples"], 1);
  // stalled-worker: one run counted, one vacuous (its stall never landed), one harness error.
  const auto& stalled = modes["stalled-worker"];
  EXPECT_EQ(stalled["runs"]["counted"], 1);
  EXPECT_EQ(stalled["runs"]["vacuous"], 1);
  EXPECT_EQ(stalled["runs"]["harness_errors"], 1);
  EXPECT_EQ(stalled["occurrence"]["method"], "rule of three");
  EXPECT_EQ(stalled["residual"]["O"], 10);
  EXPECT_EQ(modes["silent-otel-span-loss"]["status"], "not exercised");
  EXPECT_EQ(modes["silent-otel-span-loss"]["residual"]["RPN"], 192);
  // The freerun reaper-crash run: the reaper came back, so supervisor-crash has a recovery.
  EXPECT_EQ(modes["supervisor-crash"]["recovery_us"]["samples"], 1);
  EXPECT_EQ(modes["supervisor-crash"]["scenarios_run"][0]["mode"], "freerun");
}

// faultline explore leaves minimal.json in its --out folder, beside the run
// directories of its search: the failing run links to it.
TEST_F(ReportsE2eTest, FailingRunLinksExploresMinimalScenario) {
  CopyRuns(tmp_ / "explore", {"killed-worker-3"});
  stdfs::rename(tmp_ / "explore/killed-worker-3/minimal.json", tmp_ / "explore/minimal.json");
  ASSERT_EQ(Report({tmp_ / "explore"}, tmp_ / "report").exit.code, 0);
  nlohmann::json m = nlohmann::json::parse(Read(tmp_ / "report/fmea-report.json"));
  EXPECT_EQ(m["runs"][0]["paths"]["minimal"], "../explore/minimal.json");
  EXPECT_NE(Read(tmp_ / "report/fmea-report.md").find("minimal scenario: `../explore/minimal.json`"),
            std::string::npos);
}

TEST_F(ReportsE2eTest, ReportIsDeterministic) {
  CopyRuns(tmp_ / "runs");
  ASSERT_EQ(Report({tmp_ / "runs"}, tmp_ / "a").exit.code, 0);
  ASSERT_EQ(Report({tmp_ / "runs"}, tmp_ / "b").exit.code, 0);
  for (const char* name : {"fmea-report.md", "fmea-report.json", "fmea-report.html", "junit.xml"}) {
    EXPECT_EQ(Read(tmp_ / "a/" + name), Read(tmp_ / "b/" + name)) << name;
  }
}

// Paths in a report are relative to it; shards and the single folder sit in
// different places, so they are replaced by RUNS/ before comparing.
std::string Normalize(std::string text, const std::vector<std::string>& prefixes) {
  for (const std::string& p : prefixes) {
    for (size_t at; (at = text.find(p)) != std::string::npos;) text.replace(at, p.size(), "RUNS/");
  }
  std::string out, line;
  std::istringstream in(text);
  while (std::getline(in, line)) {
    if (line.rfind("Catalogue `", 0) == 0 || line.find("runs from") != std::string::npos) continue;
    out += line + "\n";
  }
  return out;
}

TEST_F(ReportsE2eTest, ShardFoldersMergeIntoTheSameReport) {
  CopyRuns(tmp_ / "all");
  CopyRuns(tmp_ / "shards/0", {"killed-worker-1", "killed-worker-3", "reaper-crash-1"});
  CopyRuns(tmp_ / "shards/1", {"killed-worker-2", "stalled-worker-1", "stalled-worker-3",
                               "stalled-worker-9"});
  ASSERT_EQ(Report({tmp_ / "all"}, tmp_ / "one").exit.code, 0);
  Ran merged = Report({tmp_ / "shards/0", tmp_ / "shards/1/"}, tmp_ / "merged");
  ASSERT_EQ(merged.exit.code, 0) << merged.output;
  // A parent of both shard folders works too.
  ASSERT_EQ(Report({tmp_ / "shards"}, tmp_ / "parent").exit.code, 0);
  for (const char* name : {"fmea-report.md", "fmea-report.html", "junit.xml"}) {
    const std::string one = Normalize(Read(tmp_ / "one/" + name), {"../all/"});
    const std::string merged_text =
        Normalize(Read(tmp_ / "merged/" + name), {"../shards/0/", "../shards/1/"});
    EXPECT_EQ(one, merged_text) << name << ": " << FirstDifference(one, merged_text);
    EXPECT_EQ(merged_text,
              Normalize(Read(tmp_ / "parent/" + name), {"../shards/0/", "../shards/1/"}))
        << name;
  }
  nlohmann::json a = nlohmann::json::parse(Read(tmp_ / "one/fmea-report.json"));
  nlohmann::json b = nlohmann::json::parse(Read(tmp_ / "merged/fmea-report.json"));
  for (nlohmann::json* j : {&a, &b}) j->erase("inputs");
  EXPECT_EQ(Normalize(a.dump(1), {"../all/"}),
            Normalize(b.dump(1), {"../shards/0/", "../shards/1/"}));
}

TEST_F(ReportsE2eTest, TheSameRunInTwoShardsCountsOnce) {
  CopyRuns(tmp_ / "s0", {"killed-worker-1"});
  CopyRuns(tmp_ / "s1", {"killed-worker-1"});
  Ran r = Report({tmp_ / "s0", tmp_ / "s1"}, tmp_ / "report");
  ASSERT_EQ(r.exit.code, 0) << r.output;
  nlohmann::json m = nlohmann::json::parse(Read(tmp_ / "report/fmea-report.json"));
  EXPECT_EQ(m["totals"]["runs"], 1);
  EXPECT_NE(r.output.find("counted once"), std::string::npos) << r.output;
}

std::string FindChromium() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    for (const char* name : {"chromium", "chromium-browser"}) {
      std::string candidate = dir + "/" + name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return "";
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
  return n;
}

TEST_F(ReportsE2eTest, HtmlRendersInHeadlessChromium) {
  const std::string chromium = FindChromium();
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium is not installed (./dev.sh test installs it: apt-get install "
                    "chromium)";
  }
  CopyRuns(tmp_ / "runs");
  ASSERT_EQ(Report({tmp_ / "runs"}, tmp_ / "report").exit.code, 0);
  Ran dom = testing::Run({chromium, "--headless", "--no-sandbox", "--disable-gpu",
                          "--user-data-dir=" + (tmp_ / "profile"), "--dump-dom",
                          "file://" + (tmp_ / "report/fmea-report.html")},
                         tmp_ / "chromium.log", 180s);
  ASSERT_FALSE(dom.exit.timed_out) << dom.output;
  ASSERT_EQ(dom.exit.code, 0) << dom.output;
  // The browser's DOM, not our text: the table was parsed as a table (the
  // parser adds <tbody> only when it is missing; ours has one) with one row
  // per failure mode, and every timeline became an SVG element with its marks.
  EXPECT_NE(dom.output.find("<table id=\"failure-modes\">"), std::string::npos) << dom.output;
  EXPECT_EQ(Count(dom.output, "<tr data-mode=\""), 13u);
  EXPECT_NE(dom.output.find("<tr data-mode=\"lock-accumulation\">"), std::string::npos);
  EXPECT_EQ(Count(dom.output, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\""), 7u);
  EXPECT_GT(Count(dom.output, "<rect class=\"tl-done\""), 10u);
  EXPECT_NE(dom.output.find("data-run=\"killed-worker-3\""), std::string::npos);
  EXPECT_GE(Count(dom.output, "<circle class=\"tl-ev\""), 1u) << "the violation's evidence";
  EXPECT_NE(dom.output.find("SWARM_MUTANT=lock_leak faultline run"), std::string::npos);
  // Self-contained: no scripts, nothing to fetch.
  const std::string html = Read(tmp_ / "report/fmea-report.html");
  for (const char* fetch : {"<script", "src=", "<link", "url(", "href=\"http", "@import"}) {
    EXPECT_EQ(html.find(fetch), std::string::npos) << fetch;
  }
}

TEST_F(ReportsE2eTest, RunWithJunitThenReportWritesEveryFile) {
  const std::string runs = tmp_ / "runs";
  Ran run = Faultline({"run", kSource + "/scenarios/killed-worker.json", "--out", runs, "--junit",
                       tmp_ / "j.xml"});
  ASSERT_EQ(run.exit.code, 0) << run.output;
  std::string error;
  auto junit = testing::XmlParser::Parse(Read(tmp_ / "j.xml"), &error);
  ASSERT_TRUE(junit) << error;
  ASSERT_EQ(junit->FindAll("testcase").size(), 1u);
  EXPECT_EQ(junit->FindAll("testcase")[0]->Attr("name"), "killed-worker-1");
  auto svg = testing::XmlParser::Parse(Read(runs + "/killed-worker-1/timeline.svg"), &error);
  ASSERT_TRUE(svg) << error;
  EXPECT_EQ(svg->Attr("class"), "timeline");
  EXPECT_GT(svg->FindAll("rect").size(), 50u);

  Ran report = Faultline({"report", runs, "--out", tmp_ / "report", "--fmea",
                          kSource + "/scenarios/fmea.json"});
  ASSERT_EQ(report.exit.code, 0) << report.output;
  for (const char* name : {"fmea-report.md", "fmea-report.html", "fmea-report.json", "junit.xml"}) {
    EXPECT_GT(Read(tmp_ / "report/" + name).size(), 100u) << name;
  }
  nlohmann::json m = nlohmann::json::parse(Read(tmp_ / "report/fmea-report.json"));
  EXPECT_EQ(m["totals"]["runs"], 1);
  bool worker_crash = false;
  for (const auto& mode : m["modes"]) {
    if (mode["id"] == "worker-crash") worker_crash = mode["runs"]["counted"] == 1;
  }
  EXPECT_TRUE(worker_crash);
  ASSERT_TRUE(testing::XmlParser::Parse(Read(tmp_ / "report/junit.xml"), &error)) << error;
}

TEST_F(ReportsE2eTest, RunJunitRecordsABadScenarioAsAnError) {
  std::ofstream(tmp_ / "bad.json") << R"({"name": "bad", "agnets": 3})";
  Ran run = Faultline({"run", tmp_ / "bad.json", kSource + "/scenarios/fmea.json", "--out",
                       tmp_ / "runs", "--junit", tmp_ / "j.xml"});
  EXPECT_EQ(run.exit.code, 2) << run.output;
  EXPECT_NE(run.output.find("skipping"), std::string::npos) << "fmea.json is not run";
  std::string error;
  auto junit = testing::XmlParser::Parse(Read(tmp_ / "j.xml"), &error);
  ASSERT_TRUE(junit) << error;
  ASSERT_EQ(junit->FindAll("testcase").size(), 1u);
  ASSERT_EQ(junit->FindAll("error").size(), 1u);
  EXPECT_NE(junit->FindAll("error")[0]->Attr("message").find("faultline validate"),
            std::string::npos);
  EXPECT_EQ(junit->Attr("errors"), "1");
}

TEST_F(ReportsE2eTest, ValidateChecksTheCatalogue) {
  stdfs::create_directories(tmp_ / "suite");
  std::ofstream(tmp_ / "suite/killed.json")
      << R"({"name": "killed", "fmea": ["worker-crash", "worker-crahs"],
            "faults": [{"kind": "kill_agent", "at_ms": 100}]})";
  std::ofstream(tmp_ / "suite/fmea.json") << R"({"modes": [
      {"id": "worker-crash", "title": "Worker crash", "source": "runbook",
       "S": null, "O": null, "D": null, "RPN": null, "faults": ["kill_agnet"],
       "invariants": ["single_owner", "no_such_invariant"], "scenarios": ["killed", "ghost"]},
      {"id": "orphan", "title": "Not named", "source": "runbook",
       "S": 2, "O": 2, "D": 2, "RPN": 9, "faults": [], "invariants": [], "scenarios": ["killed"]}]})";
  Ran r = Faultline({"validate", tmp_ / "suite/killed.json", tmp_ / "suite/fmea.json"});
  EXPECT_EQ(r.exit.code, 2) << r.output;
  for (const char* expected :
       {"/modes/0/faults/0: unknown fault kind \"kill_agnet\" (did you mean \"kill_agent\"?)",
        "/modes/0/invariants/1: unknown invariant \"no_such_invariant\"",
        "/modes/0/scenarios/1: no scenario named \"ghost\"",
        "/modes/1/RPN: RPN 9 is not S x O x D",
        "killed.json: /fmea/1: unknown failure-mode id \"worker-crahs\" (did you mean "
        "\"worker-crash\"?)"}) {
    EXPECT_NE(r.output.find(expected), std::string::npos) << expected << "\n" << r.output;
  }
  // --fmea names a catalogue elsewhere; a good one passes.
  std::ofstream(tmp_ / "good.json") << R"({"modes": [
      {"id": "worker-crash", "title": "Worker crash", "source": "runbook",
       "S": null, "O": null, "D": null, "RPN": null, "faults": ["kill_agent"],
       "invariants": ["single_owner"], "scenarios": []}]})";
  std::ofstream(tmp_ / "suite/killed.json")
      << R"({"name": "killed", "fmea": ["worker-crash"],
            "faults": [{"kind": "kill_agent", "at_ms": 100}]})";
  Ran good = Faultline({"validate", tmp_ / "suite/killed.json", "--fmea", tmp_ / "good.json"});
  EXPECT_EQ(good.exit.code, 0) << good.output;
  EXPECT_NE(good.output.find("good.json: ok (1 failure modes"), std::string::npos) << good.output;
}

TEST_F(ReportsE2eTest, TestScenariosAgreeWithTheirCatalogue) {
  std::vector<std::string> args = {"validate"};
  for (const auto& e : stdfs::directory_iterator(kData + "/scenarios")) {
    args.push_back(e.path().string());
  }
  Ran r = Faultline(args);
  EXPECT_EQ(r.exit.code, 0) << r.output;
}

// The bundled suite and scenarios/fmea.json list each other (both ways), and
// every fault and invariant the catalogue names is registered.
TEST_F(ReportsE2eTest, BundledScenariosAgreeWithTheCatalogue) {
  std::vector<std::string> args = {"validate"};
  for (const auto& e : stdfs::directory_iterator(kSource + "/scenarios")) {
    if (e.path().extension() == ".json") args.push_back(e.path().string());
  }
  Ran r = Faultline(args);
  EXPECT_EQ(r.exit.code, 0) << r.output;
  EXPECT_NE(r.output.find("fmea.json: ok ("), std::string::npos) << r.output;
}

TEST_F(ReportsE2eTest, ReportUsageErrors) {
  stdfs::create_directories(tmp_ / "empty");
  Ran none = Report({tmp_ / "empty"}, tmp_ / "report");
  EXPECT_EQ(none.exit.code, 2) << none.output;
  EXPECT_NE(none.output.find("no run directories found"), std::string::npos) << none.output;
  CopyRuns(tmp_ / "runs", {"killed-worker-1"});
  Ran bad_catalogue = Faultline({"report", tmp_ / "runs", "--out", tmp_ / "r", "--fmea",
                                 tmp_ / "missing.json"});
  EXPECT_EQ(bad_catalogue.exit.code, 2) << bad_catalogue.output;
  EXPECT_NE(bad_catalogue.output.find("missing.json"), std::string::npos);
}

}  // namespace
}  // namespace faultline
