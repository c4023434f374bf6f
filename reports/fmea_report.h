// The FMEA evidence report (DESIGN §8, docs/fmea-report.md): from the
// failure-mode catalogue and any number of run directories (one folder, or the
// output folders of many shards), per failure mode the declared S/O/D/RPN, the
// runs that exercised it, faults landed, invariants checked, detection latency
// and recovery time, the observed occurrence with its 95 % upper bound, a
// residual RPN and how it was derived, and each failing run's reproduce
// command; per run a timeline.
//
// BuildReport computes one model (the content of fmea-report.json); the
// Markdown, HTML and JUnit writers only render it, so the four files always
// agree. Output is deterministic: runs are sorted by scenario, seed and run
// id, keys are sorted, and the only wall-clock text is the `generated` string
// the caller passes in.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/fmea_catalog.h"
#include "reports/junit.h"

namespace faultline::reports {

enum class Timelines { kAuto, kAll, kFailing, kNone };

struct ReportOptions {
  std::string generated;  // the one "generated" line, e.g. a UTC time
  std::string out_dir;    // where the files go: paths in the report are relative to it
  std::vector<std::string> inputs;  // the folders given, for the record
  // Which timelines the HTML embeds: kAuto embeds all of up to kAutoTimelines
  // runs, else the failing, vacuous and errored ones plus the first run of each
  // scenario; every run's timeline.svg is linked either way.
  Timelines timelines = Timelines::kAuto;
  // Called after each run is read (done, total); for a progress line.
  std::function<void(size_t, size_t)> progress;
};

inline constexpr size_t kAutoTimelines = 60;

struct Report {
  nlohmann::json model;                        // fmea-report.json
  std::map<std::string, std::string> svgs;     // run key -> timeline, for the HTML
  std::vector<JunitCase> junit;                // junit.xml, one case per run
  std::vector<std::string> warnings;           // also in model["warnings"]
};

Report BuildReport(const FmeaCatalog& catalog, const std::vector<std::string>& run_dirs,
                   const ReportOptions& options);

std::string RenderMarkdown(const Report& report);
std::string RenderHtml(const Report& report);

// Writes fmea-report.md, fmea-report.html, fmea-report.json and junit.xml
// into `out_dir` (created if needed).
bool WriteReport(const Report& report, const std::string& out_dir, std::string* error);

}  // namespace faultline::reports
