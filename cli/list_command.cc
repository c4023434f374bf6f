// faultline list: what the harness knows. One table of topics; a new topic is
// one function and one row of kTopics.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/install_layout.h"
#include "cli/cli_support.h"
#include "cli/commands.h"
#include "reports/fmea_catalog.h"
#include "sim/option_check.h"
#include "sim/settings.h"

namespace faultline::cli {
namespace {

namespace stdfs = std::filesystem;

// What a topic may need from the command line.
struct ListFlags {
  std::string what;
  std::string dir;    // --dir, for scenarios; "" is scenarios/ or the installed ones
  bool json = false;  // --json, for scenarios
};

// The failure modes a scenario gives evidence for: its own "fmea" list and
// the modes of its folder's catalogue (fmea.json) that name it; sorted.
std::vector<std::string> ModesOf(const Scenario& s, const reports::FmeaCatalog* catalogue) {
  std::vector<std::string> modes;
  for (const auto& id : s.doc.value("fmea", nlohmann::json::array())) {
    if (id.is_string()) modes.push_back(id.get<std::string>());
  }
  if (catalogue != nullptr) {
    for (const reports::FailureMode& m : catalogue->modes) {
      if (std::find(m.scenarios.begin(), m.scenarios.end(), s.name) != m.scenarios.end()) {
        modes.push_back(m.id);
      }
    }
  }
  std::sort(modes.begin(), modes.end());
  modes.erase(std::unique(modes.begin(), modes.end()), modes.end());
  return modes;
}

// --json: for programs (faultline_add_scenarios in the CMake package) one
// array, a scenario an object: file, name, mode, faults, fmea; or file and
// error when it does not load.
int ListScenariosJson(const std::vector<std::string>& files, const Catalog& catalog,
                      const std::string& dir) {
  reports::FmeaCatalog catalogue;
  std::vector<ScenarioError> catalogue_errors;
  const std::string catalogue_file = (stdfs::path(dir) / "fmea.json").string();
  const bool has_catalogue =
      stdfs::exists(catalogue_file) &&
      reports::LoadFmeaCatalog(catalogue_file, &catalogue, &catalogue_errors);
  nlohmann::json out = nlohmann::json::array();
  int code = kExitPass;
  for (const std::string& p : files) {
    Scenario s;
    ScenarioError error;
    if (!LoadScenario(p, catalog, &s, &error)) {
      out.push_back({{"file", p}, {"error", error.ToString()}});
      code = kExitUsage;
      continue;
    }
    nlohmann::json faults = nlohmann::json::array();
    for (const auto& fault : s.doc.value("faults", nlohmann::json::array())) {
      faults.push_back(fault.value("kind", "?"));
    }
    out.push_back({{"file", p},
                   {"name", s.name},
                   {"mode", s.doc.value("mode", "lockstep")},
                   {"faults", faults},
                   {"fmea", ModesOf(s, has_catalogue ? &catalogue : nullptr)}});
  }
  std::printf("%s\n", out.dump(1).c_str());
  return code;
}

int ListFaults(const Catalog& catalog, const ListFlags&) {
  for (const FaultKind& k : catalog.faults) {
    std::printf("%s%s\n  %s\n  stands for: %s\n%s", k.name.c_str(),
                k.lockstep_only ? " (lockstep only)" : "", k.summary.c_str(), k.stands_for.c_str(),
                OptionListing(k.options).c_str());
  }
  return kExitPass;
}

// One line per invariant; its options (sim/option_check.h) indented below.
int ListInvariants(const Catalog& catalog, const ListFlags&) {
  for (const InvariantKind& k : catalog.invariants) {
    std::printf("%-22s %s\n%s", k.name.c_str(), k.summary.c_str(),
                OptionListing(k.options).c_str());
  }
  return kExitPass;
}

// The settings table (sim/settings.h).
int ListSettings(const Catalog&, const ListFlags&) {
  std::fputs(SettingsListing().c_str(), stdout);
  return kExitPass;
}

int ListScenarios(const Catalog& catalog, const ListFlags& flags) {
  ListFlags f = flags;
  if (f.dir.empty()) {
    // From an installed prefix outside a checkout: the installed scenarios.
    const std::string installed = base::InstalledDataDir();
    f.dir = stdfs::is_directory("scenarios") || installed.empty() ? "scenarios"
                                                                  : installed + "/scenarios";
  }
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = stdfs::directory_iterator(f.dir, ec); !ec && it != stdfs::directory_iterator();
       it.increment(ec)) {
    std::string p = it->path().string();
    if (it->path().extension() == ".json" && it->path().filename() != "fmea.json")
      files.push_back(p);
  }
  if (ec) {
    std::fprintf(stderr, "faultline list: cannot read %s: %s\n", f.dir.c_str(),
                 ec.message().c_str());
    return kExitUsage;
  }
  std::sort(files.begin(), files.end());
  if (f.json) return ListScenariosJson(files, catalog, f.dir);
  int code = kExitPass;
  for (const std::string& p : files) {
    Scenario s;
    ScenarioError error;
    if (!LoadScenario(p, catalog, &s, &error)) {
      std::printf("%-40s INVALID: %s\n", p.c_str(), error.ToString().c_str());
      code = kExitUsage;
      continue;
    }
    std::string faults;
    for (const auto& fault : s.doc.value("faults", nlohmann::json::array())) {
      faults += (faults.empty() ? "" : ", ") + fault.value("kind", "?");
    }
    std::printf("%-40s %-28s %s; faults: %s\n", p.c_str(), s.name.c_str(),
                s.doc.value("mode", "lockstep").c_str(), faults.empty() ? "none" : faults.c_str());
  }
  return code;
}

struct ListTopic {
  const char* name;
  int (*print)(const Catalog& catalog, const ListFlags& flags);  // returns an exit code
};

const ListTopic kTopics[] = {
    {"faults", ListFaults},
    {"invariants", ListInvariants},
    {"scenarios", ListScenarios},
    {"settings", ListSettings},
};

}  // namespace

base::Runner SetupList(CLI::App* app) {
  auto f = std::make_shared<ListFlags>();
  std::vector<std::string> names;
  std::string help;
  for (const ListTopic& t : kTopics) {
    names.emplace_back(t.name);
    help += std::string(help.empty() ? "" : " | ") + t.name;
  }
  app->add_option("WHAT", f->what, help)->required()->check(CLI::IsMember(names));
  app->add_option("--dir", f->dir,
                  "Where to look for scenarios (default: scenarios, else the installed ones)");
  app->add_flag("--json", f->json,
                "scenarios: one JSON array for programs (file, name, mode, faults, and fmea: "
                "the failure modes from the scenario and its folder's fmea.json)");
  return [f] {
    Catalog catalog = MakeCatalog();
    for (const ListTopic& t : kTopics) {
      if (f->what == t.name) return t.print(catalog, *f);
    }
    return kExitUsage;  // CLI11 admits only the topics' names
  };
}

}  // namespace faultline::cli
