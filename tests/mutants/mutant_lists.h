// The three lists of the zoo's mutants that must agree, or a mutant goes
// untested while every test passes: what swarm-mutant --list reports (the
// binary's registry), FAULTLINE_MUTANTS in tests/mutants/CMakeLists.txt (one
// CTest per name, each filtering the test binary to that mutant: a name the
// binary has no case for would select no test and pass), and each test
// binary's own table of cases.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline::testing {

// FAULTLINE_MUTANTS of the CMake list, as compiled in (space-separated).
inline std::set<std::string> CtestMutants() {
  std::set<std::string> names;
  std::istringstream words(FAULTLINE_MUTANTS_LIST);
  for (std::string w; words >> w;) names.insert(w);
  return names;
}

// What `swarm-mutant --list` reports, in its order; a failed listing fails
// the calling test.
inline std::vector<std::string> BinaryMutants() {
  TempDir tmp;
  Ran ran = Run({SWARM_MUTANT_BIN, "--list"}, tmp / "list.log", std::chrono::seconds(60));
  EXPECT_TRUE(ran.exit.exited && ran.exit.code == 0) << ran.output;
  std::vector<std::string> names;
  std::istringstream lines(ran.output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

// Expects `a` and `b` to hold the same names; the failure lists what each
// lacks, by the lists' names.
inline void ExpectSameMutants(const std::set<std::string>& a, const char* a_name,
                              const std::set<std::string>& b, const char* b_name) {
  for (const std::string& m : a) {
    EXPECT_TRUE(b.count(m)) << m << " is in " << a_name << " but not in " << b_name;
  }
  for (const std::string& m : b) {
    EXPECT_TRUE(a.count(m)) << m << " is in " << b_name << " but not in " << a_name;
  }
}

}  // namespace faultline::testing
