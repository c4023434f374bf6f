// The mutant zoo, end to end: for every mutant, `faultline run` of its
// scenario over fixed seeds must end in a violation (exit 1) of the
// invariant that names its failure mode, and the reference coordinator must
// pass the same scenario over the same seeds. Plus the swarm-mutant command
// line contract that `faultline explore` relies on.
//
// DISABLED_CatchRates measures, per mutant, the fraction of seeds 1..N
// (MUTANT_SEEDS, default 100) that catch it, and how many the reference
// passes (the numbers in README.md):
//   mutants_test --gtest_also_run_disabled_tests --gtest_filter='*CatchRates*'
// MUTANT_ONLY=name limits it to one mutant.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <set>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/mutants/mutant_lists.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

using namespace std::chrono_literals;

struct ZooCase {
  const char* mutant;
  const char* scenario;                 // in tests/mutants/scenarios/
  std::vector<std::string> invariants;  // any of these must be violated
  std::vector<uint64_t> seeds;          // seeds found to catch it
};

void PrintTo(const ZooCase& c, std::ostream* os) { *os << c.mutant; }

// Seeds: the first three of 1..100 that catch the mutant (README.md).
const std::vector<ZooCase>& Zoo() {
  static const std::vector<ZooCase> zoo = {
      {"check_then_create", "check_then_create.json", {"single_owner"}, {1, 2, 6}},
      {"ghost_claim", "ghost_claim.json", {"single_owner"}, {1, 2, 6}},
      {"no_fencing", "no_fencing.json", {"exactly_once_effect", "single_owner"}, {2, 3, 4}},
      {"lock_leak", "lock_leak.json", {"bounded_locks", "eventual_lock_release"}, {1, 2, 3}},
      {"in_place_write", "in_place_write.json", {"no_torn_state"}, {1, 2, 3}},
      {"silent_span_drop", "silent_span_drop.json", {"no_silent_span_loss"}, {1, 2, 3}},
      {"no_config_check", "no_config_check.json", {"config_fail_fast"}, {1, 2, 3}},
      {"immortal_lease", "immortal_lease.json",
       {"eventual_lock_release", "no_lost_work", "progress"}, {1, 2, 3}},
      {"trigger_happy_reaper", "trigger_happy_reaper.json", {"no_false_death"}, {1, 2, 3}},
      {"unlocked_rmw", "unlocked_rmw.json", {"single_owner"}, {2, 5, 9}},
      {"span_leak", "span_leak.json", {"bounded_memory"}, {1, 2, 3}},
      {"reaper_rescan", "reaper_rescan.json", {"bounded_monitor_cost"}, {1, 2, 3}},
      {"ignore_skills", "ignore_skills.json", {"skill_match"}, {1, 2, 3}},
      {"model_retry_hot", "model_retry_hot.json", {"no_retry_storm"}, {1, 2, 3}},
      {"skip_file_fsync", "skip_file_fsync.json", {"no_torn_state", "no_acknowledged_loss"},
       {1, 2, 3}},
      {"skip_dir_fsync", "skip_dir_fsync.json", {"no_acknowledged_loss", "exactly_once_effect"},
       {1, 2, 3}},
      {"in_place_complete", "in_place_complete.json", {"no_torn_state", "no_acknowledged_loss"},
       {1, 2, 3}},
      {"spin_wait", "spin_wait.json", {"progress"}, {1, 2, 3}},
      {"submit_from_count", "submit_from_count.json", {"no_lost_submission"}, {1, 2, 3}},
      {"pg_check_then_update", "pg_check_then_update.json", {"single_owner"}, {2, 3, 4}},
      {"pg_no_token_check", "pg_no_token_check.json", {"exactly_once_effect", "single_owner"},
       {1, 2, 4}},
      {"pg_local_clock_lease", "pg_local_clock_lease.json", {"single_owner"}, {1, 2, 3}},
  };
  return zoo;
}

// Sets an environment variable for the lifetime of the object (the tests
// are single-threaded; children inherit it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

struct Outcome {
  int exit_code = -1;  // -1: did not exit normally
  std::vector<std::string> violated;
  std::string output;  // faultline's summary, for failure messages
};

// One `faultline run` of a zoo scenario; `mutant` empty runs the reference.
Outcome RunScenario(const ZooCase& c, const std::string& mutant, uint64_t seed,
                    const testing::TempDir& tmp) {
  const std::string scenario = std::string(MUTANT_SCENARIO_DIR) + "/" + c.scenario;
  const std::string out = tmp / (mutant.empty() ? "reference" : mutant);
  std::vector<std::string> argv = {FAULTLINE_BIN, "run", scenario, "--seed", std::to_string(seed),
                                   "--out", out, "--swarm",
                                   mutant.empty() ? SWARM_BIN : SWARM_MUTANT_BIN};
  Outcome o;
  testing::Ran ran;
  {
    ScopedEnv env("SWARM_MUTANT", mutant);
    ran = testing::Run(argv, tmp / "run.log", 180s);  // a hang guard, not a timing
  }
  o.output = ran.output;
  if (ran.exit.exited) o.exit_code = ran.exit.code;
  // The run directory is <out>/<scenario name>-<seed>.
  std::ifstream scenario_in(scenario);
  nlohmann::json s = nlohmann::json::parse(scenario_in, nullptr, false, /*comments=*/true);
  std::ifstream in(out + "/" + s.value("name", "?") + "-" + std::to_string(seed) +
                   "/verdict.json");
  nlohmann::json verdict = nlohmann::json::parse(in, nullptr, false);
  if (verdict.is_object()) {
    for (const auto& inv : verdict.value("invariants", nlohmann::json::array())) {
      if (!inv.value("ok", true)) o.violated.push_back(inv.value("name", ""));
    }
  }
  return o;
}

bool Caught(const ZooCase& c, const Outcome& o) {
  if (o.exit_code != 1) return false;
  for (const std::string& want : c.invariants) {
    for (const std::string& got : o.violated) {
      if (got == want) return true;
    }
  }
  return false;
}

std::string Describe(const Outcome& o) {
  std::string v;
  for (const std::string& name : o.violated) v += (v.empty() ? "" : ", ") + name;
  return "exit " + std::to_string(o.exit_code) + ", violated [" + v + "]\n" + o.output;
}

class MutantCaughtTest : public ::testing::TestWithParam<ZooCase> {};

TEST_P(MutantCaughtTest, CaughtByItsInvariantWhileTheReferencePasses) {
  const ZooCase& c = GetParam();
  testing::TempDir tmp;
  for (uint64_t seed : c.seeds) {
    Outcome mutant = RunScenario(c, c.mutant, seed, tmp);
    EXPECT_TRUE(Caught(c, mutant)) << c.mutant << " seed " << seed << ": " << Describe(mutant);
    Outcome reference = RunScenario(c, "", seed, tmp);
    EXPECT_EQ(reference.exit_code, 0) << "reference, seed " << seed << ": "
                                      << Describe(reference);
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, MutantCaughtTest, ::testing::ValuesIn(Zoo()),
                         [](const auto& p) { return std::string(p.param.mutant); });

TEST(MutantCaughtTest, EveryMutantHasACase) {
  testing::TempDir tmp;
  auto ran = testing::Run({SWARM_MUTANT_BIN, "--list"}, tmp / "list.log", 30s);
  ASSERT_TRUE(ran.exit.exited && ran.exit.code == 0) << ran.output;
  std::string expected;
  for (const ZooCase& c : Zoo()) expected += std::string(c.mutant) + "\n";
  EXPECT_EQ(ran.output, expected);
  // Each name of FAULTLINE_MUTANTS is one mutants_<name> CTest, filtered to
  // that case: a name without a case here would run nothing and pass.
  const std::vector<std::string> listed = testing::BinaryMutants();
  std::set<std::string> cases;
  for (const ZooCase& c : Zoo()) cases.insert(c.mutant);
  testing::ExpectSameMutants(testing::CtestMutants(), "FAULTLINE_MUTANTS (CMake)",
                             {listed.begin(), listed.end()}, "swarm-mutant --list");
  testing::ExpectSameMutants(testing::CtestMutants(), "FAULTLINE_MUTANTS (CMake)", cases,
                             "the cases of mutants_test.cc");
}

// The command line `faultline explore` relies on (README.md).
TEST(SwarmMutantTest, AgentAndReaperNeedAKnownMutant) {
  testing::TempDir tmp;
  for (const char* cmd : {"agent", "reaper"}) {
    for (const char* name : {"", "no_such_mutant"}) {
      ScopedEnv env("SWARM_MUTANT", name);
      auto ran = testing::Run({SWARM_MUTANT_BIN, cmd, tmp / "coord"}, tmp / "cmd.log", 30s);
      EXPECT_TRUE(ran.exit.exited && ran.exit.code == 2) << cmd << " " << name << ran.output;
      for (const ZooCase& c : Zoo()) EXPECT_NE(ran.output.find(c.mutant), std::string::npos);
    }
  }
}

// submit runs over a mutant store once $SWARM_MUTANT is set: a name it does
// not know is refused like agent's and reaper's.
TEST(SwarmMutantTest, SubmitWithAnUnknownMutantIsRefused) {
  testing::TempDir tmp;
  const std::string coord = tmp / "coord";
  auto init = testing::Run({SWARM_MUTANT_BIN, "init", coord}, tmp / "init.log", 30s);
  ASSERT_TRUE(init.exit.exited && init.exit.code == 0) << init.output;
  ScopedEnv env("SWARM_MUTANT", "no_such_mutant");
  auto ran = testing::Run({SWARM_MUTANT_BIN, "submit", coord, "--items", "2"}, tmp / "s.log", 30s);
  EXPECT_TRUE(ran.exit.exited && ran.exit.code == 2) << ran.output;
  EXPECT_NE(ran.output.find("submit_from_count"), std::string::npos) << ran.output;
}

TEST(SwarmMutantTest, OtherSubcommandsAreTheReferenceOnes) {
  testing::TempDir tmp;
  const std::string coord = tmp / "coord";
  auto init = testing::Run({SWARM_MUTANT_BIN, "init", coord}, tmp / "init.log", 30s);
  ASSERT_TRUE(init.exit.exited && init.exit.code == 0) << init.output;
  auto submit =
      testing::Run({SWARM_MUTANT_BIN, "submit", coord, "--items", "3"}, tmp / "submit.log", 30s);
  ASSERT_TRUE(submit.exit.exited && submit.exit.code == 0) << submit.output;
  {
    ScopedEnv env("SWARM_MUTANT", "check_then_create");
    auto agent = testing::Run({SWARM_MUTANT_BIN, "agent", coord, "--exit-when-idle"},
                              tmp / "agent.log", 60s);
    ASSERT_TRUE(agent.exit.exited && agent.exit.code == 0) << agent.output;
  }
  auto status =
      testing::Run({SWARM_MUTANT_BIN, "status", coord, "--json"}, tmp / "status.log", 30s);
  ASSERT_TRUE(status.exit.exited && status.exit.code == 0) << status.output;
  EXPECT_NE(status.output.find("\"done\": 3"), std::string::npos) << status.output;
}

// The flags in a --help text: every "--name" token.
std::set<std::string> Flags(const std::string& help) {
  std::set<std::string> flags;
  for (size_t at = help.find("--"); at != std::string::npos; at = help.find("--", at + 2)) {
    size_t end = at + 2;
    while (end < help.size() && (std::isalnum(static_cast<unsigned char>(help[end])) ||
                                 help[end] == '-')) {
      ++end;
    }
    if (end > at + 2) flags.insert(help.substr(at, end - at));
  }
  return flags;
}

// swarm-mutant's agent, reaper and submit parse their own flags: they must
// take exactly those of swarm, so that every scenario runs against the zoo.
TEST(SwarmMutantTest, AgentAndReaperTakeTheFlagsOfSwarm) {
  testing::TempDir tmp;
  for (const char* cmd : {"agent", "reaper", "submit"}) {
    auto reference = testing::Run({SWARM_BIN, cmd, "--help"}, tmp / "ref.log", 30s);
    auto mutant = testing::Run({SWARM_MUTANT_BIN, cmd, "--help"}, tmp / "mut.log", 30s);
    ASSERT_FALSE(Flags(reference.output).empty()) << reference.output;
    EXPECT_EQ(Flags(mutant.output), Flags(reference.output))
        << cmd << ": add the new flags of coordinator/swarm_main.cc to "
                  "tests/mutants/swarm_mutant_main.cc";
  }
}

// `faultline run --swarm` takes a path relative to the working directory.
TEST(SwarmMutantTest, FaultlineTakesARelativeSwarmPath) {
  testing::TempDir tmp;
  const std::string relative =
      std::filesystem::relative(SWARM_MUTANT_BIN, std::filesystem::current_path()).string();
  ASSERT_NE(relative.front(), '/');
  ScopedEnv env("SWARM_MUTANT", "trigger_happy_reaper");
  auto ran = testing::Run({FAULTLINE_BIN, "run",
                           std::string(MUTANT_SCENARIO_DIR) + "/trigger_happy_reaper.json",
                           "--seed", "1", "--out", tmp / "out", "--swarm", relative},
                          tmp / "run.log", 180s);
  EXPECT_TRUE(ran.exit.exited && ran.exit.code == 1) << ran.output;
  EXPECT_NE(ran.output.find("no_false_death"), std::string::npos) << ran.output;
}

TEST(SwarmMutantTest, TheProductionSwarmHoldsNoMutant) {
  const std::string bytes = testing::ReadAll(SWARM_BIN);
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes.find("SWARM_MUTANT"), std::string::npos);
  for (const ZooCase& c : Zoo()) EXPECT_EQ(bytes.find(c.mutant), std::string::npos) << c.mutant;
}

TEST(MutantCaughtTest, DISABLED_CatchRates) {
  const char* only = std::getenv("MUTANT_ONLY");
  const char* n_env = std::getenv("MUTANT_SEEDS");
  const uint64_t n = n_env ? std::strtoull(n_env, nullptr, 10) : 100;
  testing::TempDir tmp;
  std::printf("| mutant | caught | first catching seeds | reference passes |\n");
  std::printf("|---|---|---|---|\n");
  for (const ZooCase& c : Zoo()) {
    if (only && std::string(only) != c.mutant) continue;
    int caught = 0, reference_ok = 0;
    std::string first;
    std::vector<std::string> missed_reference;
    for (uint64_t seed = 1; seed <= n; ++seed) {
      if (Caught(c, RunScenario(c, c.mutant, seed, tmp))) {
        if (++caught <= 10) first += (first.empty() ? "" : " ") + std::to_string(seed);
      }
      Outcome reference = RunScenario(c, "", seed, tmp);
      if (reference.exit_code == 0) {
        ++reference_ok;
      } else {
        missed_reference.push_back(std::to_string(seed) + " (" + Describe(reference) + ")");
      }
    }
    std::printf("| %s | %d/%llu | %s | %d/%llu |\n", c.mutant, caught,
                static_cast<unsigned long long>(n), first.c_str(), reference_ok,
                static_cast<unsigned long long>(n));
    for (const std::string& m : missed_reference) std::printf("  reference failed seed %s\n", m.c_str());
    std::fflush(stdout);
    EXPECT_EQ(reference_ok, static_cast<int>(n)) << c.mutant;
  }
}

}  // namespace
}  // namespace faultline
