#include "cli/cli_support.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/bounded_read.h"
#include "faults/registry.h"
#include "reports/timeline_svg.h"
#include "sim/invariants/registry.h"
#include "sim/json_diagnostics.h"
#include "sim/sut/external_sut.h"
#include "sim/sut/systems.h"

namespace faultline::cli {
namespace {

namespace stdfs = std::filesystem;

void OnSignal(int) { g_interrupted.store(true); }

}  // namespace

std::atomic<bool> g_interrupted{false};

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

CLI::Validator SeedText() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.size() <= 19 &&
                            text.find_first_not_of("0123456789") == std::string::npos;
        if (digits && (text.size() < 19 || text <= "9223372036854775807")) return "";
        return "a seed is a decimal integer from 0 to 9223372036854775807; found \"" + text + "\"";
      },
      "SEED");
}

CLI::Validator NonEmpty(const std::string& flag, const std::string& what) {
  return CLI::Validator(
      [flag, what](std::string& text) -> std::string {
        if (!text.empty()) return "";
        return flag + " \"\": expected " + what + " (is the variable that should hold it unset?)";
      },
      "");
}

Catalog MakeCatalog() { return Catalog{faults::AllFaults(), CoreInvariants(), &sut::Systems()}; }

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
  // A vacuous run (exit 4) proves less than a pass but found no bug, so a
  // violation elsewhere outranks it.
  auto rank = [](int c) {
    switch (c) {
      case kExitPass:
        return 0;
      case kExitVacuous:
        return 1;
      case kExitViolation:
        return 2;
      case kExitHarness:
        return 3;
      case kExitUsage:
        return 4;
      case kExitInterrupted:
        return 5;
    }
    return 3;  // an unknown code counts as a harness error
  };
  return rank(a) >= rank(b) ? a : b;
}

bool Load(const std::string& path, const std::string& mode, const Catalog& catalog, Scenario* out) {
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
    base::Result<std::string> text = base::ReadRegularFile(flag, kMaxScenarioBytes);
    if (!text.ok()) {
      std::fprintf(stderr, "faultline: --sut %s: cannot read the SUT file: %s\n", flag.c_str(),
                   text.status().message().c_str());
      return false;
    }
    nlohmann::json block;
    if (diag::Check problem = diag::ParseDocument(*text, &block)) {
      std::fprintf(stderr, "faultline: %s: %s\n", flag.c_str(), problem->message.c_str());
      return false;
    }
    if (block.is_object() && block.size() == 1 && block.contains("sut")) block = block["sut"];
    if (!block.is_object()) {
      std::fprintf(stderr,
                   "faultline: %s: expected a JSON object: a \"sut\" block (see "
                   "docs/external-sut.md)\n",
                   flag.c_str());
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

RunOptions MakeRunOptions(const std::string& out, const std::string& swarm_flag, bool keep) {
  RunOptions o;
  o.out_dir = out;
  o.swarm_bin = FindSwarm(swarm_flag);
  o.keep = keep;
  o.progress = ShowProgress();
  o.interrupted = &g_interrupted;
  return o;
}

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

}  // namespace faultline::cli
