// no_acknowledged_loss over hand-built histories: a completion acknowledged
// before a power loss and handed out again, or missing its effect at the
// end, is a violation; one acknowledged after it, or recovered from the
// ledger, is not.
#include "sim/invariants/no_acknowledged_loss.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace faultline {
namespace {

using json = nlohmann::json;

class History {
 public:
  History& Add(json e) {
    e["seq"] = seq_++;
    e["t"] = seq_ * 1000;
    checker_.Observe(TraceEvent::FromJson(std::move(e)));
    return *this;
  }
  History& Ack(const std::string& item, const std::string& agent, int token) {
    return Add({{"type", "complete_ok"}, {"item", item}, {"agent", agent}, {"token", token}});
  }
  History& Loss() { return Add({{"type", "fault"}, {"kind", "power_loss"}, {"index", 0}}); }
  History& End(json items) { return Add({{"type", "run_end"}, {"items", std::move(items)}}); }
  std::vector<Violation> Finish() {
    std::vector<Violation> out;
    checker_.Finish(&out);
    return out;
  }

 private:
  NoAcknowledgedLoss checker_;
  uint64_t seq_ = 0;
};

json Item(const std::string& id, const std::string& status, bool effect) {
  return {{"id", id}, {"status", status}, {"reason", ""}, {"effect", effect}};
}

TEST(NoAcknowledgedLossTest, EverythingAcknowledgedSurvivesThePowerLoss) {
  History h;
  h.Ack("w1", "a0", 1).Loss().Ack("w2", "a1", 2);
  h.Add({{"type", "complete_recovered"}, {"item", "w3"}});
  h.End({Item("w1", "done", true), Item("w2", "done", true)});
  EXPECT_TRUE(h.Finish().empty());
}

TEST(NoAcknowledgedLossTest, AnAcknowledgedItemHandedOutAgainIsLost) {
  History h;
  h.Ack("w1", "a0", 1).Loss();
  h.Add({{"type", "claim_ok"}, {"item", "w1"}, {"agent", "a1"}, {"token", 2}});
  h.Ack("w1", "a1", 2);
  h.End({Item("w1", "done", true)});
  std::vector<Violation> v = h.Finish();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].message.find("w1: completion acknowledged to a0 (token 1)"), std::string::npos)
      << v[0].message;
  EXPECT_NE(v[0].message.find("granted again to a1 with token 2"), std::string::npos)
      << v[0].message;
  EXPECT_EQ(v[0].evidence, (std::vector<uint64_t>{0, 1, 2}));
}

TEST(NoAcknowledgedLossTest, AnEffectGoneFromTheLedgerOrAStateRolledBackIsLost) {
  History h;
  h.Ack("w1", "a0", 1).Ack("w2", "a0", 2).Ack("w3", "a1", 3).Loss();
  h.End({Item("w1", "done", false), Item("w2", "claimed", false)});
  std::vector<Violation> v = h.Finish();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_NE(v[0].message.find("its effect is gone from the ledger"), std::string::npos);
  EXPECT_NE(v[1].message.find("claimed at the end"), std::string::npos);
  EXPECT_NE(v[2].message.find("missing from the end state"), std::string::npos);
}

TEST(NoAcknowledgedLossTest, WithoutAPowerLossThereIsNothingToJudge) {
  History h;
  h.Ack("w1", "a0", 1);
  h.Add({{"type", "claim_ok"}, {"item", "w1"}, {"agent", "a1"}, {"token", 2}});
  h.End({Item("w1", "pending", false)});
  EXPECT_TRUE(h.Finish().empty());
}

}  // namespace
}  // namespace faultline
