// honest_outcome over hand-built histories: dead letters judged by failed
// grants (not releases), and recorded effects that must end done.
#include "sim/invariants/honest_outcome.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace faultline {
namespace {

using nlohmann::json;

json Ev(uint64_t seq, const char* type, json extra = json::object()) {
  json line = {{"seq", seq}, {"t", seq * 1000}, {"proc", "sim"}, {"type", type}};
  line.update(extra);
  return line;
}

json Start(uint64_t seq, int max_attempts) {
  return Ev(seq, "run_start", {{"max_attempts", max_attempts}, {"items", 1}});
}

json Claim(uint64_t seq, int64_t token) {
  return Ev(seq, "claim_ok", {{"proc", "a0"}, {"item", "w1"}, {"agent", "a0"}, {"token", token}});
}

json Release(uint64_t seq, int64_t token) {
  return Ev(seq, "release", {{"proc", "a0"}, {"item", "w1"}, {"agent", "a0"}, {"token", token}});
}

json Expiry(uint64_t seq, const char* type, int64_t token) {
  return Ev(seq, type, {{"proc", "reaper"}, {"item", "w1"}, {"by", "reaper"}, {"owner", "a0"},
                        {"token", token}, {"reason", "lease expired"}});
}

json RunEnd(uint64_t seq, const char* status, bool effect) {
  return Ev(seq, "run_end", {{"items", json::array({{{"id", "w1"}, {"status", status},
                                                     {"reason", "why"}, {"effect", effect}}})}});
}

std::vector<Violation> Check(const std::vector<json>& lines) {
  HonestOutcome checker;
  for (const json& line : lines) checker.Observe(TraceEvent::FromJson(line));
  std::vector<Violation> out;
  checker.Finish(&out);
  return out;
}

TEST(HonestOutcomeTest, ADeadLetterAfterMaxAttemptsFailedGrantsHolds) {
  EXPECT_TRUE(Check({Start(0, 3), Claim(1, 1), Expiry(2, "lease_expired", 1), Claim(3, 2),
                     Expiry(4, "takeover", 2), Claim(5, 3), Expiry(6, "dead_letter", 3),
                     RunEnd(7, "dead", false)})
                  .empty());
}

TEST(HonestOutcomeTest, ReleasesDoNotCountAsFailures) {
  const auto v = Check({Start(0, 3), Claim(1, 1), Release(2, 1), Claim(3, 2), Release(4, 2),
                        Claim(5, 3), Release(6, 3), Claim(7, 4), Expiry(8, "dead_letter", 4),
                        RunEnd(9, "dead", false)});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].invariant, "honest_outcome");
  EXPECT_NE(v[0].message.find("w1 dead-lettered by reaper after 1 failed grant (max_attempts 3)"),
            std::string::npos)
      << v[0].message;
  EXPECT_EQ(v[0].evidence, (std::vector<uint64_t>{8}));
}

TEST(HonestOutcomeTest, AGrantWithoutClaimOkStillCountsWhenItExpires) {
  // The holder died after the state write, before its claim_ok was sent.
  EXPECT_TRUE(Check({Start(0, 2), Expiry(1, "lease_expired", 1), Expiry(2, "dead_letter", 2),
                     RunEnd(3, "dead", false)})
                  .empty());
}

TEST(HonestOutcomeTest, AMidRunLowerMaxAttemptsIsTheBound) {
  json drift = Ev(1, "fault", {{"kind", "config_drift"}, {"setting", "max_attempts"}, {"value", 1}});
  EXPECT_TRUE(Check({Start(0, 5), drift, Claim(2, 1), Expiry(3, "dead_letter", 1),
                     RunEnd(4, "dead", false)})
                  .empty());
}

TEST(HonestOutcomeTest, ARecordedEffectMustEndDone) {
  EXPECT_TRUE(Check({Start(0, 3), RunEnd(1, "done", true)}).empty());
  for (const char* status : {"pending", "dead", "claimed"}) {
    const auto v = Check({Start(0, 3), RunEnd(1, status, true)});
    ASSERT_EQ(v.size(), 1u) << status;
    EXPECT_EQ(v[0].message,
              std::string("w1 has its effect in the ledger but ends ") + status + " (why)");
    EXPECT_EQ(v[0].evidence, (std::vector<uint64_t>{1}));
  }
  EXPECT_TRUE(Check({Start(0, 3), RunEnd(1, "pending", false)}).empty());
}

}  // namespace
}  // namespace faultline
