// JUnit XML for CI (DESIGN §8): one <testcase> per run ("<scenario>-<seed>"),
// grouped into one <testsuite> per scenario. A violation is a <failure> that
// lists the violations and the reproduce command; a harness error or an
// interruption is an <error>; a bad scenario file (no run at all) is an
// <error> named after the file. Output has no timestamps or host names, so
// the same runs give the same bytes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/run_record.h"

namespace faultline::reports {

struct JunitCase {
  std::string suite;  // the scenario name (or the file, for a scenario that did not load)
  std::string name;   // the run id
  double seconds = 0;
  Outcome outcome = Outcome::kPass;
  std::vector<std::string> violations;  // "invariant: message"
  std::string error;                    // harness error / interruption / bad scenario text
  std::string reproduce;
  std::string run_dir;
  bool vacuous = false;
};

// A case from a run's verdict.json.
JunitCase JunitCaseFromVerdict(const nlohmann::json& verdict, const std::string& run_id,
                               const std::string& run_dir);

// A case for a run that produced no verdict (the scenario did not load, the
// run directory could not be made): an error with `message`.
JunitCase JunitErrorCase(const std::string& suite, const std::string& name,
                         const std::string& message, Outcome outcome = Outcome::kHarnessError);

// The document; suites in order of first appearance, cases in the order given.
std::string RenderJunit(const std::vector<JunitCase>& cases);

}  // namespace faultline::reports
