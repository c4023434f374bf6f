// no_lost_submission over hand-built histories: what submitters were told was
// added must be there at the end, under ids no other submitter was given.
#include "sim/invariants/no_lost_submission.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace faultline {
namespace {

using nlohmann::json;

json Ev(uint64_t seq, const char* proc, const char* type, json extra = json::object()) {
  json line = {{"seq", seq}, {"t", seq * 1000}, {"proc", proc}, {"type", type}};
  line.update(extra);
  return line;
}

json Start(uint64_t seq, int items) { return Ev(seq, "sim", "run_start", {{"items", items}}); }

json Spawn(uint64_t seq, const char* id, int items) {
  return Ev(seq, "sim", "spawn",
            {{"agent", id}, {"role", "submitter"}, {"restart", false}, {"items", items}});
}

json Reported(uint64_t seq, const char* id, std::vector<std::string> ids) {
  return Ev(seq, id, "submit_ok", {{"ids", ids}});
}

json Exit(uint64_t seq, const char* id, int code) {
  return Ev(seq, "sim", "exit", {{"agent", id}, {"role", "submitter"}, {"code", code}});
}

json Killed(uint64_t seq, const char* id) {
  return Ev(seq, "sim", "exit",
            {{"agent", id}, {"role", "submitter"}, {"signal", 9}, {"by", "crash_at"}});
}

json RunEnd(uint64_t seq, int n) {
  json items = json::array();
  for (int i = 1; i <= n; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "w%06d", i);
    items.push_back({{"id", id}, {"status", "done"}, {"reason", ""}, {"effect", true}});
  }
  return Ev(seq, "sim", "run_end", {{"items", items}});
}

std::vector<Violation> Check(const std::vector<json>& lines) {
  NoLostSubmission checker;
  for (const json& line : lines) checker.Observe(TraceEvent::FromJson(line));
  std::vector<Violation> out;
  checker.Finish(&out);
  return out;
}

TEST(NoLostSubmissionTest, TwoSubmittersWithDistinctIdsHold) {
  EXPECT_TRUE(Check({Start(0, 2), Spawn(1, "s0", 2), Spawn(2, "s1", 2),
                     Reported(3, "s0", {"w000003", "w000004"}), Exit(4, "s0", 0),
                     Reported(5, "s1", {"w000005", "w000006"}), Exit(6, "s1", 0), RunEnd(7, 6)})
                  .empty());
}

TEST(NoLostSubmissionTest, NoSubmittersNothingToJudge) {
  EXPECT_TRUE(Check({Start(0, 3), RunEnd(1, 2)}).empty());  // no_lost_work's business
}

// The defect: the second submitter counted the same items, found the ids
// taken and exited 0 having added fewer than it was asked for.
TEST(NoLostSubmissionTest, AnAcknowledgedShortSubmissionIsAViolation) {
  const auto v = Check({Start(0, 2), Spawn(1, "s0", 2), Spawn(2, "s1", 2),
                        Reported(3, "s0", {"w000003", "w000004"}), Exit(4, "s0", 0),
                        Reported(5, "s1", {}), Exit(6, "s1", 0), RunEnd(7, 4)});
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].invariant, "no_lost_submission");
  EXPECT_NE(v[0].message.find("s1 exited 0"), std::string::npos) << v[0].message;
  EXPECT_NE(v[0].message.find("added 0 of the 2"), std::string::npos) << v[0].message;
  EXPECT_EQ(v[0].evidence, (std::vector<uint64_t>{2, 5, 6}));
  EXPECT_NE(v[1].message.find("4 items at the end"), std::string::npos) << v[1].message;
  EXPECT_NE(v[1].message.find("2 submitted items were lost"), std::string::npos) << v[1].message;
}

TEST(NoLostSubmissionTest, ASystemThatReportsNoIdsIsJudgedByCount) {
  EXPECT_TRUE(Check({Start(0, 1), Spawn(1, "s0", 3), Exit(2, "s0", 0), RunEnd(3, 4)}).empty());
  const auto v = Check({Start(0, 1), Spawn(1, "s0", 3), Exit(2, "s0", 0), RunEnd(3, 2)});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].message.find("2 items at the end, but 1 were submitted at set-up and 3"),
            std::string::npos)
      << v[0].message;
}

TEST(NoLostSubmissionTest, AnIdGivenToTwoSubmittersIsAViolation) {
  const auto v = Check({Start(0, 0), Spawn(1, "s0", 1), Spawn(2, "s1", 1),
                        Reported(3, "s0", {"w000001"}), Reported(4, "s1", {"w000001"}),
                        Exit(5, "s0", 0), Exit(6, "s1", 0), RunEnd(7, 1)});
  ASSERT_GE(v.size(), 1u);
  EXPECT_NE(v[0].message.find("w000001 was reported added by s0 and by s1"), std::string::npos)
      << v[0].message;
  EXPECT_EQ(v[0].evidence, (std::vector<uint64_t>{3, 4}));
}

TEST(NoLostSubmissionTest, AnAcknowledgedIdMissingAtTheEndIsNamed) {
  const auto v = Check({Start(0, 0), Spawn(1, "s0", 2), Reported(2, "s0", {"w000001", "w000009"}),
                        Exit(3, "s0", 0), RunEnd(4, 2)});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].message.find("1 item acknowledged to s0 missing at the end: w000009"),
            std::string::npos)
      << v[0].message;
}

// A killed submitter acknowledged nothing: anything from none to all of its
// items may be there.
TEST(NoLostSubmissionTest, AKilledSubmitterMayHaveAddedSomeOrNone) {
  for (int n : {1, 2, 3, 4}) {
    EXPECT_TRUE(Check({Start(0, 1), Spawn(1, "s0", 3), Killed(2, "s0"), RunEnd(3, n)}).empty())
        << n;
  }
  const auto v = Check({Start(0, 1), Spawn(1, "s0", 3), Killed(2, "s0"), RunEnd(3, 5)});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].message.find("more than the 1 submitted at set-up"), std::string::npos)
      << v[0].message;
}

}  // namespace
}  // namespace faultline
