#include "sim/scenario.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/bounded_read.h"
#include "sim/json_diagnostics.h"
#include "sim/scenario_keys.h"
#include "sim/sut.h"

namespace faultline {

const FaultKind* Catalog::FindFault(std::string_view name) const {
  for (const FaultKind& kind : faults) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

const InvariantKind* Catalog::FindInvariant(std::string_view name) const {
  for (const InvariantKind& kind : invariants) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

std::string ScenarioError::ToString() const {
  // The document itself ("") is not worth a column of its own.
  if (pointer.empty()) return fmt::format("{}: {}", file, message);
  return fmt::format("{}: {}: {}", file, pointer, message);
}

bool LoadScenario(const std::string& path, const Catalog& catalog, Scenario* out,
                  ScenarioError* error) {
  // A directory, a FIFO or /dev/zero is refused at once, never waited on.
  base::Result<std::string> text = base::ReadRegularFile(path, kMaxScenarioBytes);
  if (!text.ok()) {
    const bool kind = text.status().code() == base::Status::Code::kInvalidArgument;
    *error = {path, "",
              kind ? text.status().message() + ", expected a scenario file (a regular file)"
                   : "cannot open the scenario file: " + text.status().message()};
    return false;
  }
  if (!ParseScenario(*text, path, catalog, out, error)) return false;
  // The SUT's working directory is relative to the scenario file.
  if (out->doc.contains("sut")) {
    catalog.suts->AnchorCwd(&out->doc["sut"], std::filesystem::path(path).parent_path().string());
  }
  if (out->doc.contains("differential") && out->doc["differential"]["against"].is_object()) {
    catalog.suts->AnchorCwd(&out->doc["differential"]["against"],
                            std::filesystem::path(path).parent_path().string());
  }
  return true;
}

bool ParseScenario(const std::string& text, const std::string& file, const Catalog& catalog,
                   Scenario* out, ScenarioError* error) {
  nlohmann::json doc;
  diag::Check problem = diag::ParseDocument(text, &doc);
  if (!problem) problem = scenario_keys::CheckDocument(doc, catalog);
  if (problem) {
    *error = {file, problem->pointer, problem->message};
    return false;
  }
  out->file = file;
  out->name = doc["name"].get<std::string>();
  out->doc = std::move(doc);
  return true;
}

}  // namespace faultline
