// The arithmetic behind the FMEA evidence figures (docs/fmea-report.md says
// the same for readers): percentiles, the 95 % upper bound on an observed
// failure rate, and the maps from evidence onto the 1-10 FMEA scales.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace faultline::reports {

// Nearest-rank percentile (p in (0, 100]) of unsorted samples; none if empty.
std::optional<int64_t> Percentile(std::vector<int64_t> samples, double p);

struct UpperBound {
  double value = 1;    // one-sided 95 % upper bound on the failure probability
  std::string method;  // "rule of three" | "Clopper-Pearson"
};
// `failures` failing runs out of `runs` (> 0): 0 failures give min(1, 3/n);
// otherwise the exact Clopper-Pearson one-sided 95 % bound.
UpperBound OccurrenceUpperBound(int64_t failures, int64_t runs);

// The probability that Binomial(n, p) <= k.
double BinomialCdf(int64_t k, int64_t n, double p);

// O': the occurrence scale of the AIAG PFMEA manual (4th edition) applied to
// the upper bound: >= 1/10 -> 10, 1/20 -> 9, 1/50 -> 8, 1/100 -> 7, 1/500 -> 6,
// 1/2,000 -> 5, 1/10,000 -> 4, 1/100,000 -> 3, 1/1,000,000 -> 2, below -> 1.
int OccurrenceScore(double upper_bound);

// D': how well faultline's invariants detect the mode in the runs counted.
struct DetectionInputs {
  int invariants_named = 0;     // the mode's invariants
  bool all_checked = false;     // every counted run checked all of them
  bool some_checked = false;    // some counted run checked at least one
  bool detected = false;        // one of them reported a violation in a counted run
};
struct Score {
  int value = 10;
  std::string basis;  // one line: why this value
};
Score DetectionScore(const DetectionInputs& in);

// The exact Clopper-Pearson one-sided 95 % lower bound on a success
// probability: `successes` of `runs` (> 0). 0 successes give 0; n of n give
// 0.05^(1/n).
double DetectionLowerBound(int64_t successes, int64_t runs);

// D' measured: the AIAG detection scale (1 almost certain .. 10 absolute
// uncertainty) read as a probability that one run detects a present failure,
// applied to the lower bound: >= 0.99 -> 1, 0.95 -> 2, 0.90 -> 3, 0.80 -> 4,
// 0.65 -> 5, 0.50 -> 6, 0.35 -> 7, 0.20 -> 8, above 0 -> 9, 0 -> 10.
int MeasuredDetectionScore(double lower_bound);

// S for the residual RPN: the published S, else the published severity label
// mapped (Critical 9, High 7, Medium-High 6, Medium 5, Low-Medium 4, Low 3,
// SEV-1 10, SEV-2 8, SEV-3 6), else 10 (assumed worst).
Score SeverityScore(std::optional<int> published, const std::string& label);

}  // namespace faultline::reports
