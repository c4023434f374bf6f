// Qualification of faultline explore against the mutant zoo (DESIGN §7,
// tests/mutants/README.md): for every mutant `swarm-mutant --list` reports,
// `faultline explore` of its family with a fixed budget must find a
// violation of the invariant that names the mutant's failure mode, shrink it
// (the claim races to 2 agents and 1 item), and write a minimal.json whose
// printed reproduce command fails again with that invariant; a failure of
// the family's largest member must shrink too (explore --shrink). And the
// reference coordinator must pass the same family over at least 200 drawn
// scenarios (30 for the families on PostgreSQL): no false positives.
//
// CI budget by default; FAULTLINE_QUALIFY_LONG=1 explores with five master
// seeds per mutant and 1000 reference scenarios per family.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/mutants/mutant_lists.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A family on PostgreSQL starts a database server for every run (a copy of
// a cached cluster, a fraction of a second, but 200 of them are minutes on
// the shared CI cores): the reference runs fewer of them in the CI budget.
constexpr int kPostgresReferenceRuns = 30;

struct Expectation {
  const char* mutant;
  std::vector<std::string> invariants;  // the failure mode's invariants: any one of them
  bool claim_race;                      // must shrink to 2 agents and 1 item
  int reference_runs = 200;             // drawn scenarios the reference passes (CI budget)
};

// The mapping of tests/mutants/README.md: which invariant names each
// mutant's failure mode.
const std::vector<Expectation>& Expectations() {
  static const std::vector<Expectation> all = {
      {"check_then_create", {"single_owner"}, true},
      {"ghost_claim", {"single_owner"}, true},
      {"no_fencing", {"exactly_once_effect", "single_owner"}, false},
      {"lock_leak", {"bounded_locks", "eventual_lock_release"}, false},
      {"in_place_write", {"no_torn_state"}, false},
      {"silent_span_drop", {"no_silent_span_loss"}, false},
      {"no_config_check", {"config_fail_fast"}, false},
      {"immortal_lease", {"eventual_lock_release", "no_lost_work", "progress"}, false},
      {"trigger_happy_reaper", {"no_false_death"}, false},
      {"unlocked_rmw", {"single_owner"}, false},
      {"span_leak", {"bounded_memory"}, false},
      {"reaper_rescan", {"bounded_monitor_cost"}, false},
      {"ignore_skills", {"skill_match"}, false},
      {"model_retry_hot", {"no_retry_storm"}, false},
      {"skip_file_fsync", {"no_torn_state", "no_acknowledged_loss"}, false},
      {"skip_dir_fsync", {"no_acknowledged_loss", "exactly_once_effect"}, false},
      {"in_place_complete", {"no_torn_state", "no_acknowledged_loss"}, false},
      {"spin_wait", {"progress"}, false},
      {"submit_from_count", {"no_lost_submission"}, false},
      {"pg_check_then_update", {"single_owner"}, true, kPostgresReferenceRuns},
      {"pg_no_token_check", {"exactly_once_effect", "single_owner"}, false,
       kPostgresReferenceRuns},
      {"pg_local_clock_lease", {"single_owner"}, false, kPostgresReferenceRuns},
  };
  return all;
}

const Expectation* Find(const std::string& mutant) {
  for (const Expectation& e : Expectations()) {
    if (e.mutant == mutant) return &e;
  }
  return nullptr;
}

bool Long() {
  const char* v = std::getenv("FAULTLINE_QUALIFY_LONG");
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

// The CI budget: every mutant must be caught within it (the targets are
// <= 100 runs and <= 10 s median; the time budget is a hang guard for a
// loaded machine, not the target).
constexpr int kRuns = 100;
constexpr int kTimeBudgetS = 120;
constexpr int kShrinkBudgetS = 60;

std::vector<uint64_t> MasterSeeds() {
  return Long() ? std::vector<uint64_t>{1, 2, 3, 4, 5} : std::vector<uint64_t>{1};
}
int ReferenceRuns(const Expectation& e) { return Long() ? 1000 : e.reference_runs; }

std::string Scenario(const std::string& mutant) {
  return std::string(MUTANT_SCENARIO_DIR) + "/" + mutant + ".json";
}

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
}

std::string Str(const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

// Sets or unsets an environment variable for the object's lifetime; the
// children the test starts inherit it (the test is single-threaded).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

std::vector<std::string> ListedMutants() { return testing::BinaryMutants(); }

bool Listed(const std::string& mutant) {
  static const std::vector<std::string> listed = ListedMutants();
  return std::find(listed.begin(), listed.end(), mutant) != listed.end();
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The invariants a run directory's verdict says were violated.
std::vector<std::string> Violated(const std::string& run_dir) {
  std::vector<std::string> names;
  const json verdict = ReadJson(run_dir + "/verdict.json");
  for (const json& inv : verdict.value("invariants", json::array())) {
    if (inv.contains("ok") && inv["ok"] == false && inv.contains("name")) {
      names.push_back(Str(inv["name"]));
    }
  }
  return names;
}

class QualificationTest : public ::testing::TestWithParam<std::string> {
 protected:
  testing::Ran Explore(const std::string& swarm, const std::string& out,
                       const std::vector<std::string>& budget) {
    std::vector<std::string> argv = {FAULTLINE_BIN, "explore", Scenario(GetParam()),
                                     "--swarm",     swarm,     "--out",
                                     out};
    argv.insert(argv.end(), budget.begin(), budget.end());
    return testing::Run(argv, out + ".log", 900s);
  }

  testing::TempDir tmp_;
};

// One master seed: caught, by the right invariant, shrunk, and the printed
// reproduce command fails again the same way.
void ExpectCaughtAndShrunk(const Expectation& e, const testing::Ran& explored,
                           const std::string& out, uint64_t seed) {
  SCOPED_TRACE("master seed " + std::to_string(seed));
  ASSERT_EQ(explored.exit.code, 1) << "not caught within " << kRuns << " runs:\n"
                                   << explored.output;
  const json summary = ReadJson(out + "/explore.json");
  ASSERT_TRUE(summary.is_object()) << explored.output;
  const std::string invariant = Str(summary["violation"]["invariant"]);
  EXPECT_TRUE(Contains(e.invariants, invariant))
      << e.mutant << " was caught by " << invariant << ", which does not name its failure mode\n"
      << explored.output;
  EXPECT_EQ(summary["minimal"]["verified"], true) << explored.output;
  EXPECT_LE(summary["shrink"]["after"]["total"].get<int64_t>(),
            summary["shrink"]["before"]["total"].get<int64_t>());

  const json minimal = ReadJson(out + "/minimal.json");
  ASSERT_TRUE(minimal.is_object()) << explored.output;
  if (e.claim_race) {
    EXPECT_EQ(minimal["agents"]["count"], 2) << minimal.dump(2);
    EXPECT_EQ(minimal["work"]["items"], 1) << minimal.dump(2);
  }

  // The reproduce line, run as a user would (faultline on the PATH).
  const std::string reproduce = Str(summary["minimal"]["reproduce"]);
  EXPECT_NE(explored.output.find("reproduce: " + reproduce), std::string::npos)
      << explored.output;
  EXPECT_EQ(reproduce.rfind(std::string("SWARM_MUTANT=") + e.mutant + " faultline run ", 0), 0u)
      << reproduce;
  const std::string bin_dir = std::filesystem::path(FAULTLINE_BIN).parent_path().string();
  const std::string rerun = out + "-rerun";
  testing::Ran again = testing::Run(
      {"/bin/sh", "-c", "PATH=" + bin_dir + ":$PATH " + reproduce + " --out " + rerun},
      out + "-rerun.log", 300s);
  EXPECT_EQ(again.exit.code, 1) << reproduce << "\n" << again.output;
  const std::string run_dir =
      rerun + "/" + Str(minimal["name"]) + "-" + std::to_string(minimal["seed"].get<uint64_t>());
  EXPECT_TRUE(Contains(Violated(run_dir), invariant))
      << "the minimal scenario did not violate " << invariant << " again\n"
      << again.output;
}

TEST_P(QualificationTest, MutantIsCaughtShrunkAndReproduced) {
  const std::string mutant = GetParam();
  // A mutant missing from the binary is a failure: skipping would pass its CTest.
  ASSERT_TRUE(Listed(mutant)) << "swarm-mutant --list does not report " << mutant;
  const Expectation* e = Find(mutant);
  ASSERT_NE(e, nullptr);
  ScopedEnv env("SWARM_MUTANT", mutant.c_str());
  for (uint64_t seed : MasterSeeds()) {
    const std::string out = tmp_ / (mutant + "-" + std::to_string(seed));
    const testing::Ran explored =
        Explore(SWARM_MUTANT_BIN, out,
                {"--seed", std::to_string(seed), "--runs", std::to_string(kRuns), "--time-budget",
                 std::to_string(kTimeBudgetS), "--shrink-budget", std::to_string(kShrinkBudgetS)});
    ExpectCaughtAndShrunk(*e, explored, out, seed);
  }
}

// The family with every range at its top: its largest member.
json Largest(const json& j, const std::string& pointer = "") {
  if (j.is_object()) {
    json out = json::object();
    for (const auto& [key, value] : j.items()) out[key] = Largest(value, pointer + "/" + key);
    return out;
  }
  if (j.is_array()) {
    if (j.size() == 2 && j[0].is_number_integer() && j[1].is_number_integer() &&
        pointer != "/agents/work_ms") {  // work_ms stays a range: each item draws from it
      return j[1];
    }
    json out = json::array();
    for (size_t i = 0; i < j.size(); ++i) out.push_back(Largest(j[i], pointer + "/" + std::to_string(i)));
    return out;
  }
  return j;
}

// A failure of the family's largest member, shrunk with explore --shrink:
// the shrinker at work on the real mutant (a drawn failure is often small
// from the start, since explore tries small scenarios first).
TEST_P(QualificationTest, LargestFailingMemberShrinks) {
  const std::string mutant = GetParam();
  // A mutant missing from the binary is a failure: skipping would pass its CTest.
  ASSERT_TRUE(Listed(mutant)) << "swarm-mutant --list does not report " << mutant;
  const Expectation* e = Find(mutant);
  ASSERT_NE(e, nullptr);
  ScopedEnv env("SWARM_MUTANT", mutant.c_str());
  const json largest = Largest(ReadJson(Scenario(mutant)));
  const std::string largest_path = tmp_ / "largest.json";
  std::ofstream(largest_path) << largest.dump(2);
  const std::string runs = tmp_ / "largest-runs";
  std::string failing;
  constexpr int kSeeds = 30;
  for (int seed = 1; seed <= kSeeds && failing.empty(); ++seed) {
    testing::Ran ran = testing::Run({FAULTLINE_BIN, "run", largest_path, "--seed",
                                     std::to_string(seed), "--swarm", SWARM_MUTANT_BIN, "--out",
                                     runs},
                                    tmp_ / "largest.log", 300s);
    ASSERT_TRUE(ran.exit.code == 0 || ran.exit.code == 1) << ran.output;
    if (ran.exit.code == 1) {
      failing = runs + "/" + Str(largest["name"]) + "-" + std::to_string(seed) +
                "/scenario.resolved.json";
    }
  }
  ASSERT_FALSE(failing.empty()) << "the largest member of the family never failed in " << kSeeds
                                << " seeds";
  const std::string out = tmp_ / "shrunk";
  const testing::Ran shrunk = Explore(SWARM_MUTANT_BIN, out,
                                      {"--shrink", failing, "--shrink-budget",
                                       std::to_string(kShrinkBudgetS)});
  ASSERT_EQ(shrunk.exit.code, 1) << shrunk.output;
  const json summary = ReadJson(out + "/explore.json");
  EXPECT_TRUE(Contains(e->invariants, Str(summary["violation"]["invariant"]))) << shrunk.output;
  EXPECT_EQ(summary["minimal"]["verified"], true) << shrunk.output;
  EXPECT_LT(summary["shrink"]["after"]["total"].get<int64_t>(),
            summary["shrink"]["before"]["total"].get<int64_t>())
      << shrunk.output;
  if (e->claim_race) {
    const json minimal = ReadJson(out + "/minimal.json");
    EXPECT_EQ(minimal["agents"]["count"], 2) << shrunk.output;
    EXPECT_EQ(minimal["work"]["items"], 1) << shrunk.output;
  }
}

TEST_P(QualificationTest, ReferenceCoordinatorPassesTheFamily) {
  const std::string mutant = GetParam();
  // A mutant missing from the binary is a failure: skipping would pass its CTest.
  ASSERT_TRUE(Listed(mutant)) << "swarm-mutant --list does not report " << mutant;
  const Expectation* e = Find(mutant);
  ASSERT_NE(e, nullptr);
  ScopedEnv env("SWARM_MUTANT", nullptr);
  const std::string out = tmp_ / ("reference-" + mutant);
  const int runs = ReferenceRuns(*e);
  const testing::Ran explored = Explore(
      SWARM_BIN, out,
      {"--seed", "1", "--runs", std::to_string(runs), "--time-budget", "3600"});
  EXPECT_EQ(explored.exit.code, 0) << "a false positive of the reference coordinator:\n"
                                   << explored.output;
  const json summary = ReadJson(out + "/explore.json");
  EXPECT_EQ(summary["runs"], runs) << explored.output;
  EXPECT_EQ(summary["found"], false);
}

std::vector<std::string> AllNames() {
  std::vector<std::string> names;
  for (const Expectation& e : Expectations()) names.emplace_back(e.mutant);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Zoo, QualificationTest, ::testing::ValuesIn(AllNames()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

// A mutant added to the zoo without an expectation here or a family in
// scenarios/ would be qualified by nothing.
TEST(QualificationListTest, EveryListedMutantHasAnExpectationAndAFamily) {
  const std::vector<std::string> listed = ListedMutants();
  ASSERT_FALSE(listed.empty());
  for (const std::string& mutant : listed) {
    EXPECT_NE(Find(mutant), nullptr) << mutant << " has no expected invariant here";
    EXPECT_TRUE(std::filesystem::exists(Scenario(mutant))) << Scenario(mutant);
  }
}

// Each name of FAULTLINE_MUTANTS is one mutants_qualification_<name> CTest;
// the binary's mutants and this file's expectations must be exactly those.
TEST(QualificationListTest, TheCtestListIsTheBinarysListAndTheExpectations) {
  const std::vector<std::string> listed = ListedMutants();
  const std::vector<std::string> expected = AllNames();
  testing::ExpectSameMutants(testing::CtestMutants(), "FAULTLINE_MUTANTS (CMake)",
                             {listed.begin(), listed.end()}, "swarm-mutant --list");
  testing::ExpectSameMutants(testing::CtestMutants(), "FAULTLINE_MUTANTS (CMake)",
                             {expected.begin(), expected.end()},
                             "the expectations of qualification_test.cc");
}

}  // namespace
}  // namespace faultline
