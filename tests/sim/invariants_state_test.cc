// The state-file and configuration checkers over hand-built histories
// (no_torn_state, config_fail_fast).
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sim/invariants/config_fail_fast.h"
#include "sim/invariants/no_torn_state.h"
#include "tests/sim/checker_history.h"

namespace faultline::checker_test {
namespace {

// ---------------------------------------------------------------------------
// no_torn_state

json StateCheck(uint64_t seq, int64_t t_ms, json unparsable, int files = 12) {
  return Ev(seq, t_ms, "state_check", {{"files", files}, {"unparsable", std::move(unparsable)}});
}

json CorruptFile(uint64_t seq, int64_t t_ms, const char* file) {
  return Ev(seq, t_ms, "fault", {{"kind", "corrupt_file"}, {"index", 0}, {"file", file}});
}

TEST(NoTornStateTest, CleanChecksHold) {
  auto v = Check<NoTornState>({
      RunStart("lockstep"),
      Kill(1, 1000, "a1"),
      StateCheck(2, 1000, json::array()),
      StateCheck(3, 9000, json::array()),
      RunEnd(4, 9000, json::array()),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(NoTornStateTest, AnUnparsableFileAfterAKillIsAViolation) {
  auto v = Check<NoTornState>({
      RunStart("lockstep"),
      Claim(1, "w1", "a1", 1, 500, 3500),
      Kill(2, 1000, "a1"),
      StateCheck(3, 1000, {"items/w1.json", "ledger/w1.json"}, 57),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{2, 3}));
  EXPECT_EQ(v[0].message,
            "state check at 1.000 s (seq 3, after a1 killed by signal 9 at seq 2): 2 state files "
            "do not parse (of 57 read): items/w1.json, ledger/w1.json");
}

TEST(NoTornStateTest, TheEndOfRunCheckNamesNoKill) {
  auto v = Check<NoTornState>({
      RunStart("lockstep"),
      Kill(1, 1000, "a1"),
      StateCheck(2, 1000, json::array()),
      StateCheck(3, 9000, {"agents/a2.json"}),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{3}));
  EXPECT_TRUE(Contains(v[0].message, "(seq 3): 1 state file does not parse (of 12 read): "
                                     "agents/a2.json"))
      << v[0].message;
}

TEST(NoTornStateTest, DeliberatelyCorruptedFileIsFineUntilRepaired) {
  std::vector<json> history = {
      RunStart("lockstep"),
      CorruptFile(1, 1000, "items/w1.json"),
      Kill(2, 1500, "a1"),
      StateCheck(3, 1500, {"items/w1.json"}),  // corrupted on purpose, not yet repaired
      QuarantineItem(4, 2000, "w1"),
      Kill(5, 2500, "a2"),
      StateCheck(6, 2500, json::array()),
  };
  auto v = Check<NoTornState>(history);
  EXPECT_TRUE(v.empty()) << Messages(v);

  // Once quarantine has rewritten it, the file must parse again.
  history.back() = StateCheck(6, 2500, {"items/w1.json"});
  v = Check<NoTornState>(history);
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{5, 6}));
  EXPECT_TRUE(Contains(v[0].message, "items/w1.json")) << v[0].message;
}

TEST(NoTornStateTest, ADifferentUnparsableFileIsAViolation) {
  auto v = Check<NoTornState>({
      RunStart("lockstep"),
      CorruptFile(1, 1000, "items/w1.json"),
      Kill(2, 1500, "a1"),
      StateCheck(3, 1500, {"items/w1.json", "items/w2.json"}),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{2, 3}));
  EXPECT_TRUE(Contains(v[0].message, "1 state file does not parse (of 12 read): items/w2.json"))
      << v[0].message;
  EXPECT_FALSE(Contains(v[0].message, "w1")) << v[0].message;
}

TEST(NoTornStateTest, AgentQuarantineRepairsTheAgentFile) {
  std::vector<json> history = {
      RunStart("lockstep"),
      CorruptFile(1, 1000, "agents/a1.json"),
      StateCheck(2, 1200, {"agents/a1.json"}),
      Ev(3, 1500, "quarantine",
         {{"proc", "reaper"}, {"agent", "a1"}, {"file", "quarantine/agents.a1.json.9"},
          {"reason", "not JSON"}}),
      Kill(4, 2000, "a2"),
      StateCheck(5, 2000, json::array()),
  };
  EXPECT_TRUE(Check<NoTornState>(history).empty());
  history.back() = StateCheck(5, 2000, {"agents/a1.json"});
  auto v = Check<NoTornState>(history);
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{4, 5}));
}

TEST(NoTornStateTest, AFileThatStaysTornIsReportedOnce) {
  auto v = Check<NoTornState>({
      RunStart("lockstep"),
      Kill(1, 1000, "a1"),
      StateCheck(2, 1000, {"ledger/w3.json"}),
      Kill(3, 2000, "a2"),
      StateCheck(4, 2000, {"ledger/w3.json"}),  // the same tear, not reported again
      Kill(5, 3000, "a3"),
      StateCheck(6, 3000, json::array()),
      Kill(7, 4000, "a4"),
      StateCheck(8, 4000, {"ledger/w3.json"}),  // torn again after parsing: a new tear
  });
  ASSERT_EQ(v.size(), 2u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2}));
  EXPECT_EQ(v[1].evidence, (Evidence{7, 8}));
}

// ---------------------------------------------------------------------------
// config_fail_fast

json RunStartWithFingerprint(const char* fingerprint) {
  json line = RunStart("lockstep");
  line["cluster_fingerprint"] = fingerprint;
  return line;
}

json Refused(uint64_t seq, int64_t t_ms, const char* agent, const char* fingerprint,
             const char* cluster) {
  return Ev(seq, t_ms, "refused",
            {{"proc", agent}, {"agent", agent}, {"fingerprint", fingerprint},
             {"cluster_fingerprint", cluster}});
}

json Drift(uint64_t seq, int64_t t_ms, const char* cluster) {
  return Ev(seq, t_ms, "fault",
            {{"kind", "config_drift"}, {"index", 1}, {"cluster_fingerprint", cluster}});
}

TEST(ConfigFailFastTest, MatchingFingerprintsHold) {
  auto v = Check<ConfigFailFast>({
      RunStartWithFingerprint("f1"),
      Register(1, 0, "a1", "f1"),
      Refused(2, 0, "a2", "f2", "f1"),  // refused and never claims: the fail-fast working
      Claim(3, "w1", "a1", 1, 100, 3100),
      Ev(4, 200, "exit", {{"agent", "a2"}, {"code", 78}}),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(ConfigFailFastTest, ClaimByAnAgentRegisteredWithAnotherFingerprintIsAViolation) {
  auto v = Check<ConfigFailFast>({
      RunStartWithFingerprint("f1"),
      Register(1, 0, "a1", "f2"),
      Claim(2, "w1", "a1", 1, 100, 3100),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2}));
  EXPECT_EQ(v[0].message,
            "w1: a1 was granted token 1 at 0.100 s with fingerprint f2 (registered at 0.000 s, "
            "seq 1) while the cluster's fingerprint was f1");
}

TEST(ConfigFailFastTest, RefusedAgentMustNotClaim) {
  auto v = Check<ConfigFailFast>({
      RunStartWithFingerprint("f1"),
      Refused(1, 0, "a1", "f2", "f1"),
      Claim(2, "w1", "a1", 1, 100, 3100),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 2}));
  EXPECT_EQ(v[0].message,
            "w1: a1 was granted token 1 at 0.100 s after it was refused at 0.000 s (seq 1: "
            "fingerprint f2, the cluster's f1) and had not registered since");
}

TEST(ConfigFailFastTest, RefusalAfterARegistrationStillCounts) {
  // An earlier incarnation registered; the restarted one was refused.
  auto v = Check<ConfigFailFast>({
      RunStartWithFingerprint("f1"),
      Register(1, 0, "a1", "f1"),
      Kill(2, 500, "a1"),
      Refused(3, 1000, "a1", "f2", "f1"),
      Claim(4, "w1", "a1", 1, 1100, 4100),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{3, 4}));
}

TEST(ConfigFailFastTest, RestartedAgentReRegisteringWithTheRightFingerprintMayClaim) {
  auto v = Check<ConfigFailFast>({
      RunStartWithFingerprint("f1"),
      Refused(1, 0, "a1", "f2", "f1"),
      Ev(2, 10, "exit", {{"agent", "a1"}, {"code", 78}}),
      Ev(3, 500, "spawn", {{"agent", "a1"}, {"role", "agent"}, {"restart", true}}),
      Register(4, 500, "a1", "f1"),
      Claim(5, "w1", "a1", 1, 600, 3600),
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(ConfigFailFastTest, DriftMakesALaterClaimAViolation) {
  std::vector<json> history = {
      RunStartWithFingerprint("f1"),
      Register(1, 0, "a1", "f1"),
      Claim(2, "w1", "a1", 1, 100, 3100),  // before the drift: fine
      Drift(3, 1000, "f2"),
      // Within a heartbeat period (500 ms) of the drift a1 is not yet due to
      // have noticed it (DESIGN §2: drift is seen at the next heartbeat).
      Claim(4, "w3", "a1", 1, 1400, 4400),
      Claim(5, "w2", "a1", 1, 1600, 4600),  // past that: a1 still runs with f1
  };
  auto v = Check<ConfigFailFast>(history);
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{1, 3, 5}));
  EXPECT_EQ(v[0].message,
            "w2: a1 was granted token 1 at 1.600 s with fingerprint f1 (registered at 0.000 s, "
            "seq 1) while the cluster's fingerprint was f2 (the cluster's configuration drifted "
            "at 1.000 s, seq 3)");

  // Restarted with the new settings, a1 may claim again.
  history.pop_back();
  history.pop_back();
  history.push_back(Ev(4, 1050, "drift_seen", {{"agent", "a1"}, {"reason", "changed"}}));
  history.push_back(Kill(5, 1060, "a1"));
  history.push_back(Register(6, 1500, "a1", "f2"));
  history.push_back(Claim(7, "w2", "a1", 1, 1600, 4600));
  v = Check<ConfigFailFast>(history);
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(ConfigFailFastTest, UnknownClusterFingerprintIsNotJudged) {
  auto v = Check<ConfigFailFast>({
      RunStart("lockstep"),  // no cluster_fingerprint
      Register(1, 0, "a1", "f2"),
      Claim(2, "w1", "a1", 1, 100, 3100),
      Claim(3, "w2", "a9", 1, 100, 3100),  // never registered: fingerprint unknown
  });
  EXPECT_TRUE(v.empty()) << Messages(v);
}

TEST(ConfigFailFastTest, AgentFormOfDriftLeavesTheClusterFingerprint) {
  // config_drift in agent form starts a1 with other settings; the cluster's
  // fingerprint stays f1, so a1's claim is still judged (found by the
  // no_config_check mutant).
  auto v = Check<ConfigFailFast>({
      RunStartWithFingerprint("f1"),
      Ev(1, 0, "fault",
         {{"kind", "config_drift"}, {"index", 0}, {"agent", "a1"}, {"setting", "lease_ms"},
          {"value", 5000}}),
      Register(2, 0, "a1", "f2"),
      Claim(3, "w1", "a1", 1, 100, 3100),
  });
  ASSERT_EQ(v.size(), 1u) << Messages(v);
  EXPECT_EQ(v[0].evidence, (Evidence{2, 3}));
}

}  // namespace
}  // namespace faultline::checker_test
