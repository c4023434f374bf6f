// What each process holds at a point of the history (reports/holdings.h):
// grants from claim_ok to what ends them for their holder, superseded grants
// still held by an agent that does not know yet, a dead holder's grants.
#include "reports/holdings.h"

#include <gtest/gtest.h>

#include <string>

namespace faultline::reports {
namespace {

class HoldingsTest : public ::testing::Test {
 protected:
  void Line(nlohmann::json line) {
    line["seq"] = seq_++;
    if (!line.contains("proc")) line["proc"] = line.value("agent", "sim");
    holdings_.Observe(TraceEvent::FromJson(line));
  }
  void Claim(const std::string& agent, const std::string& item, int token, int64_t t = 0) {
    Line({{"type", "claim_ok"},
          {"agent", agent},
          {"item", item},
          {"token", token},
          {"t", t},
          {"now_us", t + 1'000'000},
          {"lease_until_us", t + 3'000'000}});
  }
  std::string Held(const std::string& agent) const {
    std::string out;
    for (const HeldClaim& c : holdings_.Of(agent)) {
      out += (out.empty() ? "" : " ") + c.item + "/" + std::to_string(c.token);
      if (c.superseded_seq != 0) out += "(superseded by " + c.superseded_by + ")";
      if (c.orphaned) out += "(orphaned)";
    }
    return out;
  }

  Holdings holdings_;
  uint64_t seq_ = 0;
};

TEST_F(HoldingsTest, AGrantIsHeldUntilItsHolderEndsIt) {
  Claim("a1", "w1", 1, 500'000);
  Claim("a1", "w2", 1);
  EXPECT_EQ(Held("a1"), "w1/1 w2/1");
  EXPECT_EQ(holdings_.Of("a1")[0].lease_until_us, 2'500'000) << "on the run's time line";
  Line({{"type", "complete_ok"}, {"agent", "a1"}, {"item", "w1"}, {"token", 1}});
  Line({{"type", "release"}, {"agent", "a1"}, {"item", "w2"}, {"token", 1}});
  EXPECT_EQ(Held("a1"), "");
  EXPECT_TRUE(holdings_.Holders().empty());
}

TEST_F(HoldingsTest, ATakenOverGrantStaysHeldAsSupersededUntilTheAgentLearns) {
  Claim("a3", "w17", 1);
  Line({{"type", "takeover"}, {"agent", "a2"}, {"item", "w17"}, {"owner", "a3"}, {"token", 1}});
  Claim("a2", "w17", 2);
  EXPECT_EQ(Held("a3"), "w17/1(superseded by a2)");
  EXPECT_EQ(Held("a2"), "w17/2");
  Line({{"type", "complete_rejected"}, {"agent", "a3"}, {"item", "w17"}, {"token", 1}});
  EXPECT_EQ(Held("a3"), "");
  EXPECT_EQ(Held("a2"), "w17/2");
}

TEST_F(HoldingsTest, ADeadHoldersGrantStandsUntilTheCoordinatorEndsIt) {
  Claim("a8", "w110", 1);
  Claim("a8", "w111", 1);
  Line({{"type", "exit"}, {"proc", "sim"}, {"agent", "a8"}, {"signal", 9}});
  EXPECT_EQ(Held("a8"), "w110/1(orphaned) w111/1(orphaned)");
  Line({{"type", "lease_expired"},
        {"proc", "reaper"},
        {"by", "reaper"},
        {"item", "w110"},
        {"owner", "a8"},
        {"token", 1}});
  Claim("a4", "w111", 2);  // a new grant: the dead holder's is nobody's now
  EXPECT_EQ(Held("a8"), "");
  EXPECT_EQ(holdings_.Holders(), std::vector<std::string>{"a4"});
}

TEST_F(HoldingsTest, HoldersAreInNaturalOrder) {
  Claim("a10", "w1", 1);
  Claim("a2", "w2", 1);
  Claim("reaper", "w3", 1);
  EXPECT_EQ(holdings_.Holders(), (std::vector<std::string>{"a2", "a10", "reaper"}));
}

}  // namespace
}  // namespace faultline::reports
