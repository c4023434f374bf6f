// Loading and checking the failure-mode catalogue. Shape errors are collected
// (not stopped at the first) so one `faultline validate` shows every mistake.
#include "reports/fmea_catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace faultline::reports {
namespace {

using nlohmann::json;
namespace stdfs = std::filesystem;

const std::set<std::string> kModeKeys = {"id",  "title", "source",         "S",
                                         "O",   "D",     "RPN",            "severity_label",
                                         "faults", "invariants", "scenarios", "notes"};

std::string Quote(const std::string& s) { return json(s).dump(); }

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// " (did you mean "x"?)" when a known word is close.
std::string Suggest(const std::string& word, const std::vector<std::string>& known) {
  std::string best;
  size_t best_d = word.size() / 3 + 2;
  for (const std::string& k : known) {
    size_t d = EditDistance(word, k);
    if (d < best_d) best_d = d, best = k;
  }
  return best.empty() ? "" : " (did you mean " + Quote(best) + "?)";
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

// Collects the shape problems of one catalogue document.
class ShapeChecker {
 public:
  explicit ShapeChecker(std::string file) : file_(std::move(file)) {}

  void Fail(const std::string& pointer, const std::string& message) {
    errors_.push_back({file_, pointer, message});
  }
  std::vector<ScenarioError> Take() { return std::move(errors_); }

  std::string String(const json& mode, const std::string& at, const char* key, bool required) {
    auto it = mode.find(key);
    if (it == mode.end()) {
      if (required) Fail(at, fmt::format("missing \"{}\" (a non-empty string)", key));
      return "";
    }
    if (!it->is_string() || (required && it->get<std::string>().empty())) {
      Fail(at + "/" + key, fmt::format("found {}, expected a non-empty string", it->dump()));
      return "";
    }
    return it->get<std::string>();
  }

  // null or an integer in [1, max]; "as published" so never defaulted.
  std::optional<int> Score(const json& mode, const std::string& at, const char* key, int max) {
    auto it = mode.find(key);
    if (it == mode.end()) {
      Fail(at, fmt::format("missing \"{}\": the published value, or null when the source gives "
                           "none", key));
      return std::nullopt;
    }
    if (it->is_null()) return std::nullopt;
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > max) {
      Fail(at + "/" + key, fmt::format("found {}, expected null or an integer from 1 to {}",
                                       it->dump(), max));
      return std::nullopt;
    }
    return it->get<int>();
  }

  std::vector<std::string> Names(const json& mode, const std::string& at, const char* key,
                                 const char* what) {
    std::vector<std::string> out;
    auto it = mode.find(key);
    if (it == mode.end()) {
      Fail(at, fmt::format("missing \"{}\" (an array of {}; [] when there are none)", key, what));
      return out;
    }
    if (!it->is_array()) {
      Fail(at + "/" + key, fmt::format("found {}, expected an array of {}", it->dump(), what));
      return out;
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < it->size(); ++i) {
      const json& v = (*it)[i];
      std::string p = fmt::format("{}/{}/{}", at, key, i);
      if (!v.is_string() || v.get<std::string>().empty()) {
        Fail(p, fmt::format("found {}, expected {}", v.dump(), what));
      } else if (!seen.insert(v.get<std::string>()).second) {
        Fail(p, fmt::format("{} is listed twice; remove one", v.dump()));
      } else {
        out.push_back(v.get<std::string>());
      }
    }
    return out;
  }

 private:
  std::string file_;
  std::vector<ScenarioError> errors_;
};

bool IsId(const std::string& id) {
  if (id.empty() || id.size() > 64 || id.front() == '-' || id.back() == '-') return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

FailureMode ParseMode(const json& m, const std::string& at, ShapeChecker* check) {
  FailureMode mode;
  for (const auto& [key, value] : m.items()) {
    if (!kModeKeys.count(key)) {
      check->Fail(at + "/" + key,
                  fmt::format("unknown key {}{}; known keys: {}", Quote(key),
                              Suggest(key, {kModeKeys.begin(), kModeKeys.end()}),
                              Join({kModeKeys.begin(), kModeKeys.end()})));
    }
  }
  mode.id = check->String(m, at, "id", true);
  if (!mode.id.empty() && !IsId(mode.id)) {
    check->Fail(at + "/id", fmt::format("found {}, expected an id of 1 to 64 characters from a-z, "
                                        "0-9 and '-'", Quote(mode.id)));
  }
  mode.title = check->String(m, at, "title", true);
  mode.source = check->String(m, at, "source", true);
  mode.s = check->Score(m, at, "S", 10);
  mode.o = check->Score(m, at, "O", 10);
  mode.d = check->Score(m, at, "D", 10);
  mode.rpn = check->Score(m, at, "RPN", 1000);
  if (m.contains("severity_label") && !m["severity_label"].is_null()) {
    mode.severity_label = check->String(m, at, "severity_label", true);
  }
  if (m.contains("notes")) mode.notes = check->String(m, at, "notes", false);
  mode.faults = check->Names(m, at, "faults", "fault kinds");
  mode.invariants = check->Names(m, at, "invariants", "invariant names");
  mode.scenarios = check->Names(m, at, "scenarios", "scenario names");
  if (mode.s && mode.o && mode.d && mode.rpn && *mode.s * *mode.o * *mode.d != *mode.rpn) {
    check->Fail(at + "/RPN", fmt::format("RPN {} is not S x O x D = {} x {} x {} = {}; copy the "
                                         "published figures exactly", *mode.rpn, *mode.s, *mode.o,
                                         *mode.d, *mode.s * *mode.o * *mode.d));
  }
  return mode;
}

}  // namespace

const FailureMode* FmeaCatalog::Find(const std::string& id) const {
  int i = IndexOf(id);
  return i < 0 ? nullptr : &modes[static_cast<size_t>(i)];
}

int FmeaCatalog::IndexOf(const std::string& id) const {
  for (size_t i = 0; i < modes.size(); ++i) {
    if (modes[i].id == id) return static_cast<int>(i);
  }
  return -1;
}

bool ParseFmeaCatalog(const std::string& text, const std::string& file, FmeaCatalog* out,
                      std::vector<ScenarioError>* errors) {
  json doc;
  try {
    doc = json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    errors->push_back({file, "", std::string("not valid JSON: ") + e.what()});
    return false;
  }
  ShapeChecker check(file);
  out->file = file;
  out->modes.clear();
  if (!doc.is_object() || !doc.contains("modes") || !doc["modes"].is_array()) {
    check.Fail("", "expected an object {\"modes\": [...]} (see scenarios/fmea.json)");
  } else {
    for (const auto& [key, value] : doc.items()) {
      if (key != "modes") check.Fail("/" + key, "unknown key " + Quote(key) + "; known keys: modes");
    }
    std::set<std::string> ids;
    for (size_t i = 0; i < doc["modes"].size(); ++i) {
      const json& m = doc["modes"][i];
      std::string at = fmt::format("/modes/{}", i);
      if (!m.is_object()) {
        check.Fail(at, fmt::format("found {}, expected a failure mode object", m.dump()));
        continue;
      }
      FailureMode mode = ParseMode(m, at, &check);
      if (!mode.id.empty() && !ids.insert(mode.id).second) {
        check.Fail(at + "/id", fmt::format("id {} is used twice; ids must be unique", Quote(mode.id)));
      }
      out->modes.push_back(std::move(mode));
    }
  }
  std::vector<ScenarioError> found = check.Take();
  errors->insert(errors->end(), found.begin(), found.end());
  return found.empty();
}

bool LoadFmeaCatalog(const std::string& path, FmeaCatalog* out, std::vector<ScenarioError>* errors) {
  std::ifstream in(path);
  if (!in) {
    errors->push_back({path, "", "cannot read the file; pass the catalogue with --fmea FILE"});
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseFmeaCatalog(ss.str(), path, out, errors);
}

std::vector<ScenarioError> CheckCatalog(const FmeaCatalog& catalog, const Catalog& registries,
                                        const std::vector<ScenarioFmea>& scenarios) {
  std::vector<ScenarioError> errors;
  auto fail = [&](const std::string& file, const std::string& pointer, const std::string& msg) {
    errors.push_back({file, pointer, msg});
  };
  std::vector<std::string> fault_names, invariant_names, scenario_names, ids;
  for (const FaultKind& k : registries.faults) fault_names.push_back(k.name);
  for (const InvariantKind& k : registries.invariants) invariant_names.push_back(k.name);
  std::map<std::string, const ScenarioFmea*> by_name;
  for (const ScenarioFmea& s : scenarios) {
    if (by_name.emplace(s.name, &s).second) scenario_names.push_back(s.name);
  }
  for (const FailureMode& m : catalog.modes) ids.push_back(m.id);

  for (size_t i = 0; i < catalog.modes.size(); ++i) {
    const FailureMode& m = catalog.modes[i];
    for (size_t j = 0; j < m.faults.size(); ++j) {
      if (registries.FindFault(m.faults[j])) continue;
      fail(catalog.file, fmt::format("/modes/{}/faults/{}", i, j),
           fmt::format("unknown fault kind {}{}; registered: {}. Name a kind from `faultline list "
                       "faults` or remove it", Quote(m.faults[j]),
                       Suggest(m.faults[j], fault_names), Join(fault_names)));
    }
    for (size_t j = 0; j < m.invariants.size(); ++j) {
      if (registries.FindInvariant(m.invariants[j])) continue;
      fail(catalog.file, fmt::format("/modes/{}/invariants/{}", i, j),
           fmt::format("unknown invariant {}{}; registered: {}. Name one from `faultline list "
                       "invariants` or remove it", Quote(m.invariants[j]),
                       Suggest(m.invariants[j], invariant_names), Join(invariant_names)));
    }
    for (size_t j = 0; j < m.scenarios.size(); ++j) {
      auto it = by_name.find(m.scenarios[j]);
      if (it == by_name.end()) {
        fail(catalog.file, fmt::format("/modes/{}/scenarios/{}", i, j),
             fmt::format("no scenario named {}{} among the scenario files checked; add a scenario "
                         "file with that \"name\" or remove it", Quote(m.scenarios[j]),
                         Suggest(m.scenarios[j], scenario_names)));
        continue;
      }
      const bool injects_one = std::any_of(m.faults.begin(), m.faults.end(), [&](const auto& f) {
        return std::count(it->second->faults.begin(), it->second->faults.end(), f) > 0;
      });
      if (!m.faults.empty() && !injects_one) {
        fail(catalog.file, fmt::format("/modes/{}/scenarios/{}", i, j),
             fmt::format("scenario {} ({}) injects none of this mode's faults ({}), so its runs "
                         "can never count for it; give the scenario one of them or remove it here",
                         Quote(m.scenarios[j]), it->second->file, Join(m.faults)));
      }
      const ScenarioFmea& named = *it->second;
      if (named.bundled && named.checked &&
          std::find(named.fmea.begin(), named.fmea.end(), m.id) == named.fmea.end()) {
        fail(named.file, "/fmea",
             fmt::format("does not list {}, although {} names this scenario at /modes/{}/scenarios; "
                         "add the id here or remove the scenario there", Quote(m.id), catalog.file,
                         i));
      }
    }
  }
  for (const ScenarioFmea& s : scenarios) {
    if (!s.checked) continue;
    for (size_t j = 0; j < s.fmea.size(); ++j) {
      int i = catalog.IndexOf(s.fmea[j]);
      if (i < 0) {
        fail(s.file, fmt::format("/fmea/{}", j),
             fmt::format("unknown failure-mode id {}{}; the ids are those of {}: add the mode "
                         "there or use one of its ids", Quote(s.fmea[j]), Suggest(s.fmea[j], ids),
                         catalog.file));
        continue;
      }
      const FailureMode& m = catalog.modes[static_cast<size_t>(i)];
      if (s.bundled && std::find(m.scenarios.begin(), m.scenarios.end(), s.name) == m.scenarios.end()) {
        fail(catalog.file, fmt::format("/modes/{}/scenarios", i),
             fmt::format("does not list scenario {}, whose /fmea names {} ({}); add {} here or "
                         "remove the id from the scenario", Quote(s.name), Quote(m.id), s.file,
                         Quote(s.name)));
      }
    }
  }
  return errors;
}

std::vector<ScenarioFmea> ScenariosIn(const std::string& dir, const Catalog& registries) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = stdfs::directory_iterator(dir, ec); !ec && it != stdfs::directory_iterator();
       it.increment(ec)) {
    if (it->path().extension() == ".json" && it->path().filename() != "fmea.json") {
      files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<ScenarioFmea> out;
  for (const std::string& f : files) {
    Scenario s;
    ScenarioError error;
    if (!LoadScenario(f, registries, &s, &error)) continue;
    out.push_back(ScenarioFmeaOf(s, true));
  }
  return out;
}

ScenarioFmea ScenarioFmeaOf(const Scenario& scenario, bool bundled) {
  ScenarioFmea out;
  out.file = scenario.file;
  out.name = scenario.name;
  out.fmea = scenario.doc.value("fmea", std::vector<std::string>{});
  out.bundled = bundled;
  for (const json& f : scenario.doc.value("faults", json::array())) {
    if (f.is_object()) out.faults.push_back(f.value("kind", ""));
  }
  return out;
}

bool IsCatalogueFile(const std::string& path) {
  return stdfs::path(path).filename() == "fmea.json";
}

std::string FindCatalogue(const std::string& flag, const std::vector<std::string>& files) {
  if (!flag.empty()) return flag;
  for (const std::string& f : files) {
    if (IsCatalogueFile(f)) return f;
  }
  std::error_code ec;
  if (!files.empty()) {
    stdfs::path next = stdfs::path(files.front()).parent_path() / "fmea.json";
    if (stdfs::is_regular_file(next, ec)) return next.string();
  }
  return stdfs::is_regular_file("scenarios/fmea.json", ec) ? "scenarios/fmea.json" : "";
}

std::vector<ScenarioError> CheckCatalogueFile(const std::string& path,
                                              const std::vector<ScenarioFmea>& given,
                                              bool all_bundled, const Catalog& registries,
                                              size_t* modes, size_t* exercised) {
  FmeaCatalog catalog;
  std::vector<ScenarioError> errors;
  LoadFmeaCatalog(path, &catalog, &errors);
  // A document that did not load (unreadable, not JSON, no "modes") has no
  // references to check; shape errors inside modes do not stop the check.
  for (const ScenarioError& e : errors) {
    if (e.pointer.empty()) return errors;
  }
  stdfs::path folder = stdfs::path(path).parent_path();
  std::vector<ScenarioFmea> scenarios = ScenariosIn(folder.empty() ? "." : folder.string(), registries);
  std::error_code ec;
  auto canonical = [&](const std::string& f) { return stdfs::weakly_canonical(f, ec).string(); };
  std::set<std::string> given_files, bundled;
  for (const ScenarioFmea& s : given) given_files.insert(canonical(s.file));
  for (ScenarioFmea& s : scenarios) {
    bundled.insert(canonical(s.file));
    s.checked = all_bundled || given_files.count(canonical(s.file)) > 0;
  }
  for (const ScenarioFmea& s : given) {
    if (!bundled.count(canonical(s.file))) scenarios.push_back(s);
  }
  std::vector<ScenarioError> references = CheckCatalog(catalog, registries, scenarios);
  errors.insert(errors.end(), references.begin(), references.end());
  if (modes) *modes = catalog.modes.size();
  if (exercised) {
    *exercised = static_cast<size_t>(std::count_if(
        catalog.modes.begin(), catalog.modes.end(),
        [](const FailureMode& m) { return !m.scenarios.empty(); }));
  }
  return errors;
}

}  // namespace faultline::reports
