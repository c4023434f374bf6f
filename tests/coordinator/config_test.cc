#include "coordinator/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace swarm {
namespace {

TEST(ConfigTest, FingerprintIsStableAndCoversEverySetting) {
  ClusterConfig base;
  EXPECT_EQ(Fingerprint(base), Fingerprint(ClusterConfig{}));
  EXPECT_EQ(Fingerprint(base).size(), 16u);
  std::vector<ClusterConfig> changed(6, base);
  changed[0].schema_version = 2;
  changed[1].lease_ms = 3001;
  changed[2].heartbeat_ms = 501;
  changed[3].reap_interval_ms = 1001;
  changed[4].agent_timeout_ms = 3001;
  changed[5].max_attempts = 6;
  for (const ClusterConfig& c : changed) {
    EXPECT_NE(Fingerprint(c), Fingerprint(base)) << ToJson(c).dump();
  }
}

TEST(ConfigTest, JsonRoundTrip) {
  ClusterConfig c;
  c.lease_ms = 1234;
  c.max_attempts = 9;
  auto back = ConfigFromJson(ToJson(c), "x");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, c);
}

TEST(ConfigTest, RejectsUnknownKeysAndBadValuesNamingThem) {
  auto unknown = ConfigFromJson({{"lease_msec", 10}}, "cfg.json");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("cfg.json: unknown setting \"lease_msec\""),
            std::string::npos)
      << unknown.status().message();
  auto negative = ConfigFromJson({{"lease_ms", -5}}, "cfg.json");
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.status().message().find("\"lease_ms\" is -5"), std::string::npos);
  auto text = ConfigFromJson({{"max_attempts", "5"}}, "cfg.json");
  EXPECT_FALSE(text.ok());
  EXPECT_FALSE(ConfigFromJson(nlohmann::json::array(), "cfg.json").ok());
}

TEST(ConfigTest, LoadsFileWithCommentsAndDescribesDifferences) {
  faultline::testing::TempDir dir;
  std::ofstream(dir / "c.json") << "{ // lease for slow agents\n \"lease_ms\": 9000 }";
  auto c = LoadConfigFile(dir / "c.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->lease_ms, 9000);
  EXPECT_EQ(DescribeDifference(*c, ClusterConfig{}), "lease_ms 9000 vs 3000");
  EXPECT_EQ(DescribeDifference(ClusterConfig{}, ClusterConfig{}), "no difference");
  EXPECT_EQ(LoadConfigFile(dir / "missing.json").status().code(), Status::Code::kNotFound);
}

TEST(ConfigTest, ClusterTextRoundTripsInEachFormatAndOnlyInItsOwn) {
  ClusterConfig c;
  c.lease_ms = 4321;
  const std::string file = ClusterText(c, kClusterFile);
  const std::string record = ClusterText(c, kClusterRecord);
  // A file a person reads, a record on one line; the format names the store.
  EXPECT_EQ(file.back(), '\n');
  EXPECT_NE(file.find("\n  \"format\": \"swarm-coordination-dir\""), std::string::npos) << file;
  EXPECT_EQ(record.find('\n'), std::string::npos) << record;
  EXPECT_NE(record.find("\"format\":\"swarm-cluster\""), std::string::npos) << record;
  for (const auto& [text, format] : {std::pair{file, kClusterFile}, {record, kClusterRecord}}) {
    auto back = ParseCluster(text, format, "here");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, c);
  }
  auto crossed = ParseCluster(record, kClusterFile, "DIR/cluster.json");
  EXPECT_EQ(crossed.status().code(), Status::Code::kCorrupt);
  EXPECT_EQ(crossed.status().message(), "DIR/cluster.json: not a swarm cluster file");
  crossed = ParseCluster(file, kClusterRecord, "meta.cluster");
  EXPECT_EQ(crossed.status().message(), "meta.cluster: not a swarm cluster record");
  EXPECT_EQ(ParseCluster("{", kClusterFile, "f").status().code(), Status::Code::kCorrupt);
}

TEST(ConfigTest, ClusterTextWhoseSettingsDoNotMatchItsFingerprintIsCorrupt) {
  nlohmann::json j = nlohmann::json::parse(ClusterText(ClusterConfig{}, kClusterRecord));
  j["config"]["lease_ms"] = 1;
  auto tampered = ParseCluster(j.dump(), kClusterRecord, "meta.cluster");
  EXPECT_EQ(tampered.status().code(), Status::Code::kCorrupt);
  EXPECT_EQ(tampered.status().message(), "meta.cluster: fingerprint does not match its settings");
  j = nlohmann::json::parse(ClusterText(ClusterConfig{}, kClusterRecord));
  j["config"]["lease_msx"] = 1;
  tampered = ParseCluster(j.dump(), kClusterRecord, "meta.cluster");
  EXPECT_EQ(tampered.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(tampered.status().message().find("unknown setting \"lease_msx\""), std::string::npos);
}

}  // namespace
}  // namespace swarm
