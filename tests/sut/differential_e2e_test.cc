// End-to-end tests of differential runs (docs/external-sut.md, section 8):
// the bundled scenario shell-export-parity runs the bash coordinator
// tests/sut/queue.sh and the reference coordinator under one seed with
// workers killed in both. The correct queue.sh agrees with the reference; a
// planted drift (queue-drift.sh) and the shell exports that lost a capability
// (queue-pid-lock.sh, queue-locks-never-removed.sh, and queue.sh's own
// missing dead-lettering) are caught by no_semantic_drift — besides the
// invariant meant for each — and the FMEA report shows both shell-export
// modes with that evidence.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Ran;
using testing::ReadAll;
using testing::TempDir;

const std::string kParity = std::string(SCENARIO_DIR) + "/shell-export-parity.json";

class DifferentialTest : public ::testing::Test {
 public:
  TempDir tmp_;

  Ran Faultline(std::vector<std::string> args) {
    args.insert(args.begin(), FAULTLINE_BIN);
    return testing::Run(args, tmp_ / "cmd.log", 600s);
  }
  // The bundled scenario, as a document (comments dropped, cwd absolute).
  static json Parity() {
    json doc = json::parse(ReadAll(kParity), nullptr, true, /*ignore_comments=*/true);
    doc["sut"]["cwd"] = SUT_DIR;
    return doc;
  }
  // The bundled scenario's "sut" block with `script` in place of queue.sh,
  // as a file for --sut.
  std::string SutFile(const std::string& script) {
    std::string text = std::regex_replace(Parity()["sut"].dump(), std::regex("\\./queue\\.sh"),
                                          "./" + script);
    json block = json::parse(text);
    block["name"] = script;
    std::ofstream(tmp_ / (script + ".sut.json")) << block.dump(2);
    return tmp_ / (script + ".sut.json");
  }
  static json Verdict(const std::string& run_dir) {
    return json::parse(ReadAll(run_dir + "/verdict.json"), nullptr, false);
  }
  static std::set<std::string> Violated(const json& verdict) {
    std::set<std::string> names;
    for (const json& i : verdict["invariants"]) {
      if (!i["ok"].get<bool>()) names.insert(i["name"].get<std::string>());
    }
    return names;
  }
  static const json& Invariant(const json& verdict, const std::string& name) {
    for (const json& i : verdict["invariants"]) {
      if (i["name"] == name) return i;
    }
    static const json none;
    return none;
  }
};

TEST_F(DifferentialTest, TheShellExportAgreesWithTheReferenceAndTheReportShowsIt) {
  const std::string out = tmp_ / "out";
  Ran ok = Faultline({"run", kParity, "--out", out});
  ASSERT_EQ(ok.exit.code, 0) << ok.output;
  const std::string run = out + "/shell-export-parity-1";
  const json v = Verdict(run);
  const json& drift = Invariant(v, "no_semantic_drift");
  ASSERT_TRUE(drift.is_object()) << v.dump(2);
  EXPECT_TRUE(drift["ok"].get<bool>());
  EXPECT_EQ(drift["summary"]["items"], 16);
  EXPECT_EQ(drift["summary"]["diverging_items"], 0);
  EXPECT_EQ(v["faults"][0]["landed"], true);
  EXPECT_EQ(v["faults"][1]["landed"], true);
  // The counterpart's run is a run directory of its own, against the reference.
  EXPECT_EQ(v["differential"]["against"], "reference (swarm)");
  const json counterpart = Verdict(v["differential"]["run_dir"].get<std::string>());
  EXPECT_TRUE(counterpart["sut"].is_null()) << counterpart.dump(2);
  EXPECT_TRUE(counterpart["ok"].get<bool>());
  EXPECT_EQ(counterpart["faults"][0]["landed"], true) << "kill_agent lands in both runs";
  EXPECT_EQ(counterpart["trace_sha256"], v["differential"]["trace_sha256"]);

  // The planted drift (ids ending in 7 never handed out) fails it, naming the item.
  Ran drifted = Faultline({"run", kParity, "--sut", SutFile("queue-drift.sh"), "--out",
                           tmp_ / "drift"});
  ASSERT_EQ(drifted.exit.code, 1) << drifted.output;
  EXPECT_NE(drifted.output.find("no_semantic_drift: item w000007 diverges from reference (swarm): "
                                "queue-drift.sh ends pending"),
            std::string::npos)
      << drifted.output;
  EXPECT_NE(drifted.output.find("reference (swarm) ends done"), std::string::npos);
  EXPECT_NE(drifted.output.find("reproduce: faultline run " + (tmp_ / "drift") +
                                "/shell-export-parity-1/scenario.resolved.json (both runs"),
            std::string::npos)
      << drifted.output;

  // The report: both shell-export modes exercised, with the failing run as evidence.
  Ran report = Faultline({"report", out, tmp_ / "drift", "--out", tmp_ / "report", "--fmea",
                          std::string(SCENARIO_DIR) + "/fmea.json"});
  ASSERT_EQ(report.exit.code, 0) << report.output;
  const json model = json::parse(ReadAll(tmp_ / "report/fmea-report.json"));
  std::set<std::string> seen;
  for (const json& mode : model["modes"]) {
    const std::string id = mode["id"];
    if (id != "shell-export-semantic-drift" && id != "shell-export-loses-functionality") continue;
    seen.insert(id);
    EXPECT_EQ(mode["status"], "failing") << id;
    EXPECT_EQ(mode["runs"]["passed"], 1) << id;
    EXPECT_EQ(mode["runs"]["failed"], 1) << id;
    bool detected = false;
    for (const json& i : mode["invariants_checked"]) {
      if (i["name"] == "no_semantic_drift") detected = i["detects"] == true && i["failed"] == 1;
    }
    EXPECT_TRUE(detected) << id << ": " << mode["invariants_checked"].dump();
    ASSERT_EQ(mode["failing_runs"].size(), 1u) << id;
    EXPECT_EQ(mode["failing_runs"][0]["violations"][0]["invariant"], "no_semantic_drift");
  }
  EXPECT_EQ(seen.size(), 2u);
}

struct LostCapability {
  const char* script;
  const char* also_caught_by;  // the invariant meant for the defect on its own
  const char* says;            // what no_semantic_drift says
};

void PrintTo(const LostCapability& c, std::ostream* os) { *os << c.script; }

class LostCapabilityTest : public DifferentialTest,
                           public ::testing::WithParamInterface<LostCapability> {};

TEST_P(LostCapabilityTest, IsCaughtByNoSemanticDriftAndTheInvariantMeantForIt) {
  const LostCapability& c = GetParam();
  const std::string out = tmp_ / "out";
  Ran r = Faultline({"run", kParity, "--sut", SutFile(c.script), "--out", out});
  ASSERT_EQ(r.exit.code, 1) << r.output;
  const std::set<std::string> violated = Violated(Verdict(out + "/shell-export-parity-1"));
  EXPECT_TRUE(violated.count("no_semantic_drift")) << r.output;
  EXPECT_TRUE(violated.count(c.also_caught_by)) << r.output;
  EXPECT_NE(r.output.find(c.says), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Defects, LostCapabilityTest,
    ::testing::Values(
        // Stale-lock recovery after a killed worker: its items stay claimed.
        LostCapability{"queue-pid-lock.sh", "eventual_lock_release", "ends claimed"},
        // Lock cleanup: every lock file stays.
        LostCapability{"queue-locks-never-removed.sh", "bounded_locks",
                       "lock files left at the end: queue-locks-never-removed.sh 16, reference "
                       "(swarm) 0"}),
    [](const auto& param_info) {
      std::string n = param_info.param.script;
      n = n.substr(6, n.size() - 9);  // queue-X.sh -> X
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

// queue.sh has no attempt limit: with max_attempts 1 the reference
// dead-letters a killed worker's item, queue.sh completes it. Every invariant
// of the shell export's own run holds; only the comparison sees it.
TEST_F(DifferentialTest, OnlyTheComparisonSeesThatTheShellExportNeverDeadLetters) {
  json doc = Parity();
  doc["coordinator"]["max_attempts"] = 1;
  std::ofstream(tmp_ / "max1.json") << doc.dump(2);
  const std::string out = tmp_ / "out";
  Ran r = Faultline({"run", tmp_ / "max1.json", "--out", out});
  ASSERT_EQ(r.exit.code, 1) << r.output;
  EXPECT_EQ(Violated(Verdict(out + "/shell-export-parity-1")),
            std::set<std::string>{"no_semantic_drift"})
      << r.output;
  EXPECT_TRUE(std::regex_search(
      r.output, std::regex("queue-sh ends done, .*; reference \\(swarm\\) ends dead")))
      << r.output;
}

}  // namespace
}  // namespace faultline
