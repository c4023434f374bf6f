// Run directories as the reports read them (DESIGN §8): finding them under
// the folders given (shards' output directories, or run directories
// themselves), and loading what a report needs from each: verdict.json, the
// failure-mode ids of scenario.resolved.json, and whether explore left a
// minimal.json in it or beside it. Traces are read separately (trace_analysis.h), one at a time.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace faultline::reports {

// The four outcomes of a run (STYLE.md 5), read back from its verdict.
enum class Outcome { kPass, kViolation, kHarnessError, kInterrupted };
Outcome OutcomeOf(const nlohmann::json& verdict);
std::string_view OutcomeName(Outcome outcome);  // "pass", "violation", "harness error", ...

struct RunDir {
  std::string path;  // as found (a root given, joined with the folders below it)
  std::string id;    // its folder name, "<scenario>-<seed>"
  nlohmann::json verdict;
  std::vector<std::string> fmea;  // failure-mode ids of its resolved scenario
  nlohmann::json resolved;        // scenario.resolved.json ({} when unreadable)
  std::string minimal;  // minimal.json in the run directory or beside it (explore's --out), or ""
};

// A folder holding verdict.json is a run directory; any other folder is
// searched (4 levels deep, in name order) for run directories, never looking
// inside one (a run directory's replay/ is not another run). Paths that are no
// folder, or hold no run directory, are reported in `problems`.
std::vector<std::string> FindRunDirs(const std::vector<std::string>& roots,
                                     std::vector<std::string>* problems);

// True when `verdict` has the shape faultline run writes, as far as the
// reports and replay read it: an object with "scenario" (string) and "seed"
// (unsigned integer), and every other field they read, when present, of its
// type (strings, booleans, "stats" an object of integers, "invariants" and
// "faults" arrays of objects, evidence lists of sequence numbers). Else false
// with `error` naming the first field that is not (a JSON pointer).
bool CheckVerdict(const nlohmann::json& verdict, std::string* error);

// False (with `error`) when verdict.json is missing, no regular file, or not
// a verdict (CheckVerdict).
bool LoadRunDir(const std::string& path, RunDir* out, std::string* error);

}  // namespace faultline::reports
