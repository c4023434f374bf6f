// The typed keys of the scenario format (docs/scenario-format.md), shared by
// validation (scenario_check.cc) and Resolve (scenario_resolve.cc). Internal
// to the scenario code: the API is sim/scenario.h.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sim/json_diagnostics.h"
#include "sim/options.h"
#include "sim/scenario.h"

namespace faultline::scenario_keys {

// A group of typed keys: an object-valued top-level key, or (name "") the
// plain values of the top level itself. The "coordinator" and "slo" sections
// are the settings table's groups (sim/settings.h).
struct Section {
  std::string name;
  std::vector<OptionSpec> keys;
  std::vector<std::string> other_keys;  // keys of a shape of their own, checked elsewhere
};

// In the order they are checked (the first mistake is the one reported).
const std::vector<Section>& Sections();

// "work"/"arrivals" (work that arrives during the run): submitters, items
// (each submitter's), at_ms (each submitter's start, drawn per submitter).
inline constexpr int64_t kMaxSubmitters = 64;
inline constexpr int64_t kMaxArrivalItems = 1000;
const Section& ArrivalsSection();

// The keys a scenario may have at its top level, in the order error
// messages list them.
const std::vector<std::string>& TopLevelKeys();

// REQUIRES: `section` and `key` name an entry of Sections().
const OptionSpec& KeySpec(std::string_view section, std::string_view key);

// "/coordinator/lease_ms", or "/mode" for a top-level key (section "").
std::string KeyPointer(std::string_view section, std::string_view key);

// The value of a section key of a valid document, as written or defaulted.
const nlohmann::json& ValueOf(const nlohmann::json& doc, std::string_view section,
                              std::string_view key);

struct Span {
  int64_t lo, hi;
};

// An integer v is the range [v, v]. REQUIRES: a valid int-or-range value.
Span SpanOf(const nlohmann::json& value);

// Whether the scenario `doc` can run on `store` ("fs" or "postgres") whatever
// its own "store" says (sim/scenario_store.cc): an external SUT or a
// differential, or a fault that needs what the store lacks, is a problem.
diag::Check CheckStoreOf(const nlohmann::json& doc, const Catalog& catalog, std::string_view store);

// Validates a parsed scenario document against the format and `catalog`.
diag::Check CheckDocument(const nlohmann::json& doc, const Catalog& catalog);

}  // namespace faultline::scenario_keys
