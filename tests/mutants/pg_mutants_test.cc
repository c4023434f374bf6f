// The PostgreSQL backend's mutants (README.md) are real: each breaks the
// Store contract in a store-level choreography where the reference keeps it.
// The harness's postgres scenarios catch them end to end.
#include <gtest/gtest.h>

#include "coordinator/fs_store.h"
#include "coordinator/pg_store.h"
#include "tests/coordinator/backend_fixture.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

constexpr int64_t kLeaseUs = 3000 * 1000;

class PgMutantTest : public BackendFixture {
 protected:
  // DIR opened as mutant `name` ("" = the reference), with its own clock and
  // probe: another agent process.
  std::unique_ptr<Store> Open(const std::string& name, Clock* clock, Probe* probe) {
    if (name.empty()) return OpenAnother(clock, probe);
    const Mutant* m = FindMutant(name);
    EXPECT_NE(m, nullptr) << name;
    if (m == nullptr) return nullptr;
    auto store = m->open(path_, clock, probe, MutantContext{"agent", std::nullopt});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }
};

// Two agents claim at the same moment: B's whole claim runs at the first
// yield of A's. A claim that checks and then updates without a row lock
// grants both the same item.
std::pair<Grant, Grant> RaceTwoClaims(Store* a, faultline::testing::RecordingProbe* pa,
                                      Store* b) {
  std::optional<Grant> second;
  pa->on_yield = [&](std::string_view, std::string_view) {
    if (second) return;
    auto out = b->ClaimNext("b");
    EXPECT_TRUE(out.ok() && out->grant) << out.status().ToString();
    if (out.ok() && out->grant) second = *out->grant;
  };
  auto first = a->ClaimNext("a");
  pa->on_yield = nullptr;
  EXPECT_TRUE(first.ok() && first->grant) << first.status().ToString();
  EXPECT_TRUE(second.has_value());
  return {first.ok() && first->grant ? *first->grant : Grant{}, second.value_or(Grant{})};
}

TEST_P(PgMutantTest, CheckThenUpdateGrantsOneItemTwice) {
  for (const std::string name : {"", "pg_check_then_update"}) {
    SCOPED_TRACE(name.empty() ? "reference" : name);
    Reopen(ClusterConfig{});
    SubmitItems(2);
    faultline::testing::RecordingProbe pa, pb;
    auto a = Open(name, &clock_, &pa);
    auto b = Open(name, &clock_, &pb);
    ASSERT_TRUE(a && b);
    auto [ga, gb] = RaceTwoClaims(a.get(), &pa, b.get());
    if (name.empty()) {
      EXPECT_NE(ga.item, gb.item) << "the reference granted one item twice";
    } else {
      EXPECT_EQ(ga.item, gb.item) << "the mutant kept single owners";
      EXPECT_EQ(ga.token, gb.token);
    }
  }
}

TEST_P(PgMutantTest, NoTokenCheckAcceptsAStaleHoldersCompletion) {
  for (const std::string name : {"", "pg_no_token_check"}) {
    SCOPED_TRACE(name.empty() ? "reference" : name);
    Reopen(ClusterConfig{});
    SubmitItems(1);
    faultline::testing::RecordingProbe pa, pb;
    auto a = Open(name, &clock_, &pa);
    auto b = Open(name, &clock_, &pb);
    auto old = a->ClaimNext("a");
    ASSERT_TRUE(old.ok() && old->grant);
    clock_.Advance(kLeaseUs + 1);
    auto taken = b->ClaimNext("b");
    ASSERT_TRUE(taken.ok() && taken->grant);
    Status late = a->Complete(*old->grant, "late");
    if (name.empty()) {
      EXPECT_EQ(late.code(), Status::Code::kStaleToken);
      EXPECT_TRUE(b->Complete(*taken->grant, "r").ok());
    } else {
      EXPECT_TRUE(late.ok()) << "the mutant fenced the stale holder: " << late.ToString();
      EXPECT_EQ(pa.Count("effect"), 1u);  // written under token 1 while b holds token 2
      // The current holder's completion then finds the stale effect in place.
      EXPECT_TRUE(b->Complete(*taken->grant, "r").ok());
      EXPECT_EQ(pb.Count("effect_present"), 1u);
    }
  }
}

TEST_P(PgMutantTest, LocalClockLeaseLetsAnAgentWhoseClockIsAheadTakeAHeldItem) {
  for (const std::string name : {"", "pg_local_clock_lease"}) {
    SCOPED_TRACE(name.empty() ? "reference" : name);
    Reopen(ClusterConfig{});
    SubmitItems(1);
    OffsetClock right(0), ahead(3600LL * 1000 * 1000);
    faultline::testing::RecordingProbe pa, pb;
    auto a = Open(name, &right, &pa);
    auto b = Open(name, &ahead, &pb);
    auto held = a->ClaimNext("a");
    ASSERT_TRUE(held.ok() && held->grant);
    auto other = b->ClaimNext("b");
    ASSERT_TRUE(other.ok()) << other.status().ToString();
    if (name.empty()) {
      EXPECT_FALSE(other->grant.has_value()) << "the reference took over a live lease";
    } else {
      ASSERT_TRUE(other->grant.has_value()) << "the mutant kept the lease";
      EXPECT_EQ(other->grant->item, held->grant->item);  // two holders, a's lease not over
      EXPECT_EQ(pb.Count("takeover"), 1u);
    }
  }
}

TEST(PgMutantListTest, TheMutantsAreListedAndRefuseAnFsDirectory) {
  std::vector<std::string> names;
  for (const Mutant& m : PostgresMutants()) names.push_back(m.name);
  EXPECT_EQ(names, (std::vector<std::string>{"pg_check_then_update", "pg_no_token_check",
                                             "pg_local_clock_lease"}));
  // They are in the zoo's list too, and the only pg_ names there.
  size_t pg_in_zoo = 0;
  for (const Mutant& m : AllMutants()) pg_in_zoo += std::string(m.name).rfind("pg_", 0) == 0;
  EXPECT_EQ(pg_in_zoo, names.size());
  faultline::testing::TempDir tmp;
  ASSERT_TRUE(FsStore::Init(tmp / "fs", ClusterConfig{}).ok());
  FakeClock clock;
  NullProbe probe;
  auto opened = FindMutant("pg_no_token_check")
                    ->open(tmp / "fs", &clock, &probe, MutantContext{"agent", std::nullopt});
  EXPECT_EQ(opened.status().code(), Status::Code::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, PgMutantTest, ::testing::Values(BackendKind::kPostgres),
                         BackendName);

}  // namespace
}  // namespace swarm::mutants
