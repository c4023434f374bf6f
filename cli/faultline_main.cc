// faultline: the harness's command line. A table of subcommands; each parses
// its flags and wires the registries into the engine. No logic lives here.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include "coordinator/subcommand_table.h"
#include "faults/registry.h"
#include "reports/fmea_catalog.h"
#include "reports/fmea_report.h"
#include "reports/junit.h"
#include "reports/run_record.h"
#include "reports/timeline_svg.h"
#include "sim/invariants/registry.h"
#include "sim/explore.h"
#include "sim/option_check.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/sut/external_sut.h"
#include "sim/sut/history_diff.h"
#include "sim/sink.h"

namespace faultline {
namespace {

namespace stdfs = std::filesystem;

std::atomic<bool> g_interrupted{false};
void OnSignal(int) { g_interrupted.store(true); }

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

Catalog MakeCatalog() { return Catalog{faults::AllFaults(), CoreInvariants()}; }

// The swarm binary: --swarm, else $FAULTLINE_SWARM, else next to faultline.
// Made absolute: processes are spawned by path, from another directory.
std::string FindSwarm(const std::string& flag) {
  std::error_code ec;
  if (!flag.empty()) return stdfs::absolute(flag, ec).string();
  if (const char* env = std::getenv("FAULTLINE_SWARM"); env && *env) {
    return stdfs::absolute(env, ec).string();
  }
  return (stdfs::read_symlink("/proc/self/exe", ec).parent_path() / "swarm").string();
}

bool ShowProgress() { return isatty(2) && std::getenv("CI") == nullptr; }

int Worst(int a, int b) {
  auto rank = [](int c) {
    return c == kExitInterrupted ? 4 : c == kExitUsage ? 3 : c == kExitHarness ? 2 : c;
  };
  return rank(a) >= rank(b) ? a : b;
}

// Loads a scenario, applying a --mode override; prints the error and returns
// false on a bad file.
bool Load(const std::string& path, const std::string& mode, const Catalog& catalog,
          Scenario* out) {
  ScenarioError error;
  if (!LoadScenario(path, catalog, out, &error)) {
    std::fprintf(stderr, "faultline: %s\n", error.ToString().c_str());
    return false;
  }
  if (!mode.empty()) {
    nlohmann::json doc = out->doc;
    doc["mode"] = mode;
    if (!ParseScenario(doc.dump(), path + " (with --mode " + mode + ")", catalog, out, &error)) {
      std::fprintf(stderr, "faultline: %s\n", error.ToString().c_str());
      return false;
    }
  }
  return true;
}

using swarm::Runner;

// --sut FILE: run the scenario against the external SUT described in FILE (a
// "sut" block, bare or as {"sut": {...}}; its cwd is relative to FILE).
// --sut swarm: against the reference coordinator, whatever the scenario says.
// Prints the error and returns false on a bad file.
bool ApplySut(const std::string& flag, const Catalog& catalog, Scenario* scenario) {
  if (flag.empty()) return true;
  nlohmann::json doc = scenario->doc;
  if (flag == "swarm") {
    doc.erase("sut");
    // The reference compared with itself would show nothing.
    if (doc.contains("differential") && doc["differential"]["against"] == "reference") {
      doc.erase("differential");
    }
  } else {
    std::ifstream in(flag);
    if (!in) {
      std::fprintf(stderr, "faultline: %s: cannot open the SUT file: %s\n", flag.c_str(),
                   std::strerror(errno));
      return false;
    }
    nlohmann::json block = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false,
                                                 /*ignore_comments=*/true);
    if (block.is_object() && block.size() == 1 && block.contains("sut")) block = block["sut"];
    if (!block.is_object()) {
      std::fprintf(stderr, "faultline: %s: expected a JSON object: a \"sut\" block (see "
                   "docs/external-sut.md)\n", flag.c_str());
      return false;
    }
    sut::AnchorCwd(&block, stdfs::path(flag).parent_path().string());
    doc["sut"] = std::move(block);
  }
  ScenarioError error;
  if (!ParseScenario(doc.dump(), scenario->file + " (with --sut " + flag + ")", catalog, scenario,
                     &error)) {
    std::fprintf(stderr, "faultline: %s\n", error.ToString().c_str());
    return false;
  }
  return true;
}

struct RunFlags {
  std::vector<std::string> scenarios;
  int64_t seed = -1;
  std::string mode;
  std::string sut;
  std::string out = "faultline-out";
  std::string swarm;
  bool keep = false;
  bool check_determinism = false;
  int64_t seeds = 1;       // runs per scenario: its seed, then the next ones
  std::string shard;       // "I/N", else from GTEST_SHARD_INDEX/GTEST_TOTAL_SHARDS
  int64_t seed_offset = 0; // of this run, from the first seed
  std::string junit;  // --junit FILE
};

RunOptions Options(const RunFlags& f) {
  RunOptions o;
  o.out_dir = f.out;
  o.swarm_bin = FindSwarm(f.swarm);
  o.keep = f.keep;
  o.progress = ShowProgress();
  o.interrupted = &g_interrupted;
  return o;
}

// After a run: its timeline.svg next to its trace, and its JUnit case.
void AfterRun(const RunReport& report, const std::string& scenario,
              std::vector<reports::JunitCase>* junit) {
  const std::string id = stdfs::path(report.run_dir).filename().string();
  if (!report.verdict.is_object() || !report.verdict.contains("scenario")) {
    if (junit) junit->push_back(reports::JunitErrorCase(scenario, id, report.summary));
    return;
  }
  std::string error;
  if (!reports::WriteTimelineSvg(report.run_dir, &error)) {
    std::fprintf(stderr, "faultline: no timeline for %s: %s\n", report.run_dir.c_str(),
                 error.c_str());
  }
  if (junit) junit->push_back(reports::JunitCaseFromVerdict(report.verdict, id, report.run_dir));
}

int RunOne(const std::string& path, const RunFlags& f, const Catalog& catalog,
           std::vector<reports::JunitCase>* junit) {
  if (reports::IsCatalogueFile(path)) {
    std::fprintf(stderr, "faultline run: skipping %s (the failure-mode catalogue, not a "
                 "scenario)\n", path.c_str());
    return kExitPass;
  }
  const std::string stem = stdfs::path(path).stem().string();
  Scenario scenario;
  if (!Load(path, f.mode, catalog, &scenario)) {
    junit->push_back(reports::JunitErrorCase(stem, stem, path + ": not a valid scenario (exit 2); "
                                             "faultline validate " + path + " says why",
                                             reports::Outcome::kHarnessError));
    return kExitUsage;
  }
  if (!ApplySut(f.sut, catalog, &scenario)) return kExitUsage;
  uint64_t seed = (f.seed >= 0 ? static_cast<uint64_t>(f.seed)
                               : scenario.doc.value("seed", uint64_t{1})) +
                  static_cast<uint64_t>(f.seed_offset);
  ResolvedScenario resolved = Resolve(scenario, catalog, seed);
  RunOptions options = Options(f);
  if (resolved.sut.is_null() && !stdfs::exists(options.swarm_bin)) {
    std::fprintf(stderr, "faultline: the coordinator binary %s does not exist; pass --swarm PATH\n",
                 options.swarm_bin.c_str());
    junit->push_back(reports::JunitErrorCase(resolved.name, stem, "the coordinator binary " +
                                             options.swarm_bin + " does not exist"));
    return kExitHarness;
  }
  RunReport report = RunScenario(resolved, catalog, options);
  AfterRun(report, resolved.name, junit);
  std::fputs(report.summary.c_str(), stdout);
  std::fflush(stdout);
  if (!f.check_determinism || report.exit_code == kExitInterrupted ||
      report.exit_code == kExitHarness) {
    return report.exit_code;
  }
  if (resolved.mode != Mode::kLockstep) {
    std::printf("  --check-determinism: skipped, freerun runs are reproducible in distribution only\n");
    return report.exit_code;
  }
  options.run_dir_suffix = "-check";
  RunReport again = RunScenario(resolved, catalog, options);
  AfterRun(again, resolved.name, nullptr);
  std::string first = report.verdict["trace_sha256"], second = again.verdict["trace_sha256"];
  if (report.verdict.contains("differential") && again.verdict.contains("differential")) {
    // A differential run is two runs: both must repeat.
    first += "+" + report.verdict["differential"].value("trace_sha256", "");
    second += "+" + again.verdict["differential"].value("trace_sha256", "");
  }
  if (first != second) {
    std::printf("  --check-determinism: FAILED: trace_sha256 %s then %s (%s vs %s); see "
                "docs/determinism.md\n",
                first.c_str(), second.c_str(), (report.run_dir + "/trace.jsonl").c_str(),
                (again.run_dir + "/trace.jsonl").c_str());
    return kExitHarness;
  }
  std::printf("  --check-determinism: same trace twice (%s)\n", first.c_str());
  return report.exit_code;
}

// Which of the runs (scenario × seed, in order) this process does: those whose
// index modulo `total` is `index`. A CI matrix or a Kubernetes indexed job
// splits a suite with --shard I/N or GoogleTest's sharding variables.
struct Shard {
  int64_t index = 0;
  int64_t total = 1;
};

// Parses --shard, or else GTEST_SHARD_INDEX/GTEST_TOTAL_SHARDS; prints the
// error and returns false on a bad value.
bool ParseShard(const std::string& flag, Shard* shard) {
  std::string text = flag, where = "--shard";
  const char* index = std::getenv("GTEST_SHARD_INDEX");
  const char* total = std::getenv("GTEST_TOTAL_SHARDS");
  if (text.empty() && index != nullptr && total != nullptr) {
    text = std::string(index) + "/" + total;
    where = "GTEST_SHARD_INDEX/GTEST_TOTAL_SHARDS";
    // GoogleTest's protocol: say that sharding is understood.
    if (const char* status = std::getenv("GTEST_SHARD_STATUS_FILE")) std::ofstream{status};
  }
  if (text.empty()) return true;
  long long i = -1, n = -1;
  char slash = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%lld%c%lld%c", &i, &slash, &n, &extra) != 3 || slash != '/' ||
      n < 1 || i < 0 || i >= n) {
    std::fprintf(stderr,
                 "faultline run: %s is \"%s\"; expected I/N with 0 <= I < N (e.g. --shard 0/4)\n",
                 where.c_str(), text.c_str());
    return false;
  }
  shard->index = i;
  shard->total = n;
  return true;
}

Runner SetupRun(CLI::App* app) {
  auto f = std::make_shared<RunFlags>();
  app->add_option("SCENARIO", f->scenarios, "Scenario files (JSON)")->required();
  app->add_option("--seed", f->seed, "Seed of the run (default: the scenario's \"seed\")")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--mode", f->mode, "Override the scenario's mode")
      ->check(CLI::IsMember({"lockstep", "freerun"}));
  app->add_option("--sut", f->sut,
                  "Run against the external SUT described in this file (a \"sut\" block, see "
                  "docs/external-sut.md), or \"swarm\" for the reference coordinator");
  app->add_option("--out", f->out, "Where run directories go (default: faultline-out)");
  app->add_option("--swarm", f->swarm, "The coordinator binary (default: next to faultline)");
  app->add_flag("--keep", f->keep, "Keep the coordination directory in the run directory");
  app->add_flag("--check-determinism", f->check_determinism,
                "Run each lockstep scenario twice and fail (exit 3) if the traces differ");
  app->add_option("--seeds", f->seeds,
                  "Runs per scenario: its seed (or --seed) and the N-1 seeds after it "
                  "(default 1)")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  app->add_option("--shard", f->shard,
                  "I/N: do only every N-th run (scenario x seed), starting at the I-th; default "
                  "from GTEST_SHARD_INDEX/GTEST_TOTAL_SHARDS. faultline report merges the shards' "
                  "--out folders");
  app->add_option("--junit", f->junit,
                  "Also write JUnit XML here: one testcase per run, failures with the violations "
                  "and the reproduce command, errors for harness errors");
  return [f] {
    Catalog catalog = MakeCatalog();
    int code = kExitPass;
    std::vector<reports::JunitCase> junit;
    Shard shard;
    if (!ParseShard(f->shard, &shard)) return kExitUsage;
    const int64_t runs = static_cast<int64_t>(f->scenarios.size()) * f->seeds;
    if (shard.total > 1) {
      std::fprintf(stderr, "faultline run: shard %lld/%lld: %lld of %lld runs\n",
                   static_cast<long long>(shard.index), static_cast<long long>(shard.total),
                   static_cast<long long>((runs - shard.index + shard.total - 1) / shard.total),
                   static_cast<long long>(runs));
    }
    int64_t index = 0;
    for (const std::string& path : f->scenarios) {
      for (int64_t k = 0; k < f->seeds && code != kExitInterrupted; ++k, ++index) {
        if (index % shard.total != shard.index) continue;
        RunFlags one = *f;
        one.seed_offset = k;
        code = Worst(code, RunOne(path, one, catalog, &junit));
      }
      if (code == kExitInterrupted) break;
    }
    if (!f->junit.empty()) {
      std::ofstream out(f->junit, std::ios::trunc);
      out << reports::RenderJunit(junit);
      out.close();
      if (!out) {
        std::fprintf(stderr, "faultline run: cannot write the JUnit file %s\n", f->junit.c_str());
        code = Worst(code, kExitHarness);
      }
    }
    return code;
  };
}

Runner SetupReplay(CLI::App* app) {
  auto dir = std::make_shared<std::string>();
  auto swarm = std::make_shared<std::string>();
  app->add_option("RUN_DIR", *dir, "A run directory written by faultline run")->required();
  app->add_option("--swarm", *swarm, "The coordinator binary (default: next to faultline)");
  return [dir, swarm] {
    std::ifstream vin(*dir + "/verdict.json");
    nlohmann::json verdict = nlohmann::json::parse(vin, nullptr, false);
    if (!verdict.is_object() || !verdict.contains("trace_sha256")) {
      std::fprintf(stderr, "faultline replay: %s/verdict.json is missing or unreadable; pass a "
                   "directory written by faultline run\n", dir->c_str());
      return kExitUsage;
    }
    Catalog catalog = MakeCatalog();
    Scenario scenario;
    if (!Load(*dir + "/scenario.resolved.json", "", catalog, &scenario)) return kExitUsage;
    ResolvedScenario resolved = Resolve(scenario, catalog, verdict.value("seed", uint64_t{1}));
    RunFlags flags;
    flags.out = *dir + "/replay";
    flags.swarm = *swarm;
    RunReport report = RunScenario(resolved, catalog, Options(flags));
    AfterRun(report, resolved.name, nullptr);
    std::fputs(report.summary.c_str(), stdout);
    if (report.exit_code == kExitHarness || report.exit_code == kExitInterrupted) {
      return report.exit_code;
    }
    std::string was = verdict["trace_sha256"], now = report.verdict["trace_sha256"];
    if (resolved.mode != Mode::kLockstep) {
      std::printf("replay: freerun run re-run (reproducible in distribution only; recorded "
                  "verdict: %s, now: %s)\n",
                  verdict.value("ok", false) ? "ok" : "failed",
                  report.verdict.value("ok", false) ? "ok" : "failed");
      return report.exit_code;
    }
    if (was != now) {
      std::printf("replay: trace differs from the recorded run (%s, now %s): the run is not "
                  "reproducible; see docs/determinism.md\n", was.c_str(), now.c_str());
      return kExitHarness;
    }
    std::printf("replay: identical trace (sha256 %s)\n", now.c_str());
    return report.exit_code;
  };
}

// The failure-mode catalogue's cross-references, for validate.
int ValidateCatalogue(const std::string& flag, const std::vector<std::string>& files,
                      const std::vector<reports::ScenarioFmea>& given, const Catalog& catalog) {
  const std::string path = reports::FindCatalogue(flag, files);
  if (path.empty()) {
    std::fprintf(stderr, "faultline validate: no failure-mode catalogue found (fmea.json next to "
                 "the scenarios, or --fmea FILE): fmea ids not checked\n");
    return kExitPass;
  }
  // Validating the catalogue itself judges the whole bundled suite against it.
  const bool all_bundled =
      !flag.empty() || std::any_of(files.begin(), files.end(), reports::IsCatalogueFile);
  size_t modes = 0, exercised = 0;
  std::vector<ScenarioError> errors =
      reports::CheckCatalogueFile(path, given, all_bundled, catalog, &modes, &exercised);
  for (const ScenarioError& e : errors) std::fprintf(stderr, "faultline: %s\n", e.ToString().c_str());
  if (!errors.empty()) return kExitUsage;
  std::printf("%s: ok (%zu failure modes, %zu with scenarios)\n", path.c_str(), modes, exercised);
  return kExitPass;
}

Runner SetupValidate(CLI::App* app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto fmea = std::make_shared<std::string>();
  app->add_option("SCENARIO", *files, "Scenario files to check (a fmea.json among them is the "
                  "failure-mode catalogue)")->required();
  app->add_option("--fmea", *fmea, "The failure-mode catalogue to check them against (default: "
                  "fmea.json given, else next to the first scenario, else scenarios/fmea.json)");
  return [files, fmea] {
    Catalog catalog = MakeCatalog();
    int code = kExitPass;
    std::vector<reports::ScenarioFmea> given;
    for (const std::string& path : *files) {
      if (reports::IsCatalogueFile(path)) continue;
      Scenario scenario;
      if (!Load(path, "", catalog, &scenario)) {
        code = kExitUsage;
        continue;
      }
      std::printf("%s: ok (%s)\n", path.c_str(), scenario.name.c_str());
      given.push_back(reports::ScenarioFmeaOf(scenario, /*bundled=*/false));
    }
    return Worst(code, ValidateCatalogue(*fmea, *files, given, catalog));
  };
}

struct ReportFlags {
  std::vector<std::string> inputs;
  std::string out;
  std::string fmea = "scenarios/fmea.json";
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

int RunReportCommand(const ReportFlags& f) {
  Catalog registries = MakeCatalog();
  reports::FmeaCatalog catalogue;
  std::vector<ScenarioError> errors;
  if (!reports::LoadFmeaCatalog(f.fmea, &catalogue, &errors)) {
    for (const ScenarioError& e : errors) std::fprintf(stderr, "faultline: %s\n", e.ToString().c_str());
    return kExitUsage;
  }
  for (const ScenarioError& e : reports::CheckCatalogueFile(f.fmea, {}, false, registries)) {
    std::fprintf(stderr, "faultline report: warning: %s\n", e.ToString().c_str());
  }
  std::vector<std::string> problems;
  std::vector<std::string> dirs = reports::FindRunDirs(f.inputs, &problems);
  for (const std::string& p : problems) std::fprintf(stderr, "faultline report: %s\n", p.c_str());
  if (dirs.empty()) {
    std::fprintf(stderr, "faultline report: no run directories found; pass the --out folders of "
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
  const bool progress = ShowProgress();
  if (progress) {
    options.progress = [](size_t done, size_t total) {
      std::fprintf(stderr, "\rfaultline report: read %zu of %zu runs\033[K", done, total);
    };
  }
  reports::Report report = reports::BuildReport(catalogue, dirs, options);
  if (progress) std::fputs("\n", stderr);
  std::string error;
  if (!reports::WriteReport(report, f.out, &error)) {
    std::fprintf(stderr, "faultline report: %s\n", error.c_str());
    return kExitHarness;
  }
  const nlohmann::json& t = report.model["totals"];
  std::printf("report: %d runs (%d with violations, %d harness errors, %d vacuous); %d of %d failure "
              "modes exercised, %d failing\n  %s/fmea-report.html  (also fmea-report.md, "
              "fmea-report.json, junit.xml)\n",
              t["runs"].get<int>(), t["violations"].get<int>(), t["harness_errors"].get<int>(),
              t["vacuous"].get<int>(), t["modes_exercised"].get<int>(), t["modes"].get<int>(),
              t["modes_failing"].get<int>(), f.out.c_str());
  for (const std::string& w : report.warnings) std::fprintf(stderr, "  warning: %s\n", w.c_str());
  return kExitPass;
}

Runner SetupReport(CLI::App* app) {
  auto f = std::make_shared<ReportFlags>();
  app->add_option("RUN_DIR", f->inputs,
                  "Run directories, or folders holding them (e.g. each shard's --out folder)")
      ->required();
  app->add_option("--out", f->out, "Where the report goes")->required();
  app->add_option("--fmea", f->fmea, "The failure-mode catalogue (default: scenarios/fmea.json)");
  app->add_option("--generated", f->generated,
                  "The report's \"generated\" line (default: SOURCE_DATE_EPOCH, else now, UTC)");
  app->add_option("--timelines", f->timelines,
                  "Timelines drawn in the HTML: auto (all of up to 60 runs, else the failing, "
                  "vacuous and first of each scenario), all, failing, none")
      ->check(CLI::IsMember({"auto", "all", "failing", "none"}));
  return [f] { return RunReportCommand(*f); };
}

Runner SetupList(CLI::App* app) {
  auto what = std::make_shared<std::string>();
  auto dir = std::make_shared<std::string>("scenarios");
  app->add_option("WHAT", *what, "faults | invariants | scenarios | settings")
      ->required()
      ->check(CLI::IsMember({"faults", "invariants", "scenarios", "settings"}));
  app->add_option("--dir", *dir, "Where to look for scenarios (default: scenarios)");
  return [what, dir] {
    Catalog catalog = MakeCatalog();
    if (*what == "faults") {
      for (const FaultKind& k : catalog.faults) {
        std::printf("%s%s\n  %s\n  stands for: %s\n", k.name.c_str(),
                    k.lockstep_only ? " (lockstep only)" : "", k.summary.c_str(),
                    k.stands_for.c_str());
        for (const OptionSpec& o : k.options) {
          std::string def = o.default_value.is_null() ? "required" : "default " + o.default_value.dump();
          std::printf("    %-18s %s (%s%s)\n", o.name.c_str(), o.help.c_str(), def.c_str(),
                      o.range_ok ? "; a range [lo, hi] is drawn from the seed" : "");
          if (!o.choices.empty()) {
            // One of: a, b, ... wrapped under the option's help.
            std::string line = "one of:";
            for (size_t c = 0; c < o.choices.size(); ++c) {
              std::string next = " " + o.choices[c] + (c + 1 < o.choices.size() ? "," : "");
              if (line.size() + next.size() > 76) {
                std::printf("    %-18s %s\n", "", line.c_str());
                line = "       ";
              }
              line += next;
            }
            std::printf("    %-18s %s\n", "", line.c_str());
          }
        }
      }
    } else if (*what == "invariants") {
      for (const InvariantKind& k : catalog.invariants) {
        std::printf("%-22s %s\n%s", k.name.c_str(), k.summary.c_str(),
                    OptionListing(k.options).c_str());
      }
    } else if (*what == "settings") {
      std::fputs(SettingsListing().c_str(), stdout);
    } else {
      std::vector<std::string> files;
      std::error_code ec;
      for (auto it = stdfs::directory_iterator(*dir, ec); !ec && it != stdfs::directory_iterator();
           it.increment(ec)) {
        std::string p = it->path().string();
        if (it->path().extension() == ".json" && it->path().filename() != "fmea.json") files.push_back(p);
      }
      if (ec) {
        std::fprintf(stderr, "faultline list: cannot read %s: %s\n", dir->c_str(), ec.message().c_str());
        return kExitUsage;
      }
      std::sort(files.begin(), files.end());
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
        for (const auto& f : s.doc.value("faults", nlohmann::json::array())) {
          faults += (faults.empty() ? "" : ", ") + f.value("kind", "?");
        }
        std::printf("%-40s %-28s %s; faults: %s\n", p.c_str(), s.name.c_str(),
                    s.doc.value("mode", "lockstep").c_str(), faults.empty() ? "none" : faults.c_str());
      }
      return code;
    }
    return kExitPass;
  };
}

// Environment the coordinator reads (SWARM_*), as a prefix of a shell
// command: the reproduce line must carry it.
std::string CoordinatorEnvPrefix() {
  std::vector<std::string> vars;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "SWARM_", 6) == 0) vars.emplace_back(*e);
  }
  std::sort(vars.begin(), vars.end());
  std::string prefix;
  for (const std::string& v : vars) prefix += v + " ";
  return prefix;
}

struct ExploreFlags {
  std::string scenario;
  int64_t runs = 100;
  double time_budget = 300;
  double shrink_budget = 120;
  std::string out = "faultline-explore";
  int64_t seed = -1;
  std::string swarm;
  std::string shrink;  // --shrink FILE
};

int RunExplore(const ExploreFlags& f) {
  Catalog catalog = MakeCatalog();
  Scenario family;
  if (!Load(f.scenario, "", catalog, &family)) return kExitUsage;
  ResolvedScenario start;
  if (!f.shrink.empty()) {
    Scenario given;
    if (!Load(f.shrink, "", catalog, &given)) return kExitUsage;
    start = Resolve(given, catalog, given.doc.value("seed", uint64_t{1}));
  }
  // Absolute, since runs spawn it from elsewhere; the reproduce line says it so too.
  std::error_code ec;
  const std::string swarm = stdfs::absolute(FindSwarm(f.swarm), ec).string();
  if (!stdfs::exists(swarm)) {
    std::fprintf(stderr, "faultline: the coordinator binary %s does not exist; pass --swarm PATH\n",
                 swarm.c_str());
    return kExitHarness;
  }
  ExploreOptions o;
  o.master_seed = f.seed >= 0 ? static_cast<uint64_t>(f.seed) : family.doc.value("seed", uint64_t{1});
  o.max_runs = f.runs;
  o.time_budget_s = f.time_budget;
  o.shrink_budget_s = f.shrink_budget;
  o.out_dir = f.out;
  if (!f.shrink.empty()) o.start = &start;
  o.interrupted = &g_interrupted;
  o.reproduce_prefix = CoordinatorEnvPrefix();
  if (!f.swarm.empty()) o.reproduce_suffix = " --swarm " + swarm;
  o.say = [](const std::string& text) {
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
  };
  if (ShowProgress()) {
    o.progress = [](const std::string& line) { std::fprintf(stderr, "\r%s\033[K", line.c_str()); };
  }
  RunOptions run;
  run.swarm_bin = swarm;
  run.interrupted = &g_interrupted;
  InProcessRunner runner(catalog, run);
  return Explore(family, catalog, o, runner).exit_code;
}

Runner SetupExplore(CLI::App* app) {
  auto f = std::make_shared<ExploreFlags>();
  app->add_option("SCENARIO", f->scenario, "A scenario family (JSON); its ranges are explored")
      ->required();
  app->add_option("--runs", f->runs, "Most runs to make before giving up (default: 100)")
      ->check(CLI::PositiveNumber);
  app->add_option("--time-budget", f->time_budget,
                  "Seconds to search before giving up (default: 300)")
      ->check(CLI::PositiveNumber);
  app->add_option("--shrink-budget", f->shrink_budget,
                  "Seconds to shrink a violation (default: 120)")
      ->check(CLI::PositiveNumber);
  app->add_option("--out", f->out,
                  "Where minimal.json, original.json and run directories go "
                  "(default: faultline-explore)");
  app->add_option("--seed", f->seed,
                  "Master seed: the same one draws the same scenarios (default: the "
                  "scenario's \"seed\")")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--swarm", f->swarm, "The coordinator binary (default: next to faultline)");
  app->add_option("--shrink", f->shrink,
                  "Do not search: shrink this failing scenario (a member of the family, e.g. "
                  "a run's scenario.resolved.json)");
  return [f] { return RunExplore(*f); };
}

Runner SetupSink(CLI::App* app) {
  auto o = std::make_shared<SinkOptions>();
  auto mode = std::make_shared<std::string>("up");
  o->record = "collector-spans.jsonl";
  app->add_option("--port", o->port, "Port to listen on; 0: any free one (default: 4318)")
      ->check(CLI::Range(0, 65535));
  app->add_option("--host", o->host, "Address to listen on (default: 127.0.0.1)");
  app->add_option("--record", o->record,
                  "Append every span received for the first time here, one JSON line each "
                  "(default: collector-spans.jsonl)");
  app->add_option("--mode", *mode, "up, 503 (answer 503 Service Unavailable) or blackhole "
                                   "(accept, never answer); default: up")
      ->check(CLI::IsMember({"up", "503", "blackhole"}));
  return [o, mode] {
    o->mode = *ParseCollectorMode(*mode);
    o->interrupted = &g_interrupted;
    return RunSink(*o);
  };
}

struct DiffFlags {
  std::string scenario;
  std::vector<std::string> suts;
  int64_t seed = -1;
  std::string out = "faultline-diff";
  std::string swarm;
};

// One side of a diff: the scenario against one SUT; its projected history.
struct DiffSide {
  std::string label;
  RunReport report;
  std::vector<sut::ProjectedOp> history;
};

int RunDiffSide(const DiffFlags& f, const std::string& sut_flag, const std::string& suffix,
                const Catalog& catalog, DiffSide* side) {
  Scenario scenario;
  if (!Load(f.scenario, "", catalog, &scenario)) return kExitUsage;
  scenario.doc.erase("differential");  // diff compares the two runs itself
  if (!ApplySut(sut_flag, catalog, &scenario)) return kExitUsage;
  if (scenario.doc.value("mode", "lockstep") != "lockstep") {
    std::fprintf(stderr, "faultline diff: %s is a freerun scenario; diff compares lockstep runs, "
                 "whose histories depend only on the seed (set \"mode\": \"lockstep\")\n",
                 f.scenario.c_str());
    return kExitUsage;
  }
  const uint64_t seed = f.seed >= 0 ? static_cast<uint64_t>(f.seed)
                                    : scenario.doc.value("seed", uint64_t{1});
  ResolvedScenario resolved = Resolve(scenario, catalog, seed);
  side->label = resolved.sut.is_null() ? "swarm" : sut::Label(resolved.sut) + ", " + sut_flag;
  RunFlags flags;
  flags.out = f.out;
  flags.swarm = f.swarm;
  RunOptions options = Options(flags);
  options.run_dir_suffix = suffix;
  side->report = RunScenario(resolved, catalog, options);
  std::printf("%s: %s", suffix.substr(1).c_str(), side->report.summary.c_str());
  std::fflush(stdout);
  if (side->report.exit_code == kExitHarness || side->report.exit_code == kExitInterrupted) {
    return side->report.exit_code;
  }
  std::ifstream trace(side->report.run_dir + "/trace.jsonl");
  side->history = sut::ProjectHistory(trace);
  return kExitPass;
}

Runner SetupDiff(CLI::App* app) {
  auto f = std::make_shared<DiffFlags>();
  app->add_option("SCENARIO", f->scenario, "A lockstep scenario file")->required();
  app->add_option("--sut", f->suts,
                  "The two systems to compare, in order A then B: a SUT file (a \"sut\" block) "
                  "or \"swarm\" for the reference coordinator")
      ->required()
      ->expected(2);
  app->add_option("--seed", f->seed, "Seed of both runs (default: the scenario's \"seed\")")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--out", f->out, "Where the two run directories go (default: faultline-diff)");
  app->add_option("--swarm", f->swarm, "The coordinator binary (default: next to faultline)");
  return [f] {
    Catalog catalog = MakeCatalog();
    DiffSide a, b;
    if (int code = RunDiffSide(*f, f->suts[0], "-a", catalog, &a); code != kExitPass) return code;
    if (int code = RunDiffSide(*f, f->suts[1], "-b", catalog, &b); code != kExitPass) return code;
    const sut::Divergence d = sut::FirstDivergence(a.history, b.history);
    std::printf("diff: %s", sut::DescribeDivergence(d, a.label, b.label).c_str());
    std::printf("  histories: %s/trace.jsonl, %s/trace.jsonl\n", a.report.run_dir.c_str(),
                b.report.run_dir.c_str());
    return d.found ? kExitViolation : kExitPass;
  };
}

const swarm::Subcommand kCommands[] = {
    {"run", "Run scenarios and judge them (exit 0 pass, 1 violation, 2 bad input, 3 harness "
            "error, 130 interrupted)", SetupRun},
    {"replay", "Re-run a run directory with its resolved scenario and seed; check the trace hash",
     SetupReplay},
    {"explore", "Search a scenario family for a violation and shrink it to a minimal scenario "
                "(exit 0 none found, 1 found, 2 bad input, 3 harness error)", SetupExplore},
    {"diff", "Run one lockstep scenario against two SUTs and print the first divergence of "
             "their histories (exit 0 none, 1 a divergence, 2 bad input, 3 harness error)",
     SetupDiff},
    {"validate", "Check scenario files and the failure-mode catalogue without running them",
     SetupValidate},
    {"report", "Write the FMEA evidence report (md, html, json) and junit.xml from run "
               "directories; merges shards' output folders", SetupReport},
    {"list", "List the fault kinds, the invariants, or the bundled scenarios", SetupList},
    {"sink", "Run the collector: an OTLP/HTTP JSON receiver that records the spans it takes "
             "(the engine starts one per run with telemetry)", SetupSink},
};

}  // namespace
}  // namespace faultline

int main(int argc, char** argv) {
  using namespace faultline;
  CLI::App app{
      "faultline: fault injection and deterministic simulation for work-coordination systems.\n"
      "Starts real agent processes against a real coordinator, breaks them on a schedule,\n"
      "checks invariants over what happened, and tells you how to reproduce any failure.\n\n"
      "  faultline run scenarios/killed-worker.json          # verdict + reproduce command\n"
      "  faultline run scenarios/*.json --seed 7 --out out   # many scenarios, one seed\n"
      "  faultline replay out/killed-worker-7                # same run again, same trace\n"
      "  faultline explore scenarios/crash-points.json       # search, shrink, minimal.json\n"
      "  faultline list faults\n\n"
      "Exit codes: 0 every invariant held, 1 a violation, 2 bad scenario or usage,\n"
      "3 harness or environment error, 130 interrupted."};
  return swarm::RunSubcommands(app, kCommands, argc, argv, "faultline", kExitUsage,
                               InstallSignalHandlers);
}
