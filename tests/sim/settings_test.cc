// The settings table (sim/settings.h) and invariant options: every setting
// validates, resolves, reaches the resolved JSON and the SUT templates, and
// is refused out of its bounds naming its JSON pointer; an invariant's
// options are validated like a fault's and reach its checker.
#include "sim/settings.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "sim/invariants/checker_support.h"
#include "sim/invariants/registry.h"
#include "sim/option_check.h"
#include "sim/rng.h"
#include "sim/scenario.h"
#include "sim/sut.h"
#include "sim/sut/external_sut.h"
#include "sim/sut/sut_spec.h"

namespace faultline {
namespace {

using nlohmann::json;

Catalog InvariantCatalog() {
  Catalog catalog;
  catalog.invariants = CoreInvariants();
  return catalog;
}

// The scenario `text` parsed; the error's text if it is refused.
bool Parse(const std::string& text, Scenario* out, ScenarioError* error) {
  return ParseScenario(text, "s.json", InvariantCatalog(), out, error);
}

ResolvedScenario ParseAndResolve(const std::string& text, uint64_t seed = 1) {
  Scenario scenario;
  ScenarioError error;
  EXPECT_TRUE(Parse(text, &scenario, &error)) << error.ToString();
  return Resolve(scenario, InvariantCatalog(), seed);
}

// A valid value other than the default (the defaults of lease_ms,
// heartbeat_ms and agent_timeout_ms leave room above them for one more).
int64_t OtherValue(const SettingSpec& spec) {
  return spec.default_value < spec.max ? spec.default_value + 1 : spec.default_value - 1;
}

// {"name": "x", "<group>": {"<name>": value}}
std::string WithSetting(const SettingSpec& spec, const json& value) {
  return json({{"name", "x"}, {std::string(GroupKey(spec.group)), {{spec.name, value}}}}).dump();
}

TEST(SettingTableTest, EveryFieldHasOneRowWithAValidDefault) {
  const auto& table = SettingTable();
  // A field without a row would keep an indeterminate value.
  EXPECT_EQ(sizeof(ScenarioSettings), table.size() * sizeof(int64_t));
  std::set<std::string_view> names;
  for (const SettingSpec& spec : table) {
    EXPECT_TRUE(names.insert(spec.name).second) << spec.name << " twice";
    EXPECT_EQ(std::count_if(table.begin(), table.end(),
                            [&](const SettingSpec& other) { return other.field == spec.field; }),
              1)
        << spec.name << ": a field with two rows";
    EXPECT_LE(spec.min, spec.default_value) << spec.name;
    EXPECT_LE(spec.default_value, spec.max) << spec.name;
    EXPECT_FALSE(spec.doc.empty()) << spec.name;
    EXPECT_EQ(&SpecOf(spec.field), &spec) << spec.name;
    EXPECT_EQ(FindSetting(SettingPointer(spec)), &spec) << spec.name;
    EXPECT_EQ(ScenarioSettings().*spec.field, spec.default_value) << spec.name;
    EXPECT_EQ(ResolvedScenario().*spec.field, spec.default_value) << spec.name;
  }
  EXPECT_EQ(FindSetting("/coordinator/lease"), nullptr);
  EXPECT_EQ(SettingPointer(SpecOf(&ScenarioSettings::slo_max_rss_growth_kb)),
            "/slo/max_rss_growth_kb");
}

TEST(SettingTableTest, EverySettingValidatesResolvesAndAppearsInTheResolvedJson) {
  for (const SettingSpec& spec : SettingTable()) {
    const int64_t v = OtherValue(spec);
    const ResolvedScenario r = ParseAndResolve(WithSetting(spec, v));
    EXPECT_EQ(r.*spec.field, v) << spec.name;
    const json resolved = r.ToJson();
    EXPECT_EQ(resolved.at(json::json_pointer(SettingPointer(spec))), v) << spec.name;
    EXPECT_EQ(GroupJson(r, spec.group).at(std::string(spec.name)), v) << spec.name;
    // And back: the resolved JSON is a scenario with the same value.
    const ResolvedScenario again = ParseAndResolve(resolved.dump(), r.seed);
    EXPECT_EQ(again.*spec.field, v) << spec.name;
  }
}

TEST(SettingTableTest, ARangeIsDrawnFromTheStreamOfItsPointerOrRefused) {
  for (const SettingSpec& spec : SettingTable()) {
    const json range = json::array({spec.default_value, spec.default_value + 1});
    Scenario scenario;
    ScenarioError error;
    const bool ok = Parse(WithSetting(spec, range), &scenario, &error);
    if (!spec.range_ok) {
      ASSERT_FALSE(ok) << spec.name;
      EXPECT_EQ(error.pointer, SettingPointer(spec));
      EXPECT_NE(error.message.find("takes no range"), std::string::npos) << error.message;
      continue;
    }
    ASSERT_TRUE(ok) << error.ToString();
    for (uint64_t seed : {1u, 2u, 77u}) {
      const ResolvedScenario r = Resolve(scenario, InvariantCatalog(), seed);
      EXPECT_EQ(
          r.*spec.field,
          Rng(seed).Split(SettingPointer(spec)).Between(spec.default_value, spec.default_value + 1))
          << spec.name;
    }
  }
}

TEST(SettingTableTest, OutOfRangeValuesAreRefusedNamingThePointerAndTheBounds) {
  for (const SettingSpec& spec : SettingTable()) {
    for (const int64_t v : {spec.min - 1, spec.max + 1}) {
      Scenario scenario;
      ScenarioError error;
      ASSERT_FALSE(Parse(WithSetting(spec, v), &scenario, &error)) << spec.name << " " << v;
      EXPECT_EQ(error.pointer, SettingPointer(spec)) << error.ToString();
      const std::string bounds = v > spec.max || spec.max != std::numeric_limits<int32_t>::max()
                                     ? fmt::format("from {} to {}", spec.min, spec.max)
                                     : fmt::format(">= {}", spec.min);
      EXPECT_EQ(error.message, fmt::format("found {}, expected an integer {}", v, bounds));
    }
  }
  Scenario scenario;
  ScenarioError error;
  ASSERT_FALSE(Parse(R"({"name": "x", "slo": {"max_rss_grwth_kb": 1}})", &scenario, &error));
  EXPECT_EQ(error.ToString(),
            "s.json: /slo/max_rss_grwth_kb: unknown key \"max_rss_grwth_kb\" (did you mean "
            "\"max_rss_growth_kb\"?); known keys: min_claim_success_percent, "
            "max_lock_timeout_percent, max_rss_growth_kb, max_monitor_cpu_growth_percent, "
            "max_monitor_cpu_us_per_scan, max_monitor_rss_growth_kb");
}

TEST(SettingTableTest, EveryCoordinatorSettingIsAPlaceholderWithItsValue) {
  ScenarioSettings values;
  json agent = json::array({"/bin/echo"});
  std::vector<std::string> want = {"/bin/echo"};
  for (const SettingSpec& spec : SettingTable()) {
    const std::string placeholder = fmt::format("{{{}}}", spec.name);
    for (const char* context : {"init", "submit", "agent", "reaper", "dump", "claim"}) {
      const std::vector<std::string> known = sut::PlaceholdersFor(context);
      const bool listed = std::find(known.begin(), known.end(), spec.name) != known.end();
      EXPECT_EQ(listed, spec.group == SettingGroup::kCoordinator) << spec.name << " in " << context;
    }
    if (spec.group != SettingGroup::kCoordinator) continue;
    values.*spec.field = OtherValue(spec);
    agent.push_back(placeholder);
    want.push_back(std::to_string(OtherValue(spec)));
  }
  const json block = {{"observe", "protocol"},
                      {"cwd", "/"},
                      {"submit", {"/bin/true", "{items}"}},
                      {"agent", agent}};
  ASSERT_FALSE(sut::CheckSut(block, true, 10'000)) << sut::CheckSut(block, true, 10'000)->message;
  sut::RunSettings rs;
  rs.agents = 1;
  rs.reaper = false;
  rs.settings = values;
  sut::ExternalSut external(block, rs);
  // Naming the processes reads only the agents' seeds.
  class SeedOnlyHost final : public SutHost {
   public:
    int64_t SutClock() const override { return 0; }
    void Emit(json) override {}
    bool RunProgram(const std::vector<std::string>&, const std::string&, ExitStatus*,
                    std::string* error) override {
      *error = "no programs run here";
      return false;
    }
    uint64_t AgentSeed(const std::string&) const override { return 1; }
    json Settings() const override { return json::object(); }
  } host;
  std::vector<SutProcessSpec> processes;
  std::string error;
  ASSERT_TRUE(external.Processes(host, &processes, &error)) << error;
  ASSERT_EQ(processes.size(), 1u);
  EXPECT_EQ(processes[0].argv, want);
}

TEST(SettingTableTest, SloCheckersFallBackToTheTable) {
  const TraceEvent bare = TraceEvent::FromJson({{"type", "run_start"}});
  const TraceEvent set =
      TraceEvent::FromJson({{"type", "run_start"}, {"slo", {{"max_rss_growth_kb", 7}}}});
  for (const SettingSpec& spec : SettingTable()) {
    if (spec.group != SettingGroup::kSlo) continue;
    EXPECT_EQ(checker::SloBound(bare, spec.field), spec.default_value) << spec.name;
    EXPECT_EQ(checker::SloDefault(spec.field), spec.default_value) << spec.name;
  }
  EXPECT_EQ(checker::SloBound(set, &ScenarioSettings::slo_max_rss_growth_kb), 7);
}

TEST(SettingTableTest, ListingNamesEverySettingWithDefaultBoundsAndDoc) {
  const std::string listing = SettingsListing();
  EXPECT_EQ(listing.rfind("coordinator: ", 0), 0u) << listing;
  EXPECT_NE(listing.find("\nslo: "), std::string::npos) << listing;
  for (const SettingSpec& spec : SettingTable()) {
    const size_t at = listing.find(fmt::format("  {} ", spec.name));
    ASSERT_NE(at, std::string::npos) << spec.name;
    const std::string line = listing.substr(at, listing.find('\n', at) - at);
    EXPECT_NE(line.find(fmt::format("default {} ", spec.default_value)), std::string::npos) << line;
    EXPECT_NE(line.find(std::string(spec.doc)), std::string::npos) << line;
    EXPECT_NE(line.find(fmt::format("{}", spec.min)), std::string::npos) << line;
    EXPECT_EQ(line.find("or a range") != std::string::npos, spec.range_ok) << line;
  }
  EXPECT_NE(listing.find("  lease_ms                         default 3000   >= 1, or a range"),
            std::string::npos)
      << listing;
}

// ---------------------------------------------------------------------------
// Invariant options.

const InvariantKind& Kind(const std::string& name) {
  static const Catalog catalog = InvariantCatalog();
  return *catalog.FindInvariant(name);
}

TEST(InvariantOptionsTest, AnObjectEntrySetsOptionsAndResolvesEveryOne) {
  const ResolvedScenario r = ParseAndResolve(R"({"name": "x", "invariants": [
      "single_owner", {"name": "no_retry_storm", "max_failed_calls": 3},
      {"name": "success_rate"}]})",
                                             9);
  EXPECT_EQ(r.invariants,
            (std::vector<std::string>{"single_owner", "no_retry_storm", "success_rate"}));
  const json storm = r.InvariantOptions(Kind("no_retry_storm"));
  EXPECT_EQ(storm["max_failed_calls"], 3);
  EXPECT_EQ(storm["window_ms"], 1000);
  EXPECT_EQ(r.InvariantOptions(Kind("success_rate")), json({{"min_samples", 20}}));
  EXPECT_EQ(r.InvariantOptions(Kind("single_owner")), json::object());
  // Names stay names; objects carry every option, concrete.
  const json list = r.ToJson()["invariants"];
  EXPECT_EQ(list[0], "single_owner");
  EXPECT_EQ(list[1], json({{"name", "no_retry_storm"},
                           {"max_failed_calls", storm["max_failed_calls"]},
                           {"window_ms", 1000}}));
  EXPECT_EQ(list[2], json({{"name", "success_rate"}, {"min_samples", 20}}));
  const ResolvedScenario again = ParseAndResolve(r.ToJson().dump(), 9);
  EXPECT_EQ(again.invariants, r.invariants);
  EXPECT_EQ(again.invariant_options, r.invariant_options);
  // Left out, every invariant runs with its defaults.
  const ResolvedScenario all = ParseAndResolve(R"({"name": "x"})");
  EXPECT_TRUE(all.invariant_options.empty());
  EXPECT_EQ(all.InvariantOptions(Kind("no_retry_storm")),
            json({{"max_failed_calls", 10}, {"window_ms", 1000}}));
}

struct Refusal {
  const char* invariants;  // the "invariants" value
  const char* pointer;
  const char* message;
};

TEST(InvariantOptionsTest, MistakesNameThePointerLikeAFaultsOptions) {
  const Refusal refusals[] = {
      {R"([{"name": "success_rate", "min_sample": 5}])", "/invariants/0/min_sample",
       R"(unknown option "min_sample" (did you mean "min_samples"?); known options of )"
       R"("success_rate": min_samples)"},
      {R"([{"name": "success_rate", "min_samples": 0}])", "/invariants/0/min_samples",
       "found 0, expected an integer >= 1"},
      {R"([{"name": "success_rate", "min_samples": [5, 9]}])", "/invariants/0/min_samples",
       R"(found [5, 9], expected an integer ("min_samples" takes no range [lo, hi]))"},
      {R"([{"name": "single_owner", "x": 1}])", "/invariants/0/x",
       R"(unknown option "x"; known options of "single_owner": )"},
      {R"([{"min_samples": 5}])", "/invariants/0", R"(missing "name"; known invariants: )"},
      {R"([{"name": 5}])", "/invariants/0/name",
       "found 5 (an integer), expected an invariant name: "},
      {R"([{"name": "succes_rate"}])", "/invariants/0/name",
       R"(unknown invariant "succes_rate" (did you mean "success_rate"?))"},
      {R"(["success_rate", {"name": "success_rate"}])", "/invariants/1",
       R"(duplicate invariant "success_rate" (also at /invariants/0))"},
      {R"([3])", "/invariants/0",
       R"(found 3 (an integer), expected invariant (a non-empty string, or an object with )"
       R"("name" and the invariant's options))"},
      {R"([{"name": "success_rate", "min_claim_success_percent": 70}])",
       "/invariants/0/min_claim_success_percent",
       R"("min_claim_success_percent" is an SLO bound, not an option of "success_rate": write it )"
       R"(in the scenario's "slo" block, e.g. "slo": {"min_claim_success_percent": 70})"},
  };
  for (const Refusal& r : refusals) {
    Scenario scenario;
    ScenarioError error;
    ASSERT_FALSE(
        Parse(fmt::format(R"({{"name": "x", "invariants": {}}})", r.invariants), &scenario, &error))
        << r.invariants;
    EXPECT_EQ(error.pointer, r.pointer) << r.invariants << ": " << error.ToString();
    EXPECT_EQ(error.message.rfind(r.message, 0), 0u)
        << r.invariants << "\n  message: " << error.message << "\n  expected: " << r.message;
  }
}

// A failed model call by a0 at `t_us`; Violations feeds one every 100 ms.
TraceEvent FailedCall(uint64_t seq, int64_t t_us) {
  return TraceEvent::FromJson({{"seq", seq},
                               {"t", t_us},
                               {"proc", "a0"},
                               {"type", "model_call"},
                               {"agent", "a0"},
                               {"ok", false},
                               {"error", "HTTP 503"}});
}

size_t Violations(const ResolvedScenario& r, const std::string& name, int failures) {
  const InvariantKind& kind = Kind(name);
  std::unique_ptr<Invariant> checker = kind.make(r.InvariantOptions(kind));
  for (int i = 0; i < failures; ++i) {
    checker->Observe(FailedCall(static_cast<uint64_t>(i), int64_t{i} * 100'000));
  }
  std::vector<Violation> out;
  checker->Finish(&out);
  return out.size();
}

TEST(InvariantOptionsTest, OptionsReachTheChecker) {
  // Five failed calls within half a second: no storm by default (10 a
  // second), a storm when the scenario allows 3.
  const ResolvedScenario defaults = ParseAndResolve(R"({"name": "x"})");
  const ResolvedScenario strict = ParseAndResolve(
      R"({"name": "x", "invariants": [{"name": "no_retry_storm", "max_failed_calls": 3}]})");
  EXPECT_EQ(Violations(defaults, "no_retry_storm", 5), 0u);
  EXPECT_EQ(Violations(strict, "no_retry_storm", 5), 1u);
  // A wider window catches a slower storm.
  const ResolvedScenario wide = ParseAndResolve(R"({"name": "x", "invariants": [
      {"name": "no_retry_storm", "max_failed_calls": 10, "window_ms": 5000}]})");
  EXPECT_EQ(Violations(wide, "no_retry_storm", 11), 1u);      // 11 within 1 s
  EXPECT_EQ(Violations(defaults, "no_retry_storm", 11), 0u);  // at most 10 within any 1 s
}

TEST(InvariantOptionsTest, EveryOptionOfEveryInvariantHasAValidDefault) {
  for (const InvariantKind& kind : CoreInvariants()) {
    for (const OptionSpec& spec : kind.options) {
      ASSERT_FALSE(spec.default_value.is_null()) << kind.name << "." << spec.name;
      EXPECT_FALSE(CheckOption(spec.default_value, spec, "/x")) << kind.name << "." << spec.name;
      EXPECT_FALSE(spec.help.empty()) << kind.name << "." << spec.name;
    }
    EXPECT_NE(kind.make(DefaultOptions(kind.options)), nullptr) << kind.name;
  }
  EXPECT_FALSE(Kind("no_retry_storm").options.empty());
  EXPECT_FALSE(Kind("success_rate").options.empty());
}

}  // namespace
}  // namespace faultline
