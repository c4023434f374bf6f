// Percentiles, binomial bounds and the FMEA scale maps. Pure functions of
// their inputs: the same evidence always gives the same figures.
#include "reports/fmea_scales.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace faultline::reports {

std::optional<int64_t> Percentile(std::vector<int64_t> samples, double p) {
  if (samples.empty()) return std::nullopt;
  std::sort(samples.begin(), samples.end());
  double rank = std::ceil(p / 100.0 * static_cast<double>(samples.size()));
  size_t index = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(samples.size()))) - 1;
  return samples[index];
}

double BinomialCdf(int64_t k, int64_t n, double p) {
  if (k >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  double sum = 0;
  const double lp = std::log(p), lq = std::log1p(-p);
  for (int64_t i = 0; i <= k; ++i) {
    double log_term = std::lgamma(static_cast<double>(n) + 1) -
                      std::lgamma(static_cast<double>(i) + 1) -
                      std::lgamma(static_cast<double>(n - i) + 1) +
                      static_cast<double>(i) * lp + static_cast<double>(n - i) * lq;
    sum += std::exp(log_term);
  }
  return std::min(sum, 1.0);
}

UpperBound OccurrenceUpperBound(int64_t failures, int64_t runs) {
  if (runs <= 0) return {1, "no runs"};
  if (failures <= 0) return {std::min(1.0, 3.0 / static_cast<double>(runs)), "rule of three"};
  if (failures >= runs) return {1, "Clopper-Pearson"};
  // The p at which seeing `failures` or fewer has probability 5 %; the CDF
  // falls as p grows, so bisect.
  double lo = static_cast<double>(failures) / static_cast<double>(runs), hi = 1;
  for (int i = 0; i < 100; ++i) {
    double mid = (lo + hi) / 2;
    (BinomialCdf(failures, runs, mid) > 0.05 ? lo : hi) = mid;
  }
  // Round up at 1e-9 so the printed figures do not depend on the last bits.
  return {std::ceil(hi * 1e9) / 1e9, "Clopper-Pearson"};
}

int OccurrenceScore(double u) {
  const double limits[] = {1e-1, 5e-2, 2e-2, 1e-2, 2e-3, 5e-4, 1e-4, 1e-5, 1e-6};
  int score = 10;
  for (double limit : limits) {
    if (u >= limit) return score;
    --score;
  }
  return 1;
}

Score DetectionScore(const DetectionInputs& in) {
  if (in.invariants_named == 0) {
    return {10, "no invariant detects this mode: a failure would go unnoticed"};
  }
  if (!in.some_checked) return {10, "none of its invariants was checked in the runs counted"};
  if (!in.all_checked) {
    return {5, "its invariants were checked in only some of the runs counted"};
  }
  if (in.detected) {
    return {2, "every run checked all its invariants, and they reported a violation: detection "
               "demonstrated"};
  }
  return {3, "every run checked all its invariants over the whole history; none fired"};
}

double DetectionLowerBound(int64_t successes, int64_t runs) {
  if (runs <= 0 || successes <= 0) return 0;
  if (successes >= runs) return std::pow(0.05, 1.0 / static_cast<double>(runs));
  // The p at which P(X >= successes) = 0.05; P(X >= k) grows with p.
  double lo = 0, hi = 1;
  for (int i = 0; i < 100; ++i) {
    const double mid = (lo + hi) / 2;
    if (1 - BinomialCdf(successes - 1, runs, mid) < 0.05) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

int MeasuredDetectionScore(double lower_bound) {
  static constexpr std::pair<double, int> kScale[] = {
      {0.99, 1}, {0.95, 2}, {0.90, 3}, {0.80, 4}, {0.65, 5},
      {0.50, 6}, {0.35, 7}, {0.20, 8}};
  for (const auto& [at_least, score] : kScale) {
    if (lower_bound >= at_least) return score;
  }
  return lower_bound > 0 ? 9 : 10;
}

Score SeverityScore(std::optional<int> published, const std::string& label) {
  if (published) return {*published, "published S"};
  static const std::map<std::string, int> kLabels = {
      {"Critical", 9}, {"High", 7},    {"Medium-High", 6}, {"Medium", 5}, {"Low-Medium", 4},
      {"Low", 3},      {"SEV-1", 10},  {"SEV-2", 8},       {"SEV-3", 6}};
  if (auto it = kLabels.find(label); it != kLabels.end()) {
    return {it->second, fmt::format("from the published severity \"{}\"", label)};
  }
  return {10, "no published severity: assumed 10 (worst)"};
}

}  // namespace faultline::reports
