// faultline report: the FMEA evidence report (md, html, json) and junit.xml
// from run directories; merges shards' output folders.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/install_layout.h"
#include "cli/cli_support.h"
#include "cli/commands.h"
#include "cli/progress_line.h"
#include "reports/fmea_catalog.h"
#include "reports/fmea_report.h"
#include "reports/run_record.h"

namespace faultline::cli {
namespace {

struct ReportFlags {
  std::vector<std::string> inputs;
  std::string out;
  std::string fmea;  // "" is scenarios/fmea.json, else the installed catalogue
  std::string generated;
  std::string timelines = "auto";
};

// The one wall-clock line of a report: --generated, else SOURCE_DATE_EPOCH
// (reproducible builds), else now; UTC.
std::string GeneratedAt(const std::string& flag) {
  if (!flag.empty()) return flag;
  time_t now = std::time(nullptr);
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch) {
    now = static_cast<time_t>(std::strtoll(epoch, nullptr, 10));
  }
  struct tm utc {};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

int RunReportCommand(const ReportFlags& flags) {
  ReportFlags f = flags;
  if (f.fmea.empty()) {
    // From an installed prefix outside a checkout: the installed catalogue.
    const std::string installed = base::InstalledDataDir();
    f.fmea = std::filesystem::exists("scenarios/fmea.json") || installed.empty()
                 ? "scenarios/fmea.json"
                 : installed + "/scenarios/fmea.json";
  }
  Catalog registries = MakeCatalog();
  reports::FmeaCatalog catalogue;
  std::vector<ScenarioError> errors;
  if (!reports::LoadFmeaCatalog(f.fmea, &catalogue, &errors)) {
    for (const ScenarioError& e : errors)
      std::fprintf(stderr, "faultline: %s\n", e.ToString().c_str());
    return kExitUsage;
  }
  for (const ScenarioError& e : reports::CheckCatalogueFile(f.fmea, {}, false, registries)) {
    std::fprintf(stderr, "faultline report: warning: %s\n", e.ToString().c_str());
  }
  std::vector<std::string> problems;
  std::vector<std::string> dirs = reports::FindRunDirs(f.inputs, &problems);
  for (const std::string& p : problems) std::fprintf(stderr, "faultline report: %s\n", p.c_str());
  if (dirs.empty()) {
    std::fprintf(stderr,
                 "faultline report: no run directories found; pass the --out folders of "
                 "faultline run (or run directories)\n");
    return kExitUsage;
  }
  reports::ReportOptions options;
  options.generated = GeneratedAt(f.generated);
  options.out_dir = f.out;
  options.inputs = f.inputs;
  options.timelines = f.timelines == "all"       ? reports::Timelines::kAll
                      : f.timelines == "failing" ? reports::Timelines::kFailing
                      : f.timelines == "none"    ? reports::Timelines::kNone
                                                 : reports::Timelines::kAuto;
  ProgressLine progress("faultline report: reading runs", static_cast<int64_t>(dirs.size()),
                        ShowProgress());
  options.progress = [&progress](size_t done, size_t) {
    progress.Update(static_cast<int64_t>(done));
  };
  reports::Report report = reports::BuildReport(catalogue, dirs, options);
  progress.Clear();
  std::string error;
  if (!reports::WriteReport(report, f.out, &error)) {
    std::fprintf(stderr, "faultline report: %s\n", error.c_str());
    return kExitHarness;
  }
  const nlohmann::json& t = report.model["totals"];
  std::printf(
      "report: %d runs (%d with violations, %d harness errors, %d vacuous); %d of %d failure "
      "modes exercised, %d failing\n  %s/fmea-report.html  (also fmea-report.md, "
      "fmea-report.json, junit.xml)\n",
      t["runs"].get<int>(), t["violations"].get<int>(), t["harness_errors"].get<int>(),
      t["vacuous"].get<int>(), t["modes_exercised"].get<int>(), t["modes"].get<int>(),
      t["modes_failing"].get<int>(), f.out.c_str());
  for (const std::string& w : report.warnings) std::fprintf(stderr, "  warning: %s\n", w.c_str());
  return kExitPass;
}

}  // namespace

base::Runner SetupReport(CLI::App* app) {
  auto f = std::make_shared<ReportFlags>();
  app->add_option("RUN_DIR", f->inputs,
                  "Run directories, or folders holding them (e.g. each shard's --out folder)")
      ->required();
  app->add_option("--out", f->out, "Where the report goes")->required();
  app->add_option("--fmea", f->fmea,
                  "The failure-mode catalogue (default: scenarios/fmea.json, else the "
                  "installed one)");
  app->add_option("--generated", f->generated,
                  "The report's \"generated\" line (default: SOURCE_DATE_EPOCH, else now, UTC)");
  app->add_option("--timelines", f->timelines,
                  "Timelines drawn in the HTML: auto (all of up to 60 runs, else the failing, "
                  "vacuous and first of each scenario), all, failing, none")
      ->check(CLI::IsMember({"auto", "all", "failing", "none"}));
  return [f] { return RunReportCommand(*f); };
}

}  // namespace faultline::cli
