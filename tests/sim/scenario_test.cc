#include "sim/scenario.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "sim/rng.h"
#include "tests/support/temp_dir.h"

namespace faultline {
namespace {

using nlohmann::json;

OptionSpec IntOption(std::string name, json default_value, int64_t min, bool range_ok) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = OptionSpec::Type::kInt;
  spec.default_value = std::move(default_value);
  spec.min = min;
  spec.range_ok = range_ok;
  return spec;
}

OptionSpec StringOption(std::string name, json default_value, std::vector<std::string> choices) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = OptionSpec::Type::kString;
  spec.default_value = std::move(default_value);
  spec.choices = std::move(choices);
  return spec;
}

// Two fault kinds and two invariants, shaped like the real ones.
Catalog TestCatalog() {
  Catalog catalog;
  FaultKind kill;
  kill.name = "kill_agent";
  kill.options = {IntOption("at_ms", nullptr, 0, true), IntOption("count", 1, 1, false),
                  IntOption("restart_after_ms", -1, -1, false)};
  FaultKind crash;
  crash.name = "crash_at";
  crash.lockstep_only = true;
  crash.options = {StringOption("point", nullptr, {"claim.locked", "claim.state_written"}),
                   IntOption("nth", 1, 1, true)};
  catalog.faults = {kill, crash};
  catalog.invariants = {{"single_owner", "one holder per item", {}, nullptr},
                        {"no_lost_work", "every item ends done", {}, nullptr}};
  return catalog;
}

Scenario Parse(const std::string& text) {
  Scenario scenario;
  ScenarioError error;
  EXPECT_TRUE(ParseScenario(text, "s.json", TestCatalog(), &scenario, &error)) << error.ToString();
  return scenario;
}

ResolvedScenario ParseAndResolve(const std::string& text, uint64_t seed) {
  return Resolve(Parse(text), TestCatalog(), seed);
}

// Field by field, so that a field ToJson() forgets cannot hide.
void ExpectSameRun(const ResolvedScenario& a, const ResolvedScenario& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.fmea, b.fmea);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.seed, b.seed);
  for (const SettingSpec& spec : SettingTable()) {
    EXPECT_EQ(a.*spec.field, b.*spec.field) << SettingPointer(spec);
  }
  EXPECT_EQ(a.agents, b.agents);
  EXPECT_EQ(a.work_min_ms, b.work_min_ms);
  EXPECT_EQ(a.work_max_ms, b.work_max_ms);
  EXPECT_EQ(a.items, b.items);
  EXPECT_EQ(a.agent_skills, b.agent_skills);
  EXPECT_EQ(a.item_skills, b.item_skills);
  EXPECT_EQ(a.reaper, b.reaper);
  EXPECT_EQ(a.scheduler, b.scheduler);
  EXPECT_EQ(a.pct_depth, b.pct_depth);
  ASSERT_EQ(a.faults.size(), b.faults.size());
  for (size_t i = 0; i < a.faults.size(); ++i) {
    EXPECT_EQ(a.faults[i].kind, b.faults[i].kind) << "fault " << i;
    EXPECT_EQ(a.faults[i].options, b.faults[i].options) << "fault " << i;
  }
  EXPECT_EQ(a.invariants, b.invariants);
  EXPECT_EQ(a.invariant_options, b.invariant_options);
  EXPECT_EQ(a.sim_ms, b.sim_ms);
  EXPECT_EQ(a.wall_ms, b.wall_ms);
  EXPECT_EQ(a.step_timeout_ms, b.step_timeout_ms);
}

// A family with a range nearly everywhere one is allowed.
constexpr const char* kFamily = R"({
  "name": "killed-worker-mid-claim",
  "fmea": ["worker-crash", "lock-accumulation"],
  "seed": 7,
  "coordinator": {"lease_ms": [2000, 4000], "heartbeat_ms": [100, 500],
                  "reap_interval_ms": [500, 1500], "agent_timeout_ms": [1000, 3000],
                  "max_attempts": [2, 6]},
  "agents": {"count": [4, 16], "work_ms": [50, 400]},
  "work": {"items": [100, 300]},
  "reaper": false,
  "scheduler": {"kind": "pct", "depth": [1, 8]},
  "faults": [
    {"kind": "kill_agent", "at_ms": [100, 5000], "count": 3},
    {"kind": "crash_at", "point": "claim.state_written", "nth": [1, 20]}
  ],
  "invariants": ["no_lost_work"],
  "limits": {"sim_ms": 120000, "wall_ms": 30000, "step_timeout_ms": 5000}
})";

// ---------------------------------------------------------------------------
// Every mistake names the pointer and says what was found and expected.

struct Mistake {
  const char* label;  // the test's name
  std::string text;
  const char* pointer;
  const char* phrase;  // a part of the message
};

std::ostream& operator<<(std::ostream& os, const Mistake& m) { return os << m.label; }

const Mistake kMistakes[] = {
    {"UnknownTopLevelKey", R"({"name": "x", "agent": {"count": 4}})", "/agent",
     R"(unknown key "agent" (did you mean "agents"?); known keys: name, fmea, mode, seed,)"},
    {"MisspeltNestedKey", R"({"name": "x", "agents": {"cuont": 4}})", "/agents/cuont",
     R"(unknown key "cuont" (did you mean "count"?); known keys: count, work_ms)"},
    {"KeyWithSlashIsEscaped", R"({"name": "x", "limits": {"sim/ms": 1}})", "/limits/sim~1ms",
     R"(unknown key "sim/ms")"},
    {"WrongType", R"({"name": "x", "agents": {"count": "abc"}})", "/agents/count",
     R"(found "abc" (a string), expected an integer or a range [lo, hi])"},
    {"FloatForInteger", R"({"name": "x", "limits": {"sim_ms": 1.5}})", "/limits/sim_ms",
     "found 1.5 (a floating-point number), expected an integer"},
    {"SectionNotAnObject", R"({"name": "x", "agents": 4})", "/agents",
     "found 4 (an integer), expected an object with keys count, work_ms"},
    {"RangeReversed", R"({"name": "x", "agents": {"count": [16, 4]}})", "/agents/count",
     "found [16, 4], expected a range [lo, hi] with lo <= hi (range reversed)"},
    {"RangeOfThree", R"({"name": "x", "agents": {"count": [1, 2, 3]}})", "/agents/count",
     "found [1, 2, 3], expected a range [lo, hi] of exactly two integers"},
    {"RangeOfStrings", R"({"name": "x", "work": {"items": [1, "8"]}})", "/work/items",
     "expected a range [lo, hi] of exactly two integers"},
    {"NegativeSeed", R"({"name": "x", "seed": -1})", "/seed",
     "found -1, expected a non-negative integer"},
    {"NegativeDuration", R"({"name": "x", "coordinator": {"lease_ms": -5}})",
     "/coordinator/lease_ms", "found -5, expected an integer >= 1"},
    {"AgentsOutOfBounds", R"({"name": "x", "agents": {"count": 2000}})", "/agents/count",
     "found 2000, expected an integer from 1 to 1024"},
    {"ItemsRangeOutOfBounds", R"({"name": "x", "work": {"items": [0, 10]}})", "/work/items",
     "found [0, 10], expected a range [lo, hi] with lo and hi from 1 to "
     "1000000"},
    {"HugeInteger", R"({"name": "x", "limits": {"wall_ms": 18446744073709551615}})",
     "/limits/wall_ms", "expected an integer from 1 to 2147483647"},
    {"RangeNotAllowed", R"({"name": "x", "limits": {"wall_ms": [1, 2]}})", "/limits/wall_ms",
     R"(found [1, 2], expected an integer ("wall_ms" takes no range [lo, hi]))"},
    {"UnknownMode", R"({"name": "x", "mode": "lockstp"})", "/mode",
     R"(found "lockstp", expected one of "lockstep", "freerun" (did you mean "lockstep"?))"},
    {"ReaperNotBoolean", R"({"name": "x", "reaper": "yes"})", "/reaper",
     R"(found "yes" (a string), expected true or false)"},
    {"FmeaNotStrings", R"({"name": "x", "fmea": ["worker-crash", 7]})", "/fmea/1",
     "found 7 (an integer), expected failure-mode id"},
    {"FaultsNotAnArray", R"({"name": "x", "faults": {"kind": "kill_agent"}})", "/faults",
     "expected an array of faults"},
    {"FaultWithoutKind", R"({"name": "x", "faults": [{"at_ms": 5}]})", "/faults/0",
     R"(missing "kind"; known kinds: kill_agent, crash_at)"},
    {"UnknownFaultKind", R"({"name": "x", "faults": [{"kind": "kil_agent", "at_ms": 5}]})",
     "/faults/0/kind",
     R"(unknown fault kind "kil_agent" (did you mean "kill_agent"?); known kinds: kill_agent, crash_at)"},
    {"UnknownFaultOption",
     R"({"name": "x", "faults": [{"kind": "kill_agent", "at_ms": 5, "restart_ms": 9}]})",
     "/faults/0/restart_ms",
     R"(unknown option "restart_ms"; known options of "kill_agent": at_ms, count, restart_after_ms)"},
    {"MissingRequiredFaultOption", R"({"name": "x", "faults": [{"kind": "kill_agent"}]})",
     "/faults/0", R"(missing required option "at_ms" of fault "kill_agent")"},
    {"FaultOptionWrongType",
     R"({"name": "x", "faults": [{"kind": "kill_agent", "at_ms": 1},
                                {"kind": "kill_agent", "at_ms": "soon"}]})",
     "/faults/1/at_ms", R"(found "soon" (a string), expected an integer or a range [lo, hi])"},
    {"FaultOptionNotInChoices",
     R"({"name": "x", "faults": [{"kind": "crash_at", "point": "claim.lockd"}]})",
     "/faults/0/point",
     R"(found "claim.lockd", expected one of "claim.locked", "claim.state_written" (did you mean "claim.locked"?))"},
    {"FaultRangeNotAllowed",
     R"({"name": "x", "faults": [{"kind": "kill_agent", "at_ms": 1, "count": [1, 3]}]})",
     "/faults/0/count", R"(expected an integer ("count" takes no range [lo, hi]))"},
    {"FaultOptionBelowMin",
     R"({"name": "x", "faults": [{"kind": "kill_agent", "at_ms": 1, "restart_after_ms": -2}]})",
     "/faults/0/restart_after_ms", "found -2, expected an integer >= -1"},
    {"LockstepOnlyFaultInFreerun",
     R"({"name": "x", "mode": "freerun",
         "faults": [{"kind": "crash_at", "point": "claim.locked"}]})",
     "/faults/0/kind",
     R"(fault "crash_at" needs lockstep mode, but "mode" is "freerun" (impossible combination))"},
    {"OneOfTooShort",
     R"({"name": "x", "faults": [{"kind": "crash_at", "point": {"one_of": ["claim.locked"]}}]})",
     "/faults/0/point", R"(expected a value of "point" or {"one_of": [at least two values]})"},
    {"OneOfUnknownKey",
     R"({"name": "x", "faults": [{"kind": "crash_at", "point": {"any": ["claim.locked"]}}]})",
     "/faults/0/point", R"(expected a value of "point" or {"one_of")"},
    {"OneOfBadAlternative",
     R"({"name": "x", "faults": [{"kind": "crash_at",
                                 "point": {"one_of": ["claim.locked", "claim.lockd"]}}]})",
     "/faults/0/point/one_of/1", R"(found "claim.lockd", expected one of)"},
    {"OneOfRepeated",
     R"({"name": "x", "faults": [{"kind": "crash_at",
                                 "point": {"one_of": ["claim.locked", "claim.locked"]}}]})",
     "/faults/0/point/one_of/1", R"("claim.locked" is listed twice)"},
    {"OneOfNoRanges",
     R"({"name": "x", "faults": [{"kind": "kill_agent", "at_ms": {"one_of": [1, [2, 3]]}}]})",
     "/faults/0/at_ms/one_of/1", R"(takes no range [lo, hi])"},
    {"ArrivalsNotAnObject", R"({"name": "x", "work": {"arrivals": 3}})", "/work/arrivals",
     "found 3 (an integer), expected an object with keys submitters, items, at_ms"},
    {"ArrivalsUnknownKey", R"({"name": "x", "work": {"arrivals": {"submiters": 2}}})",
     "/work/arrivals/submiters", R"(unknown key "submiters" (did you mean "submitters"?))"},
    {"ArrivalsTooManySubmitters", R"({"name": "x", "work": {"arrivals": {"submitters": 65}}})",
     "/work/arrivals/submitters", "found 65, expected an integer from 1 to 64"},
    {"ArrivalsItemsRangeReversed",
     R"({"name": "x", "work": {"arrivals": {"items": [5, 2]}}})", "/work/arrivals/items",
     "(range reversed)"},
    {"ArrivalsWithAnExternalSut",
     R"({"name": "x", "work": {"arrivals": {"submitters": 2}}, "sut": {}})", "/work/arrivals",
     "only the reference coordinator has"},
    {"PctInFreerun", R"({"name": "x", "mode": "freerun", "scheduler": {"kind": "pct"}})",
     "/scheduler/kind", R"(the "pct" scheduler needs lockstep mode)"},
    {"HeartbeatNotBelowLease",
     R"({"name": "x", "coordinator": {"lease_ms": 500, "heartbeat_ms": 500}})",
     "/coordinator/heartbeat_ms",
     "heartbeat_ms 500 must be below lease_ms 500: a lease would expire "
     "between two heartbeats "
     "(impossible combination)"},
    {"HeartbeatRangeReachesLeaseRange",
     R"({"name": "x", "coordinator": {"lease_ms": [800, 4000], "heartbeat_ms": [100, 1000]}})",
     "/coordinator/heartbeat_ms", "heartbeat_ms [100, 1000] must be below lease_ms [800, 4000]"},
    {"LeaseBelowDefaultHeartbeat", R"({"name": "x", "coordinator": {"lease_ms": 400}})",
     "/coordinator/lease_ms", "heartbeat_ms 500 must be below lease_ms 400"},
    {"AgentTimeoutNotAboveHeartbeat", R"({"name": "x", "coordinator": {"agent_timeout_ms": 500}})",
     "/coordinator/agent_timeout_ms",
     "agent_timeout_ms 500 must be above heartbeat_ms 500: live agents would "
     "be declared dead"},
    {"UnknownInvariant", R"({"name": "x", "invariants": ["single_onwer"]})", "/invariants/0",
     R"(unknown invariant "single_onwer" (did you mean "single_owner"?); known invariants: single_owner, no_lost_work)"},
    {"DuplicateInvariant",
     R"({"name": "x", "invariants": ["single_owner", "no_lost_work", "single_owner"]})",
     "/invariants/2", R"(duplicate invariant "single_owner" (also at /invariants/0))"},
    {"ExpectNotAnObject", R"({"name": "x", "expect": ["claim.granted"]})", "/expect",
     "expected an object with \"reached\" and/or \"sometimes\""},
    {"ExpectUnknownKey", R"({"name": "x", "expect": {"reach": ["claim.granted"]}})",
     "/expect/reach", R"(unknown key "reach" (did you mean "reached"?))"},
    {"ExpectEmptyName", R"({"name": "x", "expect": {"sometimes": ["a", ""]}})",
     "/expect/sometimes/1", "expected probe name (a non-empty string)"},
    {"EmptyInvariants", R"({"name": "x", "invariants": []})", "/invariants",
     "expected at least one invariant name"},
    {"BadName", R"({"name": "Killed Worker"})", "/name",
     R"(found "Killed Worker", expected a name of 1 to 64 characters from a-z, 0-9)"},
    {"NameTooLong", "{\"name\": \"" + std::string(65, 'a') + "\"}", "/name",
     "expected a name of 1 to 64 characters"},
    {"NameNotAString", R"({"name": 12})", "/name", "found 12 (an integer), expected a name"},
    {"MissingName", R"({"seed": 3})", "", R"(missing required key "name")"},
    {"NotAnObject", "[1, 2]", "", "found [1, 2] (an array), expected a JSON object (a scenario)"},
    {"DuplicateKey", R"({"name": "x", "faults": [], "faults": []})", "/faults",
     R"(duplicate key "faults" (JSON keeps only the last one))"},
    {"DuplicateNestedKey",
     R"({"name": "x", "faults": [{"kind": "kill_agent", "at_ms": 1},
                                {"kind": "kill_agent", "at_ms": 1, "at_ms": 2}]})",
     "/faults/1/at_ms", R"(duplicate key "at_ms")"},
    {"InvalidJson", "{\n  \"name\": \"x\",\n  agents: 4\n}", "",
     "invalid JSON at line 3, column 3 (byte 20): syntax error while parsing "
     "object key"},
    {"EmptyText", "", "", "invalid JSON at line 1, column 1"},
    {"UnclosedComment", "{\"name\": \"x\"} /* trailing", "", "invalid JSON at line 1"},
};

class ScenarioMistakeTest : public ::testing::TestWithParam<Mistake> {};

TEST_P(ScenarioMistakeTest, NamesPointerAndWhatWasExpected) {
  const Mistake& m = GetParam();
  Scenario scenario;
  ScenarioError error;
  ASSERT_FALSE(ParseScenario(m.text, "scenarios/x.json", TestCatalog(), &scenario, &error));
  EXPECT_EQ(error.file, "scenarios/x.json");
  EXPECT_EQ(error.pointer, m.pointer) << error.ToString();
  EXPECT_NE(error.message.find(m.phrase), std::string::npos)
      << "message: " << error.message << "\nexpected to contain: " << m.phrase;
}

INSTANTIATE_TEST_SUITE_P(Mistakes, ScenarioMistakeTest, ::testing::ValuesIn(kMistakes),
                         [](const auto& test) { return std::string(test.param.label); });

TEST(ScenarioTest, ErrorStringIsFilePointerMessage) {
  Scenario scenario;
  ScenarioError error;
  ASSERT_FALSE(ParseScenario(R"({"name": "x", "agents": {"count": [16, 4]}})", "scenarios/x.json",
                             TestCatalog(), &scenario, &error));
  EXPECT_EQ(error.ToString(),
            "scenarios/x.json: /agents/count: found [16, 4], expected a range "
            "[lo, hi] with "
            "lo <= hi (range reversed)");
  ASSERT_FALSE(ParseScenario("{}", "scenarios/x.json", TestCatalog(), &scenario, &error));
  EXPECT_EQ(error.ToString().rfind("scenarios/x.json: missing required key \"name\"", 0), 0u)
      << error.ToString();
}

TEST(ScenarioTest, AcceptsCommentsAndTheFullFormat) {
  const Scenario scenario = Parse(R"(// The DESIGN example, with comments.
    {
      "name": "killed-worker-mid-claim",  // the run directory's name
      /* every key of the format */
      "fmea": ["worker-crash"],
      "mode": "lockstep",
      "seed": 18446744073709551615,
      "coordinator": {"lease_ms": 3000, "heartbeat_ms": 500, "reap_interval_ms": 1000,
                      "agent_timeout_ms": 3000, "max_attempts": 5},
      "agents": {"count": [4, 16], "work_ms": [50, 400]},
      "work": {"items": 200},
      "reaper": true,
      "scheduler": {"kind": "random", "depth": 3},
      "faults": [
        {"kind": "kill_agent", "at_ms": [100, 5000], "count": 3, "restart_after_ms": 500},
        {"kind": "crash_at", "point": "claim.state_written", "nth": [1, 20]}
      ],
      "invariants": ["single_owner", "no_lost_work"],
      "limits": {"sim_ms": 600000, "wall_ms": 60000, "step_timeout_ms": 10000}
    })");
  EXPECT_EQ(scenario.name, "killed-worker-mid-claim");
  EXPECT_EQ(scenario.file, "s.json");
  EXPECT_EQ(scenario.doc["agents"]["count"], json::array({4, 16}));
}

TEST(ScenarioTest, DefaultsOfAMinimalScenarioAreResolvedScenarioDefaults) {
  const ResolvedScenario r = ParseAndResolve(R"({"name": "minimal"})", 1);
  ResolvedScenario expected;
  expected.name = "minimal";
  expected.invariants = {"single_owner", "no_lost_work"};  // every one, in catalog order
  ExpectSameRun(r, expected);
}

TEST(ScenarioTest, LoadsFilesAndExplainsUnreadableOnes) {
  testing::TempDir dir;
  std::ofstream(dir / "ok.json") << "{\"name\": \"from-file\"} // done\n";
  Scenario scenario;
  ScenarioError error;
  ASSERT_TRUE(LoadScenario(dir / "ok.json", TestCatalog(), &scenario, &error)) << error.ToString();
  EXPECT_EQ(scenario.name, "from-file");
  EXPECT_EQ(scenario.file, dir / "ok.json");

  ASSERT_FALSE(LoadScenario(dir / "missing.json", TestCatalog(), &scenario, &error));
  EXPECT_EQ(error.ToString(),
            dir / "missing.json" + ": cannot open the scenario file: No such file or directory");
  ASSERT_FALSE(LoadScenario(dir.path(), TestCatalog(), &scenario, &error));
  EXPECT_EQ(error.message, "is a directory, expected a scenario file (a regular file)");
  // Neither a FIFO nor an endless device is waited on or read without end.
  ASSERT_EQ(mkfifo((dir / "fifo.json").c_str(), 0600), 0);
  ASSERT_FALSE(LoadScenario(dir / "fifo.json", TestCatalog(), &scenario, &error));
  EXPECT_EQ(error.message, "is a FIFO, expected a scenario file (a regular file)");
  ASSERT_FALSE(LoadScenario("/dev/zero", TestCatalog(), &scenario, &error));
  EXPECT_EQ(error.message, "is a device, expected a scenario file (a regular file)");

  std::ofstream(dir / "bad.json") << "{\"name\": \"x\", \"agents\": {\"count\": 0}}";
  ASSERT_FALSE(LoadScenario(dir / "bad.json", TestCatalog(), &scenario, &error));
  EXPECT_EQ(error.ToString(),
            dir / "bad.json" + ": /agents/count: found 0, expected an integer from 1 to 1024");
}

TEST(ScenarioTest, CatalogFindsByName) {
  const Catalog catalog = TestCatalog();
  ASSERT_NE(catalog.FindFault("crash_at"), nullptr);
  EXPECT_TRUE(catalog.FindFault("crash_at")->lockstep_only);
  EXPECT_EQ(catalog.FindFault("crash"), nullptr);
  ASSERT_NE(catalog.FindInvariant("no_lost_work"), nullptr);
  EXPECT_EQ(catalog.FindInvariant("no_lost_work")->name, "no_lost_work");
  EXPECT_EQ(catalog.FindInvariant("no_lost"), nullptr);
}

// ---------------------------------------------------------------------------
// Resolution.

TEST(ResolveTest, SameSeedSameRunAndSeedsSpreadOverARange) {
  const Scenario family = Parse(kFamily);
  std::set<int> agent_counts;
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    const ResolvedScenario a = Resolve(family, TestCatalog(), seed);
    ExpectSameRun(a, Resolve(family, TestCatalog(), seed));
    EXPECT_EQ(a.seed, seed);
    agent_counts.insert(a.agents);
  }
  // 64 draws from 13 values: a constant or nearly constant draw is a bug.
  EXPECT_GE(agent_counts.size(), 8u);
}

TEST(ResolveTest, DrawsEveryRangeWithinItsBounds) {
  const Scenario family = Parse(kFamily);
  std::set<int64_t> nths;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    const ResolvedScenario r = Resolve(family, TestCatalog(), seed);
    EXPECT_GE(r.lease_ms, 2000);
    EXPECT_LE(r.lease_ms, 4000);
    EXPECT_GE(r.heartbeat_ms, 100);
    EXPECT_LE(r.heartbeat_ms, 500);
    EXPECT_GE(r.reap_interval_ms, 500);
    EXPECT_LE(r.reap_interval_ms, 1500);
    EXPECT_GE(r.agent_timeout_ms, 1000);
    EXPECT_LE(r.agent_timeout_ms, 3000);
    EXPECT_GE(r.max_attempts, 2);
    EXPECT_LE(r.max_attempts, 6);
    EXPECT_GE(r.agents, 4);
    EXPECT_LE(r.agents, 16);
    EXPECT_GE(r.items, 100);
    EXPECT_LE(r.items, 300);
    EXPECT_GE(r.pct_depth, 1);
    EXPECT_LE(r.pct_depth, 8);
    const int64_t at = r.faults[0].options["at_ms"].get<int64_t>();
    EXPECT_GE(at, 100);
    EXPECT_LE(at, 5000);
    const int64_t nth = r.faults[1].options["nth"].get<int64_t>();
    EXPECT_GE(nth, 1);
    EXPECT_LE(nth, 20);
    nths.insert(nth);
  }
  EXPECT_EQ(nths.size(), 20u) << "both ends of a range must be reachable";
}

TEST(ResolveTest, EachRangeHasTheStreamNamedByItsPointer) {
  const ResolvedScenario r = ParseAndResolve(kFamily, 99);
  const Rng root(99);
  EXPECT_EQ(r.agents, root.Split("/agents/count").Between(4, 16));
  EXPECT_EQ(r.lease_ms, root.Split("/coordinator/lease_ms").Between(2000, 4000));
  EXPECT_EQ(r.faults[0].options["at_ms"], root.Split("/faults/0/at_ms").Between(100, 5000));
  EXPECT_EQ(r.faults[1].options["nth"], root.Split("/faults/1/nth").Between(1, 20));
}

TEST(ResolveTest, AddingAFaultShiftsNoOtherDraw) {
  const std::string base = R"({"name": "x", "agents": {"count": [1, 1024]},
      "work": {"items": [1, 1000000]}, "faults": [{"kind": "kill_agent", "at_ms": [0, 100000]}]})";
  const std::string more = R"({"name": "x", "agents": {"count": [1, 1024]},
      "work": {"items": [1, 1000000]}, "faults": [{"kind": "kill_agent", "at_ms": [0, 100000]},
      {"kind": "crash_at", "point": "claim.locked", "nth": [1, 50]}]})";
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    const ResolvedScenario a = ParseAndResolve(base, seed);
    const ResolvedScenario b = ParseAndResolve(more, seed);
    EXPECT_EQ(a.agents, b.agents);
    EXPECT_EQ(a.items, b.items);
    EXPECT_EQ(a.faults[0].options, b.faults[0].options);
  }
}

TEST(ResolveTest, ArrivalsAreDrawnAndAtMsStaysARange) {
  const Scenario s = Parse(R"({"name": "x", "work": {"items": 3,
      "arrivals": {"submitters": [2, 4], "items": [1, 9], "at_ms": [0, 500]}}})");
  std::set<int> submitters;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const ResolvedScenario r = Resolve(s, TestCatalog(), seed);
    EXPECT_GE(r.arrivals.submitters, 2);
    EXPECT_LE(r.arrivals.submitters, 4);
    EXPECT_GE(r.arrivals.items, 1);
    EXPECT_LE(r.arrivals.items, 9);
    EXPECT_EQ(r.arrivals.at_lo_ms, 0);
    EXPECT_EQ(r.arrivals.at_hi_ms, 500);
    submitters.insert(r.arrivals.submitters);
    const json written = r.ToJson();
    EXPECT_EQ(written["work"]["arrivals"]["at_ms"], json::array({0, 500}));
    // The resolved scenario loads back to the same run.
    Scenario again;
    ScenarioError error;
    ASSERT_TRUE(ParseScenario(written.dump(), "r.json", TestCatalog(), &again, &error))
        << error.ToString();
    EXPECT_EQ(Resolve(again, TestCatalog(), seed).ToJson(), written);
  }
  EXPECT_EQ(submitters.size(), 3u);
  EXPECT_EQ(Resolve(Parse(R"({"name": "x"})"), TestCatalog(), 1).arrivals.submitters, 0);
  EXPECT_FALSE(Resolve(Parse(R"({"name": "x"})"), TestCatalog(), 1).ToJson()["work"].contains(
      "arrivals"));
}

TEST(ResolveTest, AOneOfOptionDrawsEachAlternativeFromItsOwnStream) {
  const Scenario s = Parse(R"({"name": "x", "faults": [{"kind": "crash_at",
      "point": {"one_of": ["claim.locked", "claim.state_written"]}, "nth": [1, 5]}]})");
  std::set<std::string> points;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const ResolvedScenario r = Resolve(s, TestCatalog(), seed);
    points.insert(r.faults[0].options["point"].get<std::string>());
    EXPECT_EQ(r.faults[0].options["point"],
              json::array({"claim.locked", "claim.state_written"})
                  [Rng(seed).Split("/faults/0/point").Index(2)]);
  }
  EXPECT_EQ(points, (std::set<std::string>{"claim.locked", "claim.state_written"}));
}

TEST(ResolveTest, WorkMsIsAPerItemRangeNotADraw) {
  const ResolvedScenario range =
      ParseAndResolve(R"({"name": "x", "agents": {"work_ms": [50, 400]}})", 3);
  EXPECT_EQ(range.work_min_ms, 50);
  EXPECT_EQ(range.work_max_ms, 400);
  const ResolvedScenario fixed = ParseAndResolve(R"({"name": "x", "agents": {"work_ms": 7}})", 3);
  EXPECT_EQ(fixed.work_min_ms, 7);
  EXPECT_EQ(fixed.work_max_ms, 7);
  EXPECT_EQ(range.ToJson()["agents"]["work_ms"], json::array({50, 400}));
  EXPECT_EQ(fixed.ToJson()["agents"]["work_ms"], 7);
}

TEST(ResolveTest, FaultsGetEveryOptionWithDefaultsFilled) {
  const ResolvedScenario r = ParseAndResolve(
      R"({"name": "x", "faults": [{"kind": "kill_agent", "at_ms": 250},
                                 {"kind": "crash_at", "point": "claim.locked"}]})",
      5);
  ASSERT_EQ(r.faults.size(), 2u);
  EXPECT_EQ(r.faults[0].kind, "kill_agent");
  EXPECT_EQ(r.faults[0].options, json({{"at_ms", 250}, {"count", 1}, {"restart_after_ms", -1}}));
  EXPECT_EQ(r.faults[1].kind, "crash_at");
  EXPECT_EQ(r.faults[1].options, json({{"point", "claim.locked"}, {"nth", 1}}));
}

TEST(ResolveTest, ToJsonLoadsBackToTheSameRun) {
  const std::string freerun = R"({"name": "freerun-family", "mode": "freerun",
      "agents": {"count": [2, 9], "work_ms": [0, 30]},
      "faults": [{"kind": "kill_agent", "at_ms": [0, 900], "restart_after_ms": 10}]})";
  for (const std::string& text : {std::string(kFamily), freerun}) {
    const Scenario family = Parse(text);
    for (uint64_t seed : {uint64_t{0}, uint64_t{1}, uint64_t{42}, ~uint64_t{0}}) {
      const ResolvedScenario r = Resolve(family, TestCatalog(), seed);
      const json plain = r.ToJson();
      Scenario reloaded;
      ScenarioError error;
      ASSERT_TRUE(ParseScenario(plain.dump(), "resolved.json", TestCatalog(), &reloaded, &error))
          << error.ToString() << "\n"
          << plain.dump(2);
      EXPECT_EQ(plain["seed"], seed);
      ExpectSameRun(Resolve(reloaded, TestCatalog(), seed), r);
    }
  }
}

TEST(ResolveTest, ToJsonListsTheDefaultInvariants) {
  const json plain = ParseAndResolve(R"({"name": "x"})", 1).ToJson();
  EXPECT_EQ(plain["invariants"], json::array({"single_owner", "no_lost_work"}));
  EXPECT_EQ(plain["mode"], "lockstep");
  EXPECT_EQ(plain["seed"], 1);
}

}  // namespace
}  // namespace faultline
