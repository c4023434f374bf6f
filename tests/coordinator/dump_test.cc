// `swarm dump DIR` on the fs backend prints exactly what faultline's
// reference SUT computes as the end state of a run (sim/sut/reference_sut.cc),
// also for the damaged and unfinished states a run can end in, so that the
// harness may read the end state of either backend through the tool.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "coordinator/fs_store.h"
#include "sim/sut/reference_sut.h"
#include "tests/support/recording_probe.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace swarm {
namespace {

class NoHost final : public faultline::SutHost {
 public:
  int64_t SutClock() const override { return 0; }
  void Emit(nlohmann::json) override {}
  bool RunProgram(const std::vector<std::string>&, const std::string&,
                  faultline::ExitStatus*, std::string* error) override {
    *error = "not here";
    return false;
  }
  uint64_t AgentSeed(const std::string&) const override { return 0; }
  nlohmann::json Settings() const override { return nlohmann::json::object(); }
};

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(SwarmDumpTest, TheFsDumpIsTheReferenceSutsEndState) {
  faultline::testing::TempDir tmp;
  const std::string dir = tmp / "coord";
  ASSERT_TRUE(FsStore::Init(dir, ClusterConfig{}).ok());
  FakeClock clock;
  faultline::testing::RecordingProbe probe;
  auto store = FsStore::Open(dir, &clock, &probe);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Submit({{"a", ""}, {"b", ""}, {"c", ""}, {"d", ""}, {"e", ""}}).ok());
  auto done = (*store)->Claim("a", "x");
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE((*store)->Complete(*done, "r").ok());
  ASSERT_TRUE((*store)->Claim("b", "x").ok());  // left claimed
  Write(dir + "/items/c.json", "{torn");         // unreadable
  Write(dir + "/items/d.json", "{\"id\": \"d\"}");  // no status
  Write(dir + "/items/notes.txt", "not an item");
  Write(dir + "/locks/e.lock", "");
  Write(dir + "/tmp/left.tmp", "x");
  Write(dir + "/ledger/b.json", "{}");  // an effect of the claimed item

  faultline::ResolvedScenario scenario;
  faultline::sut::ReferenceSut sut(scenario, {dir, tmp.path(), tmp.path(), SWARM_BIN, ""});
  NoHost host;
  const nlohmann::json expected = sut.EndState(host);
  auto ran = faultline::testing::Run({SWARM_BIN, "dump", dir}, tmp / "dump.log");
  ASSERT_TRUE(ran.exit.exited && ran.exit.code == 0) << ran.output;
  EXPECT_EQ(nlohmann::json::parse(ran.output), expected) << ran.output;
  EXPECT_EQ(expected["completed"], false);
  EXPECT_EQ(expected["locks"], 1);
  auto direct = (*store)->EndState();
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(*direct, expected);
}

}  // namespace
}  // namespace swarm
