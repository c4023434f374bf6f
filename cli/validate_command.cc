// faultline validate: scenario files and the failure-mode catalogue, checked
// without running anything.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "cli/commands.h"
#include "reports/fmea_catalog.h"

namespace faultline::cli {
namespace {

// The failure-mode catalogue's cross-references, for validate.
int ValidateCatalogue(const std::string& flag, const std::vector<std::string>& files,
                      const std::vector<reports::ScenarioFmea>& given, const Catalog& catalog) {
  const std::string path = reports::FindCatalogue(flag, files);
  if (path.empty()) {
    std::fprintf(stderr,
                 "faultline validate: no failure-mode catalogue found (fmea.json next to "
                 "the scenarios, or --fmea FILE): fmea ids not checked\n");
    return kExitPass;
  }
  // Validating the catalogue itself judges the whole bundled suite against it.
  const bool all_bundled =
      !flag.empty() || std::any_of(files.begin(), files.end(), reports::IsCatalogueFile);
  size_t modes = 0, exercised = 0;
  std::vector<ScenarioError> errors =
      reports::CheckCatalogueFile(path, given, all_bundled, catalog, &modes, &exercised);
  for (const ScenarioError& e : errors)
    std::fprintf(stderr, "faultline: %s\n", e.ToString().c_str());
  if (!errors.empty()) return kExitUsage;
  std::printf("%s: ok (%zu failure modes, %zu with scenarios)\n", path.c_str(), modes, exercised);
  return kExitPass;
}

int Validate(const std::vector<std::string>& files, const std::string& fmea) {
  Catalog catalog = MakeCatalog();
  int code = kExitPass;
  std::vector<reports::ScenarioFmea> given;
  for (const std::string& path : files) {
    if (reports::IsCatalogueFile(path)) continue;
    Scenario scenario;
    if (!Load(path, "", catalog, &scenario)) {
      code = kExitUsage;
      continue;
    }
    std::printf("%s: ok (%s)\n", path.c_str(), scenario.name.c_str());
    given.push_back(reports::ScenarioFmeaOf(scenario, /*bundled=*/false));
  }
  return Worst(code, ValidateCatalogue(fmea, files, given, catalog));
}

}  // namespace

base::Runner SetupValidate(CLI::App* app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto fmea = std::make_shared<std::string>();
  app->add_option("SCENARIO", *files,
                  "Scenario files to check (a fmea.json among them is the "
                  "failure-mode catalogue)")
      ->required();
  app->add_option("--fmea", *fmea,
                  "The failure-mode catalogue to check them against (default: "
                  "fmea.json given, else next to the first scenario, else scenarios/fmea.json)");
  return [files, fmea] { return Validate(*files, *fmea); };
}

}  // namespace faultline::cli
