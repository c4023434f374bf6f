// A fresh store on either backend with a fake clock and a recording probe,
// for the tests of the Store contract that every backend must keep.
//
// The PostgreSQL server is one per test binary (SharedPgServer), started at
// the first use; each store gets a schema of its own on it, so tests do not
// see each other's rows. Test binaries that use it run as one CTest each, so
// the server starts once per binary, not once per test.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "coordinator/store_open.h"
#include "tests/coordinator/pg_server.h"
#include "tests/coordinator/store_fixture.h"

namespace swarm {

enum class BackendKind { kFs, kPostgres };

// A real (not simulated) clock `offset_us` away from the wall clock: an agent
// host whose clock is wrong by that much.
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(int64_t offset_us) : offset_us_(offset_us) {}
  int64_t NowMicros() override { return RealClock::WallMicros() + offset_us_; }
  void SleepMicros(int64_t micros) override {
    if (micros > 0) usleep(static_cast<useconds_t>(micros));
  }

 private:
  int64_t offset_us_;
};

inline std::string BackendName(const ::testing::TestParamInfo<BackendKind>& info) {
  return info.param == BackendKind::kFs ? "fs" : "postgres";
}

// The binary's server; fails the calling test (and returns null) when it
// cannot be started.
inline faultline::testing::PgServer* SharedPgServer() {
  static faultline::testing::PgServer* server = nullptr;
  static std::string error;
  if (server == nullptr && error.empty()) {
    auto* s = new faultline::testing::PgServer();
    error = s->Start();
    if (error.empty()) {
      server = s;
      s->ExportEnvironment();
      // Stopped at exit; if the process dies instead, PR_SET_PDEATHSIG ends it.
      std::atexit([] { delete server; });
    } else {
      delete s;
    }
  }
  EXPECT_TRUE(error.empty()) << "cannot start PostgreSQL: " << error;
  return server;
}

// A schema name no other store of this process has.
inline std::string FreshSchema() {
  static int n = 0;
  return "t" + std::to_string(getpid()) + "_" + std::to_string(++n);
}

// The store of the test's backend, on fs set up as StoreFixture sets up its
// directory (StoreFixtureBase), on PostgreSQL in a schema of its own.
class BackendFixture : public StoreFixtureBase<::testing::TestWithParam<BackendKind>, Store> {
 protected:
  void SetUp() override { Reopen(ClusterConfig{}); }

  bool postgres() const { return GetParam() == BackendKind::kPostgres; }

  // Re-initialises a new store with `config`.
  void Reopen(const ClusterConfig& config) {
    NewDirectory();
    Backend backend;
    if (postgres()) {
      auto* server = SharedPgServer();
      ASSERT_NE(server, nullptr);
      backend.kind = Backend::Kind::kPostgres;
      backend.postgres.schema = schema_ = FreshSchema();
    }
    Status made = InitStore(path_, backend, config);
    ASSERT_TRUE(made.ok()) << made.ToString();
    store_ = OpenAnother(&clock_, &probe_);
    ASSERT_NE(store_, nullptr);
  }

  // Another process's view of the same store.
  std::unique_ptr<Store> OpenAnother(Clock* clock, Probe* probe) {
    auto store = OpenStore(path_, clock, probe);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // The item's entry in the end state ({} when there is none).
  nlohmann::json Item(const std::string& id) {
    auto state = store_->EndState();
    EXPECT_TRUE(state.ok()) << state.status().ToString();
    if (!state.ok()) return {};
    for (const auto& item : (*state)["items"]) {
      if (item["id"] == id) return item;
    }
    return {};
  }

  std::string schema_;  // postgres: the store's schema
};

}  // namespace swarm
