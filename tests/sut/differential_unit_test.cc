// Unit tests of differential runs: the no_semantic_drift checker from fixed
// histories (two implementations that agree on every item's outcome but not
// on agents, tokens, times or order pass; an item that ends otherwise, an
// item done twice, lock files left, a run that ends otherwise fail, naming
// the item, what each system did and the reproduce command), the "outcomes"
// and "histories" comparisons, and the "differential" block's validation
// (every mistake names its JSON pointer).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/invariants/no_semantic_drift.h"
#include "sim/invariants/registry.h"
#include "sim/scenario.h"
#include "sim/sut/differential.h"
#include "sim/sut/systems.h"

namespace faultline {
namespace {

using nlohmann::json;

// A history, built line by line with increasing seq and t.
class History {
 public:
  History& Add(json line) {
    line["seq"] = seq_;
    line["t"] = static_cast<int64_t>(seq_) * 1000;
    ++seq_;
    lines_.push_back(std::move(line));
    return *this;
  }
  // One item claimed, its effect written and completed by `agent`.
  History& Done(const std::string& item, const std::string& agent, int64_t token) {
    Add({{"type", "claim_ok"}, {"item", item}, {"agent", agent}, {"token", token}});
    Add({{"type", "renew_ok"}, {"item", item}, {"agent", agent}, {"token", token}});
    Add({{"type", "effect"}, {"item", item}, {"agent", agent}, {"token", token}});
    return Add({{"type", "complete_ok"}, {"item", item}, {"agent", agent}, {"token", token}});
  }
  // The end: every item's status (all in the ledger when done), lock files left.
  History& End(const std::vector<std::pair<std::string, std::string>>& items, int locks = 0,
               const std::string& end = "completed") {
    json list = json::array();
    for (const auto& [id, status] : items) {
      list.push_back({{"id", id}, {"status", status}, {"effect", status == "done"}});
    }
    return Add({{"type", "run_end"}, {"end", end}, {"locks", locks}, {"temps", 0},
                {"items", list}});
  }
  const std::vector<json>& lines() const { return lines_; }

 private:
  uint64_t seq_ = 0;
  std::vector<json> lines_;
};

std::vector<Violation> Judge(const History& mine, const History& theirs,
                             const std::string& compare = "outcomes") {
  NoSemanticDrift checker;
  checker.ObserveCounterpart(TraceEvent::FromJson({{"type", "differential_start"},
                                                   {"label", "queue-sh"},
                                                   {"against", "reference (swarm)"},
                                                   {"compare", compare},
                                                   {"run_dir", "out/x-1/differential/x-1"},
                                                   {"reproduce", "faultline run out/x-1/s.json"}}));
  for (const json& line : theirs.lines()) checker.ObserveCounterpart(TraceEvent::FromJson(line));
  for (const json& line : mine.lines()) checker.Observe(TraceEvent::FromJson(line));
  std::vector<Violation> out;
  checker.Finish(&out);
  return out;
}

std::string Messages(const std::vector<Violation>& vs) {
  std::string all;
  for (const Violation& v : vs) all += v.message + "\n";
  return all;
}

// The reference: w1 by a0, w2 by a1 after a0's lease on it expired.
History Reference() {
  History h;
  h.Done("w1", "a0", 1);
  h.Add({{"type", "claim_ok"}, {"item", "w2"}, {"agent", "a0"}, {"token", 1}});
  h.Add({{"type", "lease_expired"}, {"item", "w2"}, {"by", "reaper"}});
  h.Done("w2", "a1", 2);
  return h.End({{"w1", "done"}, {"w2", "done"}});
}

TEST(NoSemanticDriftTest, OutcomesAgreeDespiteOtherAgentsTokensTimesAndOrder) {
  History port;
  port.Add({{"type", "register"}, {"agent", "a3"}});
  port.Done("w2", "a3", 7);  // other agent, other token, other order, no expiry
  port.Done("w1", "a2", 9);
  port.End({{"w1", "done"}, {"w2", "done"}});
  EXPECT_TRUE(Judge(port, Reference()).empty()) << Messages(Judge(port, Reference()));
  // The whole sequences differ, though: w2 was taken over in the reference only.
  std::vector<Violation> vs = Judge(port, Reference(), "histories");
  ASSERT_EQ(vs.size(), 1u) << Messages(vs);
  EXPECT_NE(vs[0].message.find("item w2"), std::string::npos) << vs[0].message;
  EXPECT_NE(vs[0].message.find("expire pending"), std::string::npos) << vs[0].message;
}

TEST(NoSemanticDriftTest, AnItemThatEndsOtherwiseIsNamedWithWhatEachSystemDid) {
  History port;
  port.Done("w1", "a0", 1);
  port.End({{"w1", "done"}, {"w2", "pending"}});
  std::vector<Violation> vs = Judge(port, Reference());
  ASSERT_EQ(vs.size(), 1u) << Messages(vs);
  const std::string& m = vs[0].message;
  EXPECT_NE(m.find("item w2 diverges from reference (swarm)"), std::string::npos) << m;
  EXPECT_NE(m.find("queue-sh ends pending, not in the ledger, 0 effects written"),
            std::string::npos) << m;
  EXPECT_NE(m.find("reference (swarm) ends done, in the ledger, 1 effect written, 1 completion"),
            std::string::npos) << m;
  EXPECT_NE(m.find("1 of 2 items diverge: w2"), std::string::npos) << m;
  EXPECT_NE(m.find("reproduce: faultline run out/x-1/s.json"), std::string::npos) << m;
  EXPECT_NE(m.find("out/x-1/differential/x-1"), std::string::npos) << m;
  EXPECT_EQ(vs[0].evidence, std::vector<uint64_t>{4}) << "the port's run_end";
}

TEST(NoSemanticDriftTest, AnItemDoneTwiceDiverges) {
  History port;
  port.Done("w1", "a0", 1);
  port.Done("w2", "a0", 2);
  port.Done("w2", "a1", 3);  // a second effect and completion
  port.End({{"w1", "done"}, {"w2", "done"}});
  std::vector<Violation> vs = Judge(port, Reference());
  ASSERT_EQ(vs.size(), 1u) << Messages(vs);
  EXPECT_NE(vs[0].message.find("queue-sh ends done, in the ledger, 2 effects written, 2 "
                               "completions accepted"),
            std::string::npos) << vs[0].message;
}

TEST(NoSemanticDriftTest, LockFilesLeftAndAnotherEndDiverge) {
  History port;
  port.Done("w1", "a0", 1);
  port.Done("w2", "a1", 2);
  port.End({{"w1", "done"}, {"w2", "done"}}, /*locks=*/2, "sim_limit");
  std::vector<Violation> vs = Judge(port, Reference());
  ASSERT_EQ(vs.size(), 2u) << Messages(vs);
  EXPECT_NE(vs[0].message.find("queue-sh ends \"sim_limit\", reference (swarm) ends "
                               "\"completed\""),
            std::string::npos) << vs[0].message;
  EXPECT_NE(vs[1].message.find("lock files left at the end: queue-sh 2, reference (swarm) 0"),
            std::string::npos) << vs[1].message;
}

TEST(NoSemanticDriftTest, WithoutACounterpartNothingIsJudgedAsAPass) {
  NoSemanticDrift checker;
  const History reference = Reference();  // named: a loop over a temporary's lines() dangles
  for (const json& line : reference.lines()) checker.Observe(TraceEvent::FromJson(line));
  std::vector<Violation> out;
  checker.Finish(&out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].message.find("\"differential\""), std::string::npos);
  // And the run loop never runs it without one: it needs the counterpart.
  const Catalog catalog{{}, CoreInvariants(), &sut::Systems()};
  EXPECT_TRUE(catalog.FindInvariant("no_semantic_drift")->needs & observes::kCounterpart);
}

// --- the "differential" block -----------------------------------------------

json QueueSut() {
  return json::parse(R"J({
    "observe": "adapter",
    "submit": ["./q", "submit", "{dir}", "{items}"],
    "adapter": {
      "claim": {"run": ["./q", "claim", "{dir}", "{agent}"], "item": "^claimed (\\S+)"},
      "complete": ["./q", "complete", "{dir}", "{agent}", "{item}", "{token}"]
    },
    "state": {"dump": ["./q", "dump", "{dir}"]}
  })J");
}

// The pointer of the first mistake in a scenario with this "differential" block.
std::string PointerOf(const json& block, bool with_sut = true, const std::string& mode = "") {
  const Catalog catalog{{}, CoreInvariants(), &sut::Systems()};
  json doc = {{"name", "x"}, {"differential", block}};
  if (with_sut) doc["sut"] = QueueSut();
  if (!mode.empty()) doc["mode"] = mode;
  Scenario s;
  ScenarioError e;
  if (ParseScenario(doc.dump(), "x.json", catalog, &s, &e)) return "(valid)";
  return e.pointer + " " + e.message;
}

TEST(DifferentialBlockTest, EveryMistakeNamesItsJsonPointer) {
  EXPECT_EQ(PointerOf({{"against", "reference"}}), "(valid)");
  EXPECT_EQ(PointerOf({{"against", QueueSut()}, {"compare", "histories"}}), "(valid)");
  EXPECT_EQ(PointerOf({{"against", "reference"}, {"compare", "outcomes"}}, true, "freerun"),
            "(valid)");
  EXPECT_EQ(PointerOf("reference").rfind("/differential found \"reference\", expected an object",
                                         0),
            0u);
  EXPECT_EQ(PointerOf(json::object()).rfind("/differential missing \"against\"", 0), 0u);
  EXPECT_EQ(PointerOf({{"against", "swarm"}}).rfind("/differential/against found \"swarm\"", 0),
            0u);
  EXPECT_EQ(PointerOf({{"against", "reference"}, {"agianst", 1}})
                .rfind("/differential/agianst unknown key", 0),
            0u);
  EXPECT_EQ(PointerOf({{"against", "reference"}}, /*with_sut=*/false)
                .rfind("/differential/against the scenario runs the reference coordinator", 0),
            0u);
  EXPECT_EQ(PointerOf({{"against", "reference"}, {"compare", "traces"}})
                .rfind("/differential/compare found \"traces\"", 0),
            0u);
  EXPECT_EQ(PointerOf({{"against", "reference"}, {"compare", "histories"}}, true, "freerun")
                .rfind("/differential/compare \"histories\" needs lockstep", 0),
            0u);
  json bad = QueueSut();
  bad["adapter"]["claim"]["item"] = "no group";
  EXPECT_EQ(PointerOf({{"against", bad}}).rfind("/differential/against/adapter/claim/item ", 0),
            0u);
  json blind = QueueSut();
  blind.erase("state");
  EXPECT_EQ(PointerOf({{"against", blind}}).rfind("/differential/against missing \"state\"", 0),
            0u);
}

TEST(DifferentialBlockTest, ResolvesAndRoundTripsThroughTheResolvedScenario) {
  const Catalog catalog{{}, CoreInvariants(), &sut::Systems()};
  json doc = {{"name", "x"}, {"sut", QueueSut()}, {"differential", {{"against", QueueSut()}}}};
  Scenario s;
  ScenarioError e;
  ASSERT_TRUE(ParseScenario(doc.dump(), "x.json", catalog, &s, &e)) << e.ToString();
  ResolvedScenario r = Resolve(s, catalog, 1);
  EXPECT_EQ(r.differential, doc["differential"]);
  EXPECT_EQ(r.ToJson()["differential"], doc["differential"]);
  const sut::DifferentialSpec spec = sut::ParseDifferential(r.differential);
  EXPECT_EQ(spec.compare, "outcomes");
  EXPECT_EQ(spec.against, QueueSut());
  EXPECT_EQ(sut::CounterpartLabel(sut::ParseDifferential({{"against", "reference"}})),
            "reference (swarm)");
}

}  // namespace
}  // namespace faultline
