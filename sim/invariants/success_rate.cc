#include "sim/invariants/success_rate.h"

#include <fmt/format.h>

#include <optional>
#include <string>
#include <vector>

#include "sim/invariants/checker_support.h"
#include "sim/option_check.h"

namespace faultline {

namespace {

// part / whole as a percentage with one decimal, rounded down (`up` false)
// or up, so that a rate on the wrong side of a threshold never reads as the
// threshold itself: 79.96 % is "79.9%", not "80.0%".
std::string Percent(int64_t part, int64_t whole, bool up) {
  const int64_t per_mille = (part * 1000 + (up ? whole - 1 : 0)) / whole;
  return fmt::format("{}.{}%", per_mille / 10, per_mille % 10);
}

std::vector<uint64_t> Evidence(std::optional<uint64_t> first, std::optional<uint64_t> end) {
  std::vector<uint64_t> evidence;
  if (first) evidence.push_back(*first);
  if (end && end != first) evidence.push_back(*end);
  return evidence;
}

}  // namespace

std::vector<OptionSpec> SuccessRate::Options() {
  OptionSpec min_samples;
  min_samples.name = "min_samples";
  min_samples.default_value = 20;
  min_samples.min = 1;
  min_samples.help = "claim attempts (operations) a rate needs before it is judged";
  return {min_samples};
}

SuccessRate::SuccessRate() : SuccessRate(DefaultOptions(Options())) {}

SuccessRate::SuccessRate(const nlohmann::json& options)
    : min_samples_(options.at("min_samples").get<int64_t>()) {}

void SuccessRate::Observe(const TraceEvent& event) {
  const std::string& type = event.type;
  if (type == "claim_ok") {
    ++claim_ok_;
  } else if (type == "claim_contended") {
    ++contended_;
    if (!first_contended_) first_contended_ = event.seq;
  } else if (type == "renew_ok") {
    ++renew_ok_;
  } else if (type == "complete_ok") {
    ++complete_ok_;
  } else if (type == "lock_timeout") {
    ++lock_timeout_;
    if (!first_timeout_) first_timeout_ = event.seq;
  }
  if (type == "run_end") run_end_seq_ = event.seq;
  if (type == "run_start") {
    min_success_percent_ =
        checker::SloBound(event, &ScenarioSettings::slo_min_claim_success_percent);
    max_timeout_percent_ = checker::SloBound(event, &ScenarioSettings::slo_max_lock_timeout_percent);
  }
  last_seq_ = event.seq;
}

void SuccessRate::Finish(std::vector<Violation>* out) {
  // The verdicts are over the whole run: the run_end, or in a truncated
  // history the last event, stands for it.
  const std::optional<uint64_t> end = run_end_seq_ ? run_end_seq_ : last_seq_;

  const int64_t attempts = claim_ok_ + contended_;
  if (attempts >= min_samples_) {
    const char* severity = nullptr;
    int64_t bound = 0;
    if (claim_ok_ * 100 < attempts * kSev2SuccessPercent) {
      severity = "SEV-2";
      bound = kSev2SuccessPercent;
    } else if (claim_ok_ * 100 < attempts * min_success_percent_) {
      severity = "SEV-3";
      bound = min_success_percent_;
    }
    if (severity != nullptr) {
      out->push_back(
          {kName,
           fmt::format("{}: claim success rate {} is below {}% ({} of {} claim attempts got an "
                       "item; {} lost every race)",
                       severity, Percent(claim_ok_, attempts, /*up=*/false), bound, claim_ok_,
                       attempts, contended_),
           Evidence(first_contended_, end)});
    }
  }

  const int64_t operations = claim_ok_ + renew_ok_ + complete_ok_ + lock_timeout_;
  if (operations >= min_samples_ && lock_timeout_ * 100 > operations * max_timeout_percent_) {
    out->push_back(
        {kName,
         fmt::format("SEV-3: lock timeout rate {} is above {}% ({} of {} operations gave up "
                     "waiting for a lock; {} claims, {} renewals and {} completions succeeded)",
                     Percent(lock_timeout_, operations, /*up=*/true), max_timeout_percent_,
                     lock_timeout_, operations, claim_ok_, renew_ok_, complete_ok_),
         Evidence(first_timeout_, end)});
  }
}

}  // namespace faultline
