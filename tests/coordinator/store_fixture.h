// A fresh coordination directory with a fake clock and a recording probe.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/fs_store.h"
#include "coordinator/fs_util.h"
#include "tests/support/recording_probe.h"
#include "tests/support/temp_dir.h"

namespace swarm {

// What every store fixture keeps: a scratch directory per store, a fake
// clock, a recording probe and the store under test. `TestBase` is
// ::testing::Test or a ::testing::TestWithParam; `StoreT` is FsStore here
// and the Store interface in backend_fixture.h.
template <class TestBase, class StoreT>
class StoreFixtureBase : public TestBase {
 protected:
  // Closes the store and makes a new scratch directory; path_ names the
  // store's directory in it, which does not exist yet.
  void NewDirectory() {
    store_.reset();
    dir_ = std::make_unique<faultline::testing::TempDir>();
    path_ = *dir_ / "swarm";
  }

  void SubmitItems(int n) {
    std::vector<std::pair<std::string, std::string>> items;
    for (int i = 1; i <= n; ++i) items.emplace_back("w" + std::to_string(i), "p");
    auto added = store_->Submit(items);
    ASSERT_TRUE(added.ok()) << added.status().ToString();
    ASSERT_EQ(*added, static_cast<size_t>(n));
  }

  AgentRecord AgentFor(const std::string& id) {
    AgentRecord a;
    a.id = id;
    a.pid = getpid();
    a.fingerprint = Fingerprint(ClusterConfig{});
    a.registered_us = a.heartbeat_us = clock_.NowMicros();
    return a;
  }

  FakeClock clock_;
  faultline::testing::RecordingProbe probe_;
  std::unique_ptr<faultline::testing::TempDir> dir_;
  std::string path_;
  std::unique_ptr<StoreT> store_;
};

class StoreFixture : public StoreFixtureBase<::testing::Test, FsStore> {
 protected:
  void SetUp() override { Reopen(ClusterConfig{}); }

  // Re-initialises the directory with `config`.
  void Reopen(const ClusterConfig& config) {
    NewDirectory();
    ASSERT_TRUE(FsStore::Init(path_, config).ok());
    store_ = OpenStore();
  }

  std::unique_ptr<FsStore> OpenStore() {
    auto store = FsStore::Open(path_, &clock_, &probe_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  ItemState Item(const std::string& id) {
    auto text = fs::ReadFile(path_ + "/items/" + id + ".json");
    EXPECT_TRUE(text.ok()) << id;
    auto s = ItemFromJson(text.ok() ? *text : "", id);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : ItemState{};
  }

  size_t Count(const std::string& sub) {
    return faultline::testing::CountEntries(path_ + "/" + sub);
  }
};

}  // namespace swarm
