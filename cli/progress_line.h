// The one-line progress display of long commands (run over many scenarios,
// report over many run directories): how many done of how many, failures so
// far, and the time left at the pace so far, redrawn in place on stderr.
// Drawn only when stderr is a terminal and CI is not set (ShowProgress in
// cli_support.h); otherwise every call does nothing, so logs stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace faultline::cli {

// "run: 12/96 done, 1 failing, 3m20s left"; `failures` < 0 leaves that part
// out; the time left is shown once something is done.
std::string ProgressText(const std::string& what, int64_t done, int64_t total, int64_t failures,
                         double elapsed_s);

// "45s", "3m20s", "2h05m".
std::string Duration(double seconds);

class ProgressLine {
 public:
  ProgressLine(std::string what, int64_t total, bool enabled);
  ~ProgressLine();  // ends the line
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Redraws the line with `done` of the total finished.
  void Update(int64_t done, int64_t failures = -1);
  // Wipes the line, so that other output starts on a clean line; the next
  // Update draws it again.
  void Clear();

 private:
  std::string what_;
  int64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace faultline::cli
