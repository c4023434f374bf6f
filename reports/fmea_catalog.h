// The failure-mode catalogue (scenarios/fmea.json, DESIGN §8): what each mode
// is, where it is published, its S/O/D/RPN as published, and the faults,
// invariants and scenario families that give evidence for it. Loading checks
// the file's shape; CheckCatalog checks its cross-references against the
// registries and the scenario files. Every problem names the file, the JSON
// pointer and what to do (as scenario errors do).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/scenario.h"

namespace faultline::reports {

struct FailureMode {
  std::string id;
  std::string title;
  std::string source;
  // As published; empty when the source gives none.
  std::optional<int> s, o, d, rpn;
  std::string severity_label;  // the source's own word ("Critical", "SEV-2"), or ""
  std::vector<std::string> faults;      // fault kinds that trigger it
  std::vector<std::string> invariants;  // invariants that detect it
  std::vector<std::string> scenarios;   // scenario names that exercise it
  std::string notes;
};

struct FmeaCatalog {
  std::string file;
  std::vector<FailureMode> modes;  // in file order
  const FailureMode* Find(const std::string& id) const;
  int IndexOf(const std::string& id) const;  // -1 when absent
};

// Reads and checks the shape of a catalogue (JSON, comments allowed). On
// failure, `errors` says every problem found.
bool LoadFmeaCatalog(const std::string& path, FmeaCatalog* out, std::vector<ScenarioError>* errors);
bool ParseFmeaCatalog(const std::string& text, const std::string& file, FmeaCatalog* out,
                      std::vector<ScenarioError>* errors);

// What a scenario file says about failure modes, for the cross-reference check.
struct ScenarioFmea {
  std::string file;
  std::string name;
  std::vector<std::string> fmea;
  // Scenarios of the catalogue's own folder (the bundled suite) must agree
  // with the catalogue both ways; others only need known ids.
  bool bundled = false;
  // Whether this scenario's own references are judged; unchecked ones only
  // answer for the names the catalogue uses.
  bool checked = true;
  std::vector<std::string> faults;  // the fault kinds it injects
};

// What a loaded scenario says: its name, fmea ids and fault kinds.
ScenarioFmea ScenarioFmeaOf(const Scenario& scenario, bool bundled);

// Cross-references: every fault and invariant named is registered, every
// scenario named exists in `scenarios` and injects one of the mode's faults
// (else its runs could never count for the mode), every checked scenario's
// fmea id is in the catalogue, and checked bundled scenarios and the
// catalogue list each other.
std::vector<ScenarioError> CheckCatalog(const FmeaCatalog& catalog, const Catalog& registries,
                                        const std::vector<ScenarioFmea>& scenarios);

// The scenarios of `dir` (every *.json but fmea.json), loaded with the
// registries; files that do not load are left out (validating them reports
// why). Marked bundled.
std::vector<ScenarioFmea> ScenariosIn(const std::string& dir, const Catalog& registries);

// True for a file named fmea.json: the catalogue, not a scenario.
bool IsCatalogueFile(const std::string& path);

// Which catalogue `faultline validate` checks: `flag` if given, else a
// fmea.json among `files`, else fmea.json next to the first of them, else
// scenarios/fmea.json; "" when there is none.
std::string FindCatalogue(const std::string& flag, const std::vector<std::string>& files);

// Loads the catalogue at `path` and checks it against the registries and the
// scenarios of its own folder (bundled) plus those `given`. The scenarios
// given are judged; the other bundled ones only when `all_bundled` (the
// catalogue itself is being validated). `modes`/`exercised` (optional) count
// its modes and those with a scenario.
std::vector<ScenarioError> CheckCatalogueFile(const std::string& path,
                                              const std::vector<ScenarioFmea>& given,
                                              bool all_bundled, const Catalog& registries,
                                              size_t* modes = nullptr,
                                              size_t* exercised = nullptr);

}  // namespace faultline::reports
