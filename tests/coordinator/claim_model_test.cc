// Model-based test of the claim protocol (STYLE.md 9): random sequences of
// claim, renew, complete (with current and stale tokens), crashes in the
// middle of complete, clock jumps past leases, agent crashes and reaper
// passes run against the real fs store and against a plain model; after
// every command the on-disk state must equal the model. On a failure,
// RapidCheck shrinks to a short, readable command sequence.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <map>
#include <memory>

#include "coordinator/fs_store.h"
#include "coordinator/fs_util.h"
#include "sim/protocol/control_protocol.h"
#include "tests/support/recording_probe.h"
#include "tests/support/temp_dir.h"

namespace swarm {

// Lets RapidCheck print outcomes in failure reports.
inline void showValue(Status::Code code, std::ostream& os) { os << CodeName(code); }

namespace {

using faultline::testing::CrashHere;

const std::vector<std::string> kAgents = {"a1", "a2", "a3"};
const std::vector<std::string> kItems = {"w1", "w2", "w3"};
constexpr int64_t kLeaseUs = 3'000'000;
constexpr int kMaxAttempts = 3;

struct ItemModel {
  ItemStatus status = ItemStatus::kPending;
  int64_t token = 0;
  std::string owner;
  int64_t lease_until = 0;
  int attempts = 0;
  bool effect = false;
  std::string effect_agent;
  int64_t effect_token = 0;
};

struct HeldGrant {
  std::string item;
  int64_t token;
};

struct Model {
  int64_t now = 1'000'000'000'000'000;
  std::map<std::string, ItemModel> items;
  std::map<std::string, std::vector<HeldGrant>> held;  // what each agent believes it holds

  Model() {
    for (const auto& id : kItems) items[id];
  }
  bool Current(const std::string& agent, const HeldGrant& g) const {
    const ItemModel& m = items.at(g.item);
    return m.status == ItemStatus::kClaimed && m.token == g.token && m.owner == agent;
  }
};

struct Sut {
  FakeClock clock{1'000'000'000'000'000};
  faultline::testing::RecordingProbe probe;
  faultline::testing::TempDir tmp;
  std::string dir = tmp / "swarm";
  std::unique_ptr<FsStore> store;

  Sut() {
    ClusterConfig c;
    c.lease_ms = kLeaseUs / 1000;
    c.max_attempts = kMaxAttempts;
    RC_ASSERT(FsStore::Init(dir, c).ok());
    auto opened = FsStore::Open(dir, &clock, &probe);
    RC_ASSERT(opened.ok());
    store = std::move(opened.value());
    std::vector<std::pair<std::string, std::string>> items;
    for (const auto& id : kItems) items.emplace_back(id, "p");
    RC_ASSERT(*store->Submit(items) == kItems.size());
  }
};

// Compares the whole on-disk state with the model.
void CheckAgainstModel(const Model& m, Sut& sut) {
  for (const auto& [id, want] : m.items) {
    auto text = fs::ReadFile(sut.dir + "/items/" + id + ".json");
    RC_ASSERT(text.ok());
    auto got = ItemFromJson(*text, id);
    RC_ASSERT(got.ok());
    RC_ASSERT(got->status == want.status);
    RC_ASSERT(got->token == want.token);
    RC_ASSERT(got->attempts == want.attempts);
    if (want.status == ItemStatus::kClaimed) {
      RC_ASSERT(got->owner == want.owner);
      RC_ASSERT(got->lease_until_us == want.lease_until);
    }
    if (want.status == ItemStatus::kDone) RC_ASSERT(got->owner == want.effect_agent);
    auto effect_text = fs::ReadFile(sut.dir + "/ledger/" + id + ".json");
    RC_ASSERT(effect_text.ok() == want.effect);
    if (want.effect) {
      auto effect = EffectFromJson(*effect_text, id);
      RC_ASSERT(effect.ok());
      RC_ASSERT(effect->token == want.effect_token);
      RC_ASSERT(effect->agent == want.effect_agent);
    }
  }
  RC_ASSERT(faultline::testing::CountEntries(sut.dir + "/locks") == 0u);
  RC_ASSERT(faultline::testing::CountEntries(sut.dir + "/tmp") == 0u);
}

// An expired claim: done if its holder wrote the effect before dying, dead
// after max_attempts failed grants (releases give theirs back), else
// pending again.
void Expire(ItemModel& it) {
  it.status = it.effect                        ? ItemStatus::kDone
              : it.attempts >= kMaxAttempts ? ItemStatus::kDead
                                            : ItemStatus::kPending;
  it.owner.clear();
  it.lease_until = 0;
}

using Command = rc::state::Command<Model, Sut>;

// The expected outcome of a command, computed on the model; run() replays
// it on a copy of the model to know what the store must answer.
template <typename Derived>
struct Step : Command {
  void apply(Model& m) const override { static_cast<const Derived*>(this)->Expect(m); }
  void run(const Model& m, Sut& sut) const override {
    Model next = m;
    Status::Code want = static_cast<const Derived*>(this)->Expect(next);
    Status::Code got = static_cast<const Derived*>(this)->Do(m, sut);
    RC_ASSERT(got == want);
    CheckAgainstModel(next, sut);
  }
};

// Picks one grant the agent holds, if any.
struct WithGrant {
  std::string agent = *rc::gen::elementOf(kAgents);
  size_t pick = *rc::gen::inRange<size_t>(0, 8);
  const HeldGrant* Find(const Model& m) const {
    auto it = m.held.find(agent);
    if (it == m.held.end() || it->second.empty()) return nullptr;
    return &it->second[pick % it->second.size()];
  }
  bool Holds(const Model& m) const { return Find(m) != nullptr; }
  void Forget(Model& m) const {
    auto& v = m.held[agent];
    if (!v.empty()) v.erase(v.begin() + static_cast<long>(pick % v.size()));
  }
};

struct Claim : Step<Claim> {
  std::string agent = *rc::gen::elementOf(kAgents);
  std::string item = *rc::gen::elementOf(kItems);
  Status::Code Expect(Model& m) const {
    ItemModel& it = m.items[item];
    bool expired = it.status == ItemStatus::kClaimed && it.lease_until <= m.now;
    if (expired && (it.effect || it.attempts >= kMaxAttempts)) {
      Expire(it);
      return Status::Code::kConflict;
    }
    if (it.status != ItemStatus::kPending && !expired) return Status::Code::kConflict;
    it.status = ItemStatus::kClaimed;
    it.token += 1;
    it.owner = agent;
    it.lease_until = m.now + kLeaseUs;
    it.attempts += 1;
    m.held[agent].push_back({item, it.token});
    return Status::Code::kOk;
  }
  Status::Code Do(const Model&, Sut& sut) const {
    auto g = sut.store->Claim(item, agent);
    return g.status().code();
  }
  void show(std::ostream& os) const override { os << "Claim(" << agent << ", " << item << ")"; }
};

struct Renew : Step<Renew>, WithGrant {
  explicit Renew(const Model& m) { RC_PRE(Holds(m)); }
  Status::Code Expect(Model& m) const {
    const HeldGrant g = *Find(m);
    if (!m.Current(agent, g)) {
      Forget(m);
      return Status::Code::kStaleToken;
    }
    m.items[g.item].lease_until = m.now + kLeaseUs;
    return Status::Code::kOk;
  }
  Status::Code Do(const Model& m, Sut& sut) const {
    const HeldGrant* g = Find(m);
    Grant grant{g->item, agent, g->token, 0, 0, ""};
    return sut.store->Renew(grant).code();
  }
  void show(std::ostream& os) const override { os << "Renew(" << agent << ", #" << pick << ")"; }
};

struct Complete : Step<Complete>, WithGrant {
  explicit Complete(const Model& m) { RC_PRE(Holds(m)); }
  Status::Code Expect(Model& m) const {
    const HeldGrant g = *Find(m);
    Forget(m);
    if (!m.Current(agent, g)) return Status::Code::kStaleToken;
    ItemModel& it = m.items[g.item];
    if (!it.effect) {
      it.effect = true;
      it.effect_agent = agent;
      it.effect_token = g.token;
    }
    it.status = ItemStatus::kDone;
    return Status::Code::kOk;
  }
  Status::Code Do(const Model& m, Sut& sut) const {
    const HeldGrant* g = Find(m);
    return sut.store->Complete({g->item, agent, g->token, 0, 0, ""}, "r").code();
  }
  void show(std::ostream& os) const override {
    os << "Complete(" << agent << ", #" << pick << ")";
  }
};

// A made-up old token: must always be refused and change nothing.
struct CompleteStale : Step<CompleteStale> {
  std::string agent = *rc::gen::elementOf(kAgents);
  std::string item = *rc::gen::elementOf(kItems);
  Status::Code Expect(Model&) const { return Status::Code::kStaleToken; }
  Status::Code Do(const Model& m, Sut& sut) const {
    int64_t stale = m.items.at(item).token - 1;
    return sut.store->Complete({item, agent, stale, 0, 0, ""}, "stale").code();
  }
  void show(std::ostream& os) const override {
    os << "CompleteStale(" << agent << ", " << item << ")";
  }
};

// The agent dies right after writing the effect, before marking the item
// done: the effect stays, the item stays claimed, the agent forgets.
struct CrashMidComplete : Step<CrashMidComplete>, WithGrant {
  explicit CrashMidComplete(const Model& m) { RC_PRE(Holds(m)); }
  Status::Code Expect(Model& m) const {
    const HeldGrant g = *Find(m);
    m.held[agent].clear();
    if (!m.Current(agent, g)) return Status::Code::kStaleToken;
    ItemModel& it = m.items[g.item];
    if (!it.effect) {
      it.effect = true;
      it.effect_agent = agent;
      it.effect_token = g.token;
    }
    return Status::Code::kOk;  // "ok" = crashed where intended
  }
  Status::Code Do(const Model& m, Sut& sut) const {
    const HeldGrant* g = Find(m);
    sut.probe.crash_at = faultline::protocol::point::kCompleteLedgerWritten;
    Status::Code code = Status::Code::kOk;
    try {
      code = sut.store->Complete({g->item, agent, g->token, 0, 0, ""}, "r").code();
      RC_ASSERT(code != Status::Code::kOk);  // it cannot get past the crash point
    } catch (const CrashHere&) {
    }
    sut.probe.crash_at.clear();
    return code;
  }
  void show(std::ostream& os) const override {
    os << "CrashMidComplete(" << agent << ", #" << pick << ")";
  }
};

struct Release : Step<Release>, WithGrant {
  explicit Release(const Model& m) { RC_PRE(Holds(m)); }
  Status::Code Expect(Model& m) const {
    const HeldGrant g = *Find(m);
    Forget(m);
    if (!m.Current(agent, g)) return Status::Code::kStaleToken;
    ItemModel& it = m.items[g.item];
    it.status = ItemStatus::kPending;
    it.owner.clear();
    it.lease_until = 0;
    it.attempts -= 1;  // a release is not a failed attempt
    return Status::Code::kOk;
  }
  Status::Code Do(const Model& m, Sut& sut) const {
    const HeldGrant* g = Find(m);
    return sut.store->Release({g->item, agent, g->token, 0, 0, ""}, "test").code();
  }
  void show(std::ostream& os) const override { os << "Release(" << agent << ", #" << pick << ")"; }
};

struct AdvanceClock : Step<AdvanceClock> {
  int64_t ms = *rc::gen::element<int64_t>(1, 500, 1500, 2999, 3000, 4000);
  Status::Code Expect(Model& m) const {
    m.now += ms * 1000;
    return Status::Code::kOk;
  }
  Status::Code Do(const Model&, Sut& sut) const {
    sut.clock.Advance(ms * 1000);
    return Status::Code::kOk;
  }
  void show(std::ostream& os) const override { os << "AdvanceClock(" << ms << " ms)"; }
};

struct CrashAgent : Step<CrashAgent> {
  std::string agent = *rc::gen::elementOf(kAgents);
  Status::Code Expect(Model& m) const {
    m.held[agent].clear();
    return Status::Code::kOk;
  }
  Status::Code Do(const Model&, Sut&) const { return Status::Code::kOk; }
  void show(std::ostream& os) const override { os << "CrashAgent(" << agent << ")"; }
};

struct Reap : Step<Reap> {
  Status::Code Expect(Model& m) const {
    for (auto& [id, it] : m.items) {
      if (it.status == ItemStatus::kClaimed && it.lease_until <= m.now) Expire(it);
    }
    return Status::Code::kOk;
  }
  Status::Code Do(const Model&, Sut& sut) const { return sut.store->Reap({}).status().code(); }
  void show(std::ostream& os) const override { os << "Reap()"; }
};

RC_GTEST_PROP(ClaimProtocolModel, StoreMatchesTheModelAfterEveryCommand, ()) {
  Model model;
  Sut sut;
  rc::state::check(model, sut,
                   rc::state::gen::execOneOfWithArgs<Claim, Claim, Renew, Complete, CompleteStale,
                                                     CrashMidComplete, Release, AdvanceClock,
                                                     AdvanceClock, CrashAgent, Reap>());
}

}  // namespace
}  // namespace swarm
