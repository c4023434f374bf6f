#include "coordinator/records.h"

#include <gtest/gtest.h>

namespace swarm {
namespace {

TEST(RecordsTest, ItemRoundTrip) {
  ItemState s{"w1", ItemStatus::kClaimed, 7, "a1", 123456, 2, "", "data"};
  auto back = ItemFromJson(ToJson(s).dump(), "items/w1.json");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, "w1");
  EXPECT_EQ(back->status, ItemStatus::kClaimed);
  EXPECT_EQ(back->token, 7);
  EXPECT_EQ(back->owner, "a1");
  EXPECT_EQ(back->lease_until_us, 123456);
  EXPECT_EQ(back->attempts, 2);
  EXPECT_EQ(back->payload, "data");
}

TEST(RecordsTest, TornOrForeignItemFilesAreCorrupt) {
  ItemState s{"w1", ItemStatus::kPending, 0, "", 0, 0, "", ""};
  std::string text = ToJson(s).dump();
  for (size_t cut : {size_t{0}, size_t{1}, text.size() / 2, text.size() - 1}) {
    auto r = ItemFromJson(text.substr(0, cut), "items/w1.json");
    ASSERT_FALSE(r.ok()) << cut;
    EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
    EXPECT_NE(r.status().message().find("items/w1.json"), std::string::npos);
  }
  nlohmann::json j = ToJson(s);
  j["status"] = "sleeping";
  EXPECT_EQ(ItemFromJson(j.dump(), "f").status().code(), Status::Code::kCorrupt);
  j = ToJson(s);
  j.erase("token");
  auto missing = ItemFromJson(j.dump(), "f");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("\"token\""), std::string::npos);
  j = ToJson(s);
  j["id"] = "../etc";
  EXPECT_FALSE(ItemFromJson(j.dump(), "f").ok());
}

TEST(RecordsTest, AgentAndEffectRoundTrip) {
  AgentRecord a{"a1", AgentStatus::kAlive, 42, "ffff", 10, 20, {"w1"}, ""};
  auto back = AgentFromJson(ToJson(a).dump(), "agents/a1.json");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->holding, std::vector<std::string>{"w1"});
  EXPECT_EQ(back->pid, 42);
  Effect e{"w1", "a1", 3, 99, "ok"};
  auto eb = EffectFromJson(ToJson(e).dump(), "ledger/w1.json");
  ASSERT_TRUE(eb.ok());
  EXPECT_EQ(eb->token, 3);
  EXPECT_FALSE(EffectFromJson("{\"item\":\"w1\"}", "l").ok());
}

TEST(RecordsTest, ValidIds) {
  EXPECT_TRUE(IsValidId("w000001"));
  EXPECT_TRUE(IsValidId("agent-7.b_c"));
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId(".hidden"));
  EXPECT_FALSE(IsValidId("-flag"));
  EXPECT_FALSE(IsValidId("a/b"));
  EXPECT_FALSE(IsValidId("@agent"));
  EXPECT_FALSE(IsValidId(std::string(129, 'a')));
}

}  // namespace
}  // namespace swarm
