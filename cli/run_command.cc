// faultline run: scenarios × seeds, sharded, each judged; optionally run
// twice (--check-determinism) and failed when a declared fault never landed
// (--require-landed).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "cli/commands.h"
#include "cli/progress_line.h"
#include "cli/shard.h"
#include "reports/fmea_catalog.h"
#include "reports/junit.h"
#include "reports/probe_coverage.h"
#include "sim/determinism.h"

namespace faultline::cli {
namespace {

namespace stdfs = std::filesystem;

struct RunFlags {
  std::vector<std::string> scenarios;
  int64_t seed = -1;
  std::string mode;
  std::string sut;
  std::string store;  // --store: overrides the scenario's "store"
  std::string out = "faultline-out";
  std::string swarm;
  bool keep = false;
  bool check_determinism = false;
  bool require_landed = false;
  int64_t seeds = 1;                 // runs per scenario: its seed, then the next ones
  std::string shard;                 // "I/N", else from GTEST_SHARD_INDEX/GTEST_TOTAL_SHARDS
  int64_t seed_offset = 0;           // of this run, from the first seed
  std::string junit;                 // --junit FILE
  int64_t first_index = 0;           // --first-index: this invocation's first run in the suite
  bool dry_run = false;              // --dry-run: print the runs, run none
  bool engine_progress = false;      // each run's own progress line (a single run on a terminal)
  ProgressLine* progress = nullptr;  // the suite's line, wiped before a run's summary
};

// RunOne's result for a run skipped by SkippedOnStore (never an exit code).
constexpr int kSkippedRun = -1;

// --store STORE over a scenario that cannot run there (docs/scenario-format.md,
// "Stores"): says so once and true; the run is skipped, not failed, so that a
// suite runs on a store whatever of it can run there.
bool SkippedOnStore(const Scenario& scenario, const RunFlags& f, const Catalog& catalog) {
  if (f.store.empty()) return false;
  const std::optional<ScenarioError> refusal = StoreRefusal(scenario, catalog, f.store);
  if (!refusal) return false;
  if (f.seed_offset == 0) {
    if (f.progress != nullptr) f.progress->Clear();
    std::printf("%s: skipped, not applicable on --store %s: %s\n", scenario.name.c_str(),
                f.store.c_str(), refusal->ToString().c_str());
    std::fflush(stdout);
  }
  return true;
}

// --dry-run: one line per run this shard would do, "FILE SEED"; the same
// loading and seed arithmetic as a real run, so that CI recipes can be
// checked without running anything.
int PrintRun(const std::string& path, const RunFlags& f, const Catalog& catalog,
             std::map<std::string, Scenario>* loaded) {
  if (reports::IsCatalogueFile(path)) return kExitPass;
  auto it = loaded->find(path);
  if (it == loaded->end()) {
    Scenario scenario;
    if (!Load(path, f.mode, catalog, &scenario)) return kExitUsage;
    it = loaded->emplace(path, std::move(scenario)).first;
  }
  const Scenario& scenario = it->second;
  if (SkippedOnStore(scenario, f, catalog)) return kSkippedRun;
  const uint64_t seed =
      (f.seed >= 0 ? static_cast<uint64_t>(f.seed) : scenario.doc.value("seed", uint64_t{1})) +
      static_cast<uint64_t>(f.seed_offset);
  std::printf("%s %llu\n", path.c_str(), static_cast<unsigned long long>(seed));
  return kExitPass;
}

// The declared faults that never landed in a run ("kill_agent #0"); empty
// when every one landed. Only the run's own: a differential counterpart
// cannot land what its system lacks (an adapter crash point such as
// op.complete does not exist in the reference), and its verdict says so.
std::string UnlandedFaults(const nlohmann::json& verdict) {
  std::string names;
  for (const nlohmann::json& f : verdict.value("faults", nlohmann::json::array())) {
    if (f.value("landed", true)) continue;
    names += (names.empty() ? "" : ", ") + f.value("kind", std::string("?")) + " #" +
             std::to_string(f.value("index", 0));
  }
  return names;
}

// The scenario's expected probes the run missed ("takeover.after_expiry",
// "queue.deep (sometimes)"); empty when every one was met.
std::string UnmetProbes(const nlohmann::json& verdict) {
  std::string names;
  for (const nlohmann::json& u : verdict.value("expect_unmet", nlohmann::json::array())) {
    names += (names.empty() ? "" : ", ") + u.value("probe", std::string("?")) +
             (u.value("kind", "") == "sometimes" ? " (sometimes)" : "");
  }
  return names;
}

// --require-landed: a run that passed although a declared fault never landed,
// or an expected probe was never reached, exits 4 (kExitVacuous), and its JUnit case becomes a failure saying so.
int RequireLanded(const RunReport& report, int code, std::vector<reports::JunitCase>* junit) {
  if (code != kExitPass || !report.verdict.is_object()) return code;
  const std::string unlanded = UnlandedFaults(report.verdict);
  const std::string unmet = UnmetProbes(report.verdict);
  if (unlanded.empty() && unmet.empty()) return code;
  std::string why;
  if (!unlanded.empty()) {
    why = "never landed: " + unlanded +
          "; the run proves less than the scenario claims (change its fault schedule, e.g. an "
          "earlier at_ms, or the seed)";
  }
  if (!unmet.empty()) {
    why += (why.empty() ? "" : "; ") + std::string("expected probes never reached: ") + unmet +
           "; the run never took the paths its \"expect\" names (see docs/protocol.md)";
  }
  std::printf("  --require-landed: FAILED (exit 4): %s\n", why.c_str());
  if (!junit->empty() && junit->back().outcome == reports::Outcome::kPass) {
    junit->back().outcome = reports::Outcome::kViolation;
    junit->back().violations.push_back("require_landed: " + why);
  }
  return kExitVacuous;
}

int RunOne(const std::string& path, const RunFlags& f, const Catalog& catalog,
           std::vector<reports::JunitCase>* junit, reports::ProbeCoverage* coverage) {
  if (reports::IsCatalogueFile(path)) {
    std::fprintf(stderr,
                 "faultline run: skipping %s (the failure-mode catalogue, not a "
                 "scenario)\n",
                 path.c_str());
    return kExitPass;
  }
  const std::string stem = stdfs::path(path).stem().string();
  Scenario scenario;
  if (!Load(path, f.mode, catalog, &scenario)) {
    junit->push_back(reports::JunitErrorCase(stem, stem,
                                             path +
                                                 ": not a valid scenario (exit 2); "
                                                 "faultline validate " +
                                                 path + " says why",
                                             reports::Outcome::kHarnessError));
    return kExitUsage;
  }
  if (!ApplySut(f.sut, catalog, &scenario)) return kExitUsage;
  if (SkippedOnStore(scenario, f, catalog)) return kSkippedRun;
  if (!f.store.empty()) {
    // The same scenario on the other store: validated again, since a
    // combination may become impossible (an external SUT, a network fault).
    nlohmann::json doc = scenario.doc;
    doc["store"] = f.store;
    ScenarioError error;
    if (!ParseScenario(doc.dump(), path + " (with --store " + f.store + ")", catalog, &scenario,
                       &error)) {
      std::fprintf(stderr, "faultline: %s\n", error.ToString().c_str());
      return kExitUsage;
    }
  }
  uint64_t seed =
      (f.seed >= 0 ? static_cast<uint64_t>(f.seed) : scenario.doc.value("seed", uint64_t{1})) +
      static_cast<uint64_t>(f.seed_offset);
  ResolvedScenario resolved = Resolve(scenario, catalog, seed);
  RunOptions options = MakeRunOptions(f.out, f.swarm, f.keep);
  options.progress = f.engine_progress;
  if (resolved.sut.is_null() && !stdfs::exists(options.swarm_bin)) {
    std::fprintf(stderr, "faultline: the coordinator binary %s does not exist; pass --swarm PATH\n",
                 options.swarm_bin.c_str());
    junit->push_back(reports::JunitErrorCase(
        resolved.name, stem, "the coordinator binary " + options.swarm_bin + " does not exist"));
    return kExitHarness;
  }
  RunReport report = RunScenario(resolved, catalog, options);
  AfterRun(report, resolved.name, junit);
  if (report.verdict.is_object()) coverage->Add(report.verdict, resolved.ToJson());
  if (f.progress != nullptr) f.progress->Clear();
  std::fputs(report.summary.c_str(), stdout);
  std::fflush(stdout);
  if (report.exit_code == kExitInterrupted || report.exit_code == kExitHarness) {
    return report.exit_code;
  }
  int code = report.exit_code;
  if (f.check_determinism) {
    const DeterminismCheck check = CheckDeterminism(resolved, report, [&] {
      RunOptions again = options;
      again.run_dir_suffix = "-check";
      RunReport second = RunScenario(resolved, catalog, again);
      AfterRun(second, resolved.name, nullptr);
      return second;
    });
    std::fputs(check.message.c_str(), stdout);
    code = check.exit_code;
  }
  if (f.require_landed) code = RequireLanded(report, code, junit);
  return code;
}

// The shard of this process (cli/shard.h); prints the error and returns
// false on a bad flag or bad or disagreeing variables.
bool ParseShard(const std::string& flag, Shard* shard) {
  std::string error;
  if (!ResolveShard(
          flag, [](const char* name) { return std::getenv(name); }, shard, &error)) {
    std::fprintf(stderr, "faultline run: %s\n", error.c_str());
    return false;
  }
  // GoogleTest's protocol: say that sharding is understood.
  if (const char* status = std::getenv("GTEST_SHARD_STATUS_FILE"); status && *status) {
    std::ofstream{status};
  }
  return true;
}

int RunAll(const RunFlags& f) {
  Catalog catalog = MakeCatalog();
  int code = kExitPass;
  std::vector<reports::JunitCase> junit;
  Shard shard;
  if (!ParseShard(f.shard, &shard)) return kExitUsage;
  // Run k of this invocation is run first_index + k of the suite (see --first-index).
  const int64_t runs = static_cast<int64_t>(f.scenarios.size()) * f.seeds;
  int64_t mine = 0;
  for (int64_t k = 0; k < runs; ++k) mine += InShard(shard, f.first_index + k) ? 1 : 0;
  if (shard.total > 1) {
    std::fprintf(stderr, "faultline run: shard %lld/%lld: %lld of %lld runs (from %s)\n",
                 static_cast<long long>(shard.index), static_cast<long long>(shard.total),
                 static_cast<long long>(mine), static_cast<long long>(runs), shard.source.c_str());
  }
  // Many runs: one line for the whole suite instead of one per run.
  RunFlags each = f;
  ProgressLine progress("faultline run", mine, ShowProgress() && mine > 1 && !f.dry_run);
  each.engine_progress = ShowProgress() && mine == 1;
  each.progress = &progress;
  std::map<std::string, Scenario> loaded;  // --dry-run: each file once
  reports::ProbeCoverage coverage;
  int64_t index = f.first_index, done = 0, failing = 0, skipped = 0;
  for (const std::string& path : f.scenarios) {
    for (int64_t k = 0; k < f.seeds && code != kExitInterrupted; ++k, ++index) {
      // A signal between runs, or while runs fail before they start (a
      // missing coordinator, a bad file): only a started run polls the flag.
      if (g_interrupted.load()) {
        code = Worst(code, kExitInterrupted);
        break;
      }
      if (!InShard(shard, index)) continue;
      each.seed_offset = k;
      if (f.dry_run) {
        const int one = PrintRun(path, each, catalog, &loaded);
        skipped += one == kSkippedRun ? 1 : 0;
        code = Worst(code, one == kSkippedRun ? kExitPass : one);
        continue;
      }
      progress.Update(done, failing);  // shown while the run goes on
      const int one = RunOne(path, each, catalog, &junit, &coverage);
      if (one == kSkippedRun) {
        ++skipped;
        continue;
      }
      failing += one == kExitPass ? 0 : 1;
      code = Worst(code, one);
      ++done;
      // Without --junit the cases are not needed past the run: a long
      // --seeds loop must not grow with them.
      if (f.junit.empty()) junit.clear();
    }
    if (code == kExitInterrupted) break;
  }
  progress.Clear();
  // --store over scenarios none of which can run there: nothing was tested.
  // (A shard of a suite may well hold only such runs.)
  if (skipped > 0 && done == 0 && shard.total <= 1 && !f.dry_run && code == kExitPass) {
    std::fprintf(stderr,
                 "faultline run: none of the runs given can run on --store %s (each is skipped "
                 "above, saying why); run them on their own store, without --store\n",
                 f.store.c_str());
    return kExitUsage;
  }
  if (f.dry_run) return code;
  // The suite's probe coverage: which probes no run of it reached.
  if (coverage.runs() > 1) std::printf("%s\n", coverage.Text().c_str());
  if (!f.junit.empty()) {
    std::ofstream out(f.junit, std::ios::trunc);
    out << reports::RenderJunit(junit);
    out.close();
    if (!out) {
      std::fprintf(stderr, "faultline run: cannot write the JUnit file %s\n", f.junit.c_str());
      code = Worst(code, kExitHarness);
    }
  }
  return code;
}

}  // namespace

base::Runner SetupRun(CLI::App* app) {
  auto f = std::make_shared<RunFlags>();
  app->add_option("SCENARIO", f->scenarios, "Scenario files (JSON)")->required();
  app->add_option("--seed", f->seed, "Seed of the run (default: the scenario's \"seed\")")
      ->check(SeedText());
  app->add_option("--mode", f->mode, "Override the scenario's mode")
      ->check(CLI::IsMember({"lockstep", "freerun"}));
  app->add_option("--store", f->store,
                  "Override the scenario's \"store\": fs (the shared directory) or postgres (a "
                  "database server the run starts, docs/postgres.md). A scenario that cannot "
                  "run there (an external SUT, a fault of the other store) is skipped, saying "
                  "why (docs/scenario-format.md, \"Stores\")")
      ->check(CLI::IsMember({"fs", "postgres"}));
  app->add_option("--sut", f->sut,
                  "Run against the external SUT described in this file (a \"sut\" block, see "
                  "docs/external-sut.md), or \"swarm\" for the reference coordinator")
      ->check(NonEmpty("--sut", "a SUT file or \"swarm\""));
  app->add_option("--out", f->out, "Where run directories go (default: faultline-out)");
  app->add_option("--swarm", f->swarm, "The coordinator binary (default: next to faultline)");
  app->add_flag("--keep", f->keep, "Keep the coordination directory in the run directory");
  app->add_flag("--check-determinism", f->check_determinism,
                "Run each lockstep scenario twice and fail (exit 3) if the traces differ");
  app->add_flag("--require-landed", f->require_landed,
                "Fail (exit 4, a JUnit failure) a run in which every invariant held but a fault "
                "the scenario declares never landed (a vacuous run: not a bug of the SUT, not "
                "one of the harness, but a test that tested less than it claims); for CI");
  app->add_option("--seeds", f->seeds,
                  "Runs per scenario: its seed (or --seed) and the N-1 seeds after it "
                  "(default 1)")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  app->add_option("--shard", f->shard,
                  "I/N: do only every N-th run (scenario x seed), starting at the I-th; default "
                  "from GTEST_SHARD_INDEX/GTEST_TOTAL_SHARDS, GitLab's CI_NODE_INDEX/CI_NODE_TOTAL "
                  "(1-based) or a Kubernetes Indexed Job's JOB_COMPLETION_INDEX/JOB_COMPLETIONS "
                  "(docs/ci.md). faultline report merges the shards' --out folders");
  app->add_option("--first-index", f->first_index,
                  "Index of this invocation's first run in a suite split over several "
                  "invocations, so that they shard as one (default 0)")
      ->check(CLI::NonNegativeNumber);
  app->add_flag("--dry-run", f->dry_run,
                "Print the runs this shard would do (scenario file and seed, one a line) and "
                "run none");
  app->add_option("--junit", f->junit,
                  "Also write JUnit XML here: one testcase per run, failures with the violations "
                  "and the reproduce command, errors for harness errors");
  return [f] { return RunAll(*f); };
}

}  // namespace faultline::cli
