// Which scenarios run on which store (docs/scenario-format.md, "Stores"),
// with the real fault kinds: a fault of the shared directory's state files
// is refused on PostgreSQL, a fault of the server on the shared directory,
// crash_at by its point; "expect" lists of one store apply to that store.
#include <gtest/gtest.h>

#include <string>

#include "faults/registry.h"
#include "sim/scenario.h"

namespace faultline {
namespace {

Catalog RealFaults() {
  Catalog catalog;
  catalog.faults = faults::AllFaults();
  return catalog;
}

std::string WithFault(const std::string& store, const std::string& fault) {
  return R"({"name": "s", "store": ")" + store + R"(", "faults": [)" + fault + "]}";
}

// The error of loading `text`, "" if it loads.
std::string Refusal(const std::string& text) {
  Scenario scenario;
  ScenarioError error;
  if (ParseScenario(text, "s.json", RealFaults(), &scenario, &error)) return "";
  return error.ToString();
}

TEST(ScenarioStoreTest, FaultsOfTheStateFilesAreRefusedOnTheServer) {
  for (const char* fault :
       {R"({"kind": "io_error", "at_ms": 100})", R"({"kind": "disk_full", "at_ms": 100})",
        R"({"kind": "power_loss", "at_ms": 100})",
        R"({"kind": "corrupt_file", "at_ms": 100})"}) {
    SCOPED_TRACE(fault);
    EXPECT_EQ(Refusal(WithFault("fs", fault)), "");
    const std::string why = Refusal(WithFault("postgres", fault));
    EXPECT_NE(why.find("s.json: /faults/0/kind: fault \""), std::string::npos) << why;
    EXPECT_NE(why.find("acts on the coordinator's state files in the shared directory, which a "
                       "run with \"store\": \"postgres\" does not have"),
              std::string::npos)
        << why;
    EXPECT_NE(why.find("run the scenario on \"store\": \"fs\""), std::string::npos) << why;
  }
}

TEST(ScenarioStoreTest, FaultsOfTheServerAreRefusedOnTheSharedDirectory) {
  const std::string fault = R"({"kind": "db_crash", "at_ms": 100})";
  EXPECT_EQ(Refusal(WithFault("postgres", fault)), "");
  EXPECT_NE(Refusal(WithFault("fs", fault))
                .find("/faults/0/kind: fault \"db_crash\" acts on the database server"),
            std::string::npos);
}

TEST(ScenarioStoreTest, CrashAtIsJudgedByItsPoint) {
  for (const char* point : {"claim.state_written", "complete.state_written", "reap.state_written",
                            "heartbeat.written", "register.written", "lock.busy"}) {
    SCOPED_TRACE(point);
    const std::string fault = std::string(R"({"kind": "crash_at", "point": ")") + point + "\"}";
    EXPECT_EQ(Refusal(WithFault("postgres", fault)), "");
    EXPECT_EQ(Refusal(WithFault("fs", fault)), "");
  }
  for (const char* point : {"claim.locked", "complete.ledger_written", "submit.create",
                            "quarantine.moved", "sys.rename"}) {
    SCOPED_TRACE(point);
    const std::string fault = std::string(R"({"kind": "crash_at", "point": ")") + point + "\"}";
    EXPECT_EQ(Refusal(WithFault("fs", fault)), "");
    const std::string why = Refusal(WithFault("postgres", fault));
    EXPECT_NE(why.find(std::string("s.json: /faults/0/point: fault \"crash_at\" at point \"") +
                       point + "\" is a step of the coordinator's state files"),
              std::string::npos)
        << why;
  }
}

TEST(ScenarioStoreTest, StoreRefusalJudgesAnotherStoreThanTheFilesOwn) {
  Scenario scenario;
  ScenarioError error;
  ASSERT_TRUE(ParseScenario(WithFault("fs", R"({"kind": "io_error", "at_ms": 1})"), "s.json",
                            RealFaults(), &scenario, &error))
      << error.ToString();
  EXPECT_FALSE(StoreRefusal(scenario, RealFaults(), "fs").has_value());
  const auto refusal = StoreRefusal(scenario, RealFaults(), "postgres");
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->pointer, "/faults/0/kind");

  ASSERT_TRUE(ParseScenario(WithFault("fs", R"({"kind": "kill_agent", "at_ms": 1})"), "s.json",
                            RealFaults(), &scenario, &error))
      << error.ToString();
  EXPECT_FALSE(StoreRefusal(scenario, RealFaults(), "postgres").has_value());
}

TEST(ScenarioStoreTest, ExpectationsOfOneStoreApplyToItsRunsOnly) {
  const std::string text = R"({"name": "s", "store": "STORE",
    "expect": {"reached": ["takeover.after_expiry"], "sometimes": ["a"],
               "fs": {"reached": ["claim.busy"]},
               "postgres": {"reached": ["fault.db_crash.landed"], "sometimes": ["b"]}}})";
  auto resolved = [&](const std::string& store) {
    std::string t = text;
    t.replace(t.find("STORE"), 5, store);
    Scenario scenario;
    ScenarioError error;
    EXPECT_TRUE(ParseScenario(t, "s.json", RealFaults(), &scenario, &error)) << error.ToString();
    return Resolve(scenario, RealFaults(), 1);
  };
  const ResolvedScenario fs = resolved("fs");
  EXPECT_EQ(fs.expect_reached, (std::vector<std::string>{"takeover.after_expiry", "claim.busy"}));
  EXPECT_EQ(fs.expect_sometimes, (std::vector<std::string>{"a"}));
  const ResolvedScenario pg = resolved("postgres");
  EXPECT_EQ(pg.expect_reached,
            (std::vector<std::string>{"takeover.after_expiry", "fault.db_crash.landed"}));
  EXPECT_EQ(pg.expect_sometimes, (std::vector<std::string>{"a", "b"}));
  // The resolved file holds the merged lists of its own store, and loads back.
  const nlohmann::json j = fs.ToJson();
  EXPECT_EQ(j["expect"]["reached"], nlohmann::json({"takeover.after_expiry", "claim.busy"}));
  EXPECT_FALSE(j["expect"].contains("fs"));
  EXPECT_EQ(Refusal(j.dump()), "");
}

TEST(ScenarioStoreTest, ExpectationsOfAStoreAreCheckedLikeTheCommonOnes) {
  EXPECT_NE(Refusal(R"({"name": "s", "expect": {"sqlite": {"reached": ["x"]}}})")
                .find("s.json: /expect/sqlite: unknown key"),
            std::string::npos);
  EXPECT_NE(Refusal(R"({"name": "s", "expect": {"fs": ["x"]}})")
                .find("s.json: /expect/fs: found [\"x\"]"),
            std::string::npos)
      << Refusal(R"({"name": "s", "expect": {"fs": ["x"]}})");
  EXPECT_NE(Refusal(R"({"name": "s", "expect": {"postgres": {"reached": [""]}}})")
                .find("s.json: /expect/postgres/reached/0: found \"\""),
            std::string::npos);
  // No store inside a store.
  EXPECT_NE(Refusal(R"({"name": "s", "expect": {"fs": {"fs": {}}}})")
                .find("s.json: /expect/fs/fs: unknown key"),
            std::string::npos);
}

}  // namespace
}  // namespace faultline
