// Which store a scenario can run on (docs/scenario-format.md, "Stores"): the
// rule is the capabilities of sim/fault.h. A run on the shared directory
// ("store": "fs") has the coordinator's state files and no database server;
// a run on PostgreSQL ("store": "postgres") has the server and the network
// to it, and no state files. A scenario runs on a store when every fault it
// declares needs only what that store offers, and (postgres) it runs the
// reference coordinator alone.
#include <fmt/format.h>

#include "sim/scenario_keys.h"
#include "sim/sut.h"

namespace faultline {
namespace scenario_keys {
namespace {

using diag::Check;
using diag::Child;
using diag::Fail;
using diag::Quote;
using nlohmann::json;

// The fault at /faults/`i` needs `unmet`, which a run on `store` lacks.
Check RefuseFault(const json& fault, size_t i, const FaultKind& kind, unsigned unmet,
                  std::string_view store, bool external) {
  const std::string at = Child("/faults", i);
  if ((unmet & capability::kServerStore) != 0) {
    return Fail(Child(at, "kind"),
                fmt::format("fault {} acts on the database server or the network to it, which "
                            "only a run with \"store\": \"postgres\" has (this run's store is "
                            "{}{}; impossible combination)",
                            Quote(kind.name), Quote(store),
                            external ? ", and an external SUT has none" : ""));
  }
  // kStateFiles on a database server: from the kind itself, or from how this
  // fault is configured (crash_at at a step of the file protocol).
  const bool by_options = (kind.needs & capability::kStateFiles) == 0;
  const std::string point = by_options ? fault.value("point", std::string()) : std::string();
  const std::string what =
      point.empty() ? fmt::format("fault {} acts on", Quote(kind.name))
                    : fmt::format("fault {} at point {} is a step of", Quote(kind.name),
                                  Quote(point));
  return Fail(point.empty() ? Child(at, "kind") : Child(at, "point"),
              fmt::format("{} the coordinator's state files in the shared directory, which a run "
                          "with \"store\": \"postgres\" does not have (its state is in the "
                          "database server; impossible combination): run the scenario on "
                          "\"store\": \"fs\"{}",
                          what,
                          point.empty() ? std::string(", or use the faults of the server and the "
                                                      "network (docs/postgres.md)")
                                        : std::string(", or crash at a point both stores reach "
                                                      "(docs/scenario-format.md, \"Stores\")")));
}

}  // namespace

Check CheckStoreOf(const json& doc, const Catalog& catalog, std::string_view store) {
  const bool server = store == "postgres";
  const auto sut = doc.find("sut");
  const bool external = sut != doc.end();
  if (server && external) {
    return Fail("/store",
                "\"store\": \"postgres\" runs the reference coordinator (swarm) on a database "
                "server the run starts; an external SUT (\"sut\") keeps its state its own way "
                "(impossible combination: remove \"store\" or \"sut\")");
  }
  if (server && doc.contains("differential")) {
    return Fail("/store",
                "\"store\": \"postgres\" cannot be combined with \"differential\" (the "
                "counterpart would run on a database server it does not know)");
  }
  // The system's own limits (an external SUT lacks the reference's parts)
  // are CheckSutBlock's to report; here only what the store adds or takes.
  const unsigned system = external ? capability::kExternalSut : capability::kReferenceSut;
  const unsigned offered = capability::OnStore(system, server);
  const auto faults = doc.find("faults");
  for (size_t i = 0; faults != doc.end() && i < faults->size(); ++i) {
    const json& fault = (*faults)[i];
    const FaultKind* kind = catalog.FindFault(fault.at("kind").get<std::string>());
    if (kind == nullptr) continue;
    const unsigned unmet = capability::Unmet(NeedsOf(*kind, fault), offered) &
                           (capability::kStateFiles | capability::kServerStore);
    if (unmet != 0) return RefuseFault(fault, i, *kind, unmet, store, external);
  }
  return std::nullopt;
}

}  // namespace scenario_keys

std::optional<ScenarioError> StoreRefusal(const Scenario& scenario, const Catalog& catalog,
                                          const std::string& store) {
  diag::Check problem = scenario_keys::CheckStoreOf(scenario.doc, catalog, store);
  if (!problem) return std::nullopt;
  return ScenarioError{scenario.file, problem->pointer, problem->message};
}

}  // namespace faultline
