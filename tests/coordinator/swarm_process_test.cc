// End-to-end tests of the real `swarm` binary: many agent processes at once,
// SIGKILLs at random moments, a real full disk, bad input.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "coordinator/fs_store.h"
#include "coordinator/fs_util.h"
#include "tests/support/poll.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace swarm {
namespace {

using namespace std::chrono_literals;
using faultline::testing::CountEntries;
using faultline::testing::Exit;
using faultline::testing::Ran;
using faultline::testing::ReadAll;
using faultline::testing::Run;
using faultline::testing::Spawn;
using faultline::testing::TempDir;
using faultline::testing::WaitFor;

class SwarmProcessTest : public ::testing::Test {
 protected:
  TempDir tmp_;
  std::string dir_ = tmp_ / "coord";

  Ran Swarm(std::vector<std::string> args) {
    args.insert(args.begin(), SWARM_BIN);
    return faultline::testing::Run(args, tmp_ / "cmd.log");
  }
  pid_t StartAgent(const std::string& id, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {SWARM_BIN, "agent", dir_, "--id", id, "--exit-when-idle"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    pid_t pid = Spawn(argv, tmp_ / ("agent-" + id + ".log"));
    EXPECT_GT(pid, 0);
    return pid;
  }
  nlohmann::json Status() {
    Ran r = Swarm({"status", dir_, "--json"});
    EXPECT_EQ(r.exit.code, 0) << r.output;
    return nlohmann::json::parse(r.output, nullptr, false);
  }
  void Init(const std::string& config_json = "") {
    std::vector<std::string> args = {"init", dir_};
    if (!config_json.empty()) {
      std::ofstream(tmp_ / "cluster-config.json") << config_json;
      args.push_back("--config");
      args.push_back(tmp_ / "cluster-config.json");
    }
    Ran r = Swarm(args);
    ASSERT_EQ(r.exit.code, 0) << r.output;
  }
  void Submit(int n) {
    Ran r = Swarm({"submit", dir_, "--items", std::to_string(n)});
    ASSERT_EQ(r.exit.code, 0) << r.output;
  }
  std::vector<std::string> ItemFiles() {
    auto names = fs::ListDir(dir_ + "/items");
    EXPECT_TRUE(names.ok());
    return names.ok() ? *names : std::vector<std::string>{};
  }
  // Every done item has exactly one effect, and the effect was written under
  // a token the item really granted.
  void ExpectExactlyOnce(int items) {
    auto names = fs::ListDir(dir_ + "/items");
    ASSERT_TRUE(names.ok());
    ASSERT_EQ(names->size(), static_cast<size_t>(items));
    size_t done = 0;
    for (const std::string& name : *names) {
      std::string id = name.substr(0, name.size() - 5);
      auto s = ItemFromJson(*fs::ReadFile(dir_ + "/items/" + name), name);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      auto effect_text = fs::ReadFile(dir_ + "/ledger/" + id + ".json");
      if (s->status == ItemStatus::kDone) {
        ++done;
        ASSERT_TRUE(effect_text.ok()) << id << " is done without an effect";
        auto e = EffectFromJson(*effect_text, id);
        ASSERT_TRUE(e.ok());
        EXPECT_GE(e->token, 1);
        EXPECT_LE(e->token, s->token);
      } else {
        EXPECT_EQ(s->status, ItemStatus::kDead) << id << " neither done nor dead-lettered";
        EXPECT_FALSE(s->reason.empty());
      }
    }
    EXPECT_EQ(CountEntries(dir_ + "/ledger"), done);
  }
};

TEST_F(SwarmProcessTest, SixteenAgentsThousandItemsEachDoneExactlyOnce) {
  Init();
  Submit(1000);
  std::vector<pid_t> agents;
  for (int i = 0; i < 16; ++i) agents.push_back(StartAgent("a" + std::to_string(i)));
  for (pid_t pid : agents) {
    Exit e = WaitFor(pid, 120s);
    EXPECT_TRUE(e.exited && e.code == 0) << "code " << e.code << " signal " << e.signal;
  }
  nlohmann::json st = Status();
  EXPECT_EQ(st["items"]["done"], 1000);
  EXPECT_EQ(st["items"]["pending"], 0);
  EXPECT_EQ(st["items"]["claimed"], 0);
  EXPECT_EQ(st["ledger_effects"], 1000);
  EXPECT_EQ(st["locks"], 0);
  EXPECT_EQ(CountEntries(dir_ + "/claims"), 0u);
  EXPECT_EQ(CountEntries(dir_ + "/tmp"), 0u);
  ExpectExactlyOnce(1000);
  // Every item was granted exactly once: nobody lost a race badly enough to
  // need a second grant.
  std::map<std::string, int> per_agent;
  for (const std::string& name : ItemFiles()) {
    auto s = ItemFromJson(*fs::ReadFile(dir_ + "/items/" + name), name);
    EXPECT_EQ(s->token, 1) << name;
    per_agent[s->owner]++;
  }
  EXPECT_GT(per_agent.size(), 1u) << "the work was spread over several agents";
}

TEST_F(SwarmProcessTest, ConcurrentSubmittersLoseNoItems) {
  // Four `submit --items 200` at once: each must add 200 items under ids of
  // its own, however their starts overlap (ids once came from the item count,
  // so concurrent submitters wrote the same ids and dropped each other's).
  Init();
  std::vector<pid_t> submitters;
  for (int i = 0; i < 4; ++i) {
    submitters.push_back(Spawn({SWARM_BIN, "submit", dir_, "--items", "200"},
                               tmp_ / ("submit-" + std::to_string(i) + ".log")));
  }
  for (pid_t pid : submitters) {
    Exit e = WaitFor(pid, 60s);
    EXPECT_TRUE(e.exited && e.code == 0) << "code " << e.code << " signal " << e.signal;
  }
  EXPECT_EQ(ItemFiles().size(), 800u);
  EXPECT_EQ(Status()["items"]["pending"], 800);
}

TEST_F(SwarmProcessTest, ProcessesReadTheBootClockWithTheDirectorysAnchor) {
  // Times come from CLOCK_BOOTTIME plus the anchor this boot's first process
  // stored, never from the wall clock, which can step. An anchor of 0 makes
  // the difference plain: the agent's heartbeat is then in boot-clock time
  // (the wall clock reads decades more).
  Init();
  auto boot_id = FsStore::BootId();
  ASSERT_TRUE(boot_id.ok()) << boot_id.status().ToString();
  auto anchor = FsStore::ClockAnchor(dir_, *boot_id, 0);  // before any process opens DIR
  ASSERT_TRUE(anchor.ok()) << anchor.status().ToString();
  ASSERT_EQ(*anchor, 0);
  Submit(1);
  const int64_t before = RealClock::BootMicros();
  Exit e = WaitFor(StartAgent("a1"), 60s);
  EXPECT_TRUE(e.exited && e.code == 0) << ReadAll(tmp_ / "agent-a1.log");
  auto record = AgentFromJson(*fs::ReadFile(dir_ + "/agents/a1.json"), "a1");
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_GE(record->heartbeat_us, before);
  EXPECT_LE(record->heartbeat_us, RealClock::BootMicros());
}

TEST_F(SwarmProcessTest, SigkilledAgentsWithAReaperLoseNothingAndLeaveNoLocks) {
  Init(R"({"lease_ms": 300, "heartbeat_ms": 100, "reap_interval_ms": 100,
           "agent_timeout_ms": 500, "max_attempts": 1000})");
  Submit(1000);
  pid_t reaper = Spawn({SWARM_BIN, "reaper", dir_}, tmp_ / "reaper.log");
  std::map<std::string, pid_t> agents;
  for (int i = 0; i < 16; ++i) {
    std::string id = "a" + std::to_string(i);
    agents[id] = StartAgent(id, {"--work-ms", "1:3"});
  }
  std::mt19937 rng(12345);
  int kills = 0;
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 15));
    // Reap the agents that finished; stop when all have.
    for (auto it = agents.begin(); it != agents.end();) {
      Exit e;
      if (faultline::testing::Ended(it->second, &e)) {
        EXPECT_TRUE(e.exited && e.code == 0) << it->first << " code " << e.code;
        it = agents.erase(it);
      } else {
        ++it;
      }
    }
    if (agents.empty()) break;
    if (kills < 40) {
      // SIGKILL a random live agent and start it again under the same id.
      auto victim = std::next(agents.begin(), static_cast<long>(rng() % agents.size()));
      kill(victim->second, SIGKILL);
      Exit e = WaitFor(victim->second, 10s);
      if (e.signal == SIGKILL) ++kills;
      victim->second = StartAgent(victim->first, {"--work-ms", "1:3"});
    }
  }
  ASSERT_TRUE(agents.empty()) << "agents still running after 120 s";
  EXPECT_GE(kills, 20);
  // The reaper removes what the killed agents left (locks, temp files);
  // stop it once it has, and let the checks below say what it missed.
  (void)faultline::testing::Eventually("the reaper to clear the killed agents' locks and temp files",
                                       [this] {
                                         nlohmann::json st = Status();
                                         return st["locks"] == 0 && st["temp_files"] == 0;
                                       },
                                       10s, 20ms);
  kill(reaper, SIGTERM);
  Exit re = WaitFor(reaper, 10s);
  EXPECT_TRUE(re.exited && re.code == 0) << ReadAll(tmp_ / "reaper.log");

  nlohmann::json st = Status();
  EXPECT_EQ(st["items"]["done"], 1000) << st.dump();
  EXPECT_EQ(st["ledger_effects"], 1000);
  EXPECT_EQ(st["locks"], 0) << st["stale_locks"].dump();
  EXPECT_EQ(st["temp_files"], 0);
  ExpectExactlyOnce(1000);
  // The kills landed: some items needed more than one grant.
  int retried = 0;
  for (const std::string& name : ItemFiles()) {
    retried += ItemFromJson(*fs::ReadFile(dir_ + "/items/" + name), name)->attempts > 1;
  }
  EXPECT_GT(retried, 0) << "no kill ever interrupted a claim";
}

// Runs in a child process inside a private mount namespace: a 4 MiB tmpfs
// holds the coordination directory; a ballast file fills it mid-run and is
// then removed. Results go to a JSON file the parent reads.
int FullDiskScenario(const std::string& root) {
  const std::string dir = root + "/coord";
  const std::string mnt = root + "/mnt";
  nlohmann::json out;
  auto finish = [&](int code) {
    std::ofstream(root + "/result.json") << out.dump(2);
    umount2(mnt.c_str(), MNT_DETACH);
    return code;
  };
  if (unshare(CLONE_NEWNS) != 0) {
    out["skip"] = std::string("unshare(CLONE_NEWNS): ") + strerror(errno);
    return finish(0);
  }
  mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=4m") != 0) {
    out["skip"] = std::string("mount tmpfs: ") + strerror(errno);
    return finish(0);
  }
  const std::string coord = mnt + "/coord";
  auto swarm = [&](std::vector<std::string> args) {
    args.insert(args.begin(), SWARM_BIN);
    return Run(args, root + "/cmd.log");
  };
  if (swarm({"init", coord}).exit.code != 0 || swarm({"submit", coord, "--items", "200"}).exit.code != 0) {
    out["error"] = "init/submit failed: " + ReadAll(root + "/cmd.log");
    return finish(1);
  }
  std::vector<pid_t> agents;
  for (int i = 0; i < 4; ++i) {
    agents.push_back(Spawn({SWARM_BIN, "agent", coord, "--id", "a" + std::to_string(i),
                            "--exit-when-idle", "--work-ms", "2:6"},
                           root + "/agent" + std::to_string(i) + ".log"));
  }
  auto stop_agents = [&] {
    for (pid_t p : agents) kill(p, SIGKILL);
    for (pid_t p : agents) WaitFor(p, 10s);
  };
  if (!faultline::testing::Eventually("40 effects in the ledger",
                                      [&] { return CountEntries(coord + "/ledger") >= 40; }, 60s,
                                      2ms)) {
    out["error"] = "the agents never committed 40 effects";
    stop_agents();
    return finish(1);
  }
  // Fill the file system to the last byte.
  int fd = open((mnt + "/ballast").c_str(), O_WRONLY | O_CREAT, 0644);
  std::string chunk(4096, 'x');
  int64_t filled = 0;
  while (write(fd, chunk.data(), chunk.size()) > 0) filled += 4096;
  out["ballast_errno"] = errno;
  out["ballast_bytes"] = filled;
  close(fd);
  size_t ledger_at_fill = CountEntries(coord + "/ledger");
  // Every agent meets the full disk (and must live on).
  auto agent_log = [&](int i) { return ReadAll(root + "/agent" + std::to_string(i) + ".log"); };
  if (!faultline::testing::Eventually("every agent to report the full disk", [&] {
        for (int i = 0; i < 4; ++i) {
          if (agent_log(i).find("No space left on device") == std::string::npos) return false;
        }
        return true;
      }, 30s)) {
    out["error"] = "not every agent reported the full disk within 30 s";
    stop_agents();
    return finish(1);
  }
  size_t ledger_while_full = CountEntries(coord + "/ledger");
  out["ledger_at_fill"] = ledger_at_fill;
  out["ledger_while_full"] = ledger_while_full;
  // While full: every state file still parses, and every agent still runs.
  {
    RealClock clock;
    NullProbe probe;
    auto store = FsStore::Open(coord, &clock, &probe);
    auto snap = store.ok() ? (*store)->Inspect() : Result<Snapshot>(store.status());
    out["inspect_while_full"] = snap.ok() ? "ok" : snap.status().ToString();
    if (snap.ok()) out["corrupt_while_full"] = snap->corrupt;
  }
  int running = 0;
  for (pid_t p : agents) running += waitpid(p, nullptr, WNOHANG) == 0;
  out["agents_running_while_full"] = running;
  unlink((mnt + "/ballast").c_str());
  int clean_exits = 0;
  for (pid_t p : agents) {
    Exit e = WaitFor(p, 60s);
    clean_exits += e.exited && e.code == 0;
  }
  out["clean_exits"] = clean_exits;
  std::string logs;
  for (int i = 0; i < 4; ++i) logs += ReadAll(root + "/agent" + std::to_string(i) + ".log");
  out["logs"] = logs;
  Ran st = swarm({"status", coord, "--json"});
  out["final_status"] = nlohmann::json::parse(st.output, nullptr, false);
  return finish(0);
}

TEST_F(SwarmProcessTest, FullDiskFailsCleanlyAndRecovers) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root (CI runs as root)";
  ASSERT_TRUE(fs::MakeDir(tmp_ / "mnt").ok());
  pid_t child = fork();
  if (child == 0) _exit(FullDiskScenario(tmp_.path()));
  Exit e = WaitFor(child, 180s);
  ASSERT_TRUE(e.exited) << "scenario process died";
  nlohmann::json r = nlohmann::json::parse(ReadAll(tmp_ / "result.json"), nullptr, false);
  ASSERT_TRUE(r.is_object()) << ReadAll(tmp_ / "result.json");
  ASSERT_FALSE(r.contains("error")) << r["error"];
  if (r.contains("skip")) GTEST_SKIP() << r["skip"];
  EXPECT_EQ(r["ballast_errno"], ENOSPC) << "the ballast must have hit a real ENOSPC";
  std::string logs = r["logs"];
  EXPECT_NE(logs.find("No space left on device"), std::string::npos)
      << "agents must report the full disk clearly:\n" << logs;
  EXPECT_EQ(r["inspect_while_full"], "ok");
  EXPECT_EQ(r["corrupt_while_full"], 0) << "a state file was torn";
  EXPECT_GE(r["ledger_while_full"], r["ledger_at_fill"]) << "committed effects were lost";
  EXPECT_EQ(r["agents_running_while_full"], 4) << "agents must ride out ENOSPC";
  EXPECT_EQ(r["clean_exits"], 4);
  const nlohmann::json& st = r["final_status"];
  EXPECT_EQ(st["items"]["done"], 200) << st.dump();
  EXPECT_EQ(st["ledger_effects"], 200);
  EXPECT_EQ(st["locks"], 0);
  EXPECT_EQ(st["items"]["corrupt"], 0);
  EXPECT_EQ(st["temp_files"], 0);
}

TEST_F(SwarmProcessTest, MismatchedConfigExits78AndNeverClaims) {
  Init();
  Submit(20);
  std::ofstream(tmp_ / "mine.json") << R"({"lease_ms": 60000})";
  Ran r = Swarm({"agent", dir_, "--id", "odd", "--config", tmp_ / "mine.json", "--exit-when-idle"});
  EXPECT_EQ(r.exit.code, 78) << r.output;
  EXPECT_NE(r.output.find("does not match the cluster"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("lease_ms 60000 vs 3000"), std::string::npos) << r.output;
  nlohmann::json st = Status();
  EXPECT_EQ(st["items"]["pending"], 20);
  EXPECT_EQ(st["agents"]["odd"]["status"], "refused");
  // The same settings as the cluster are accepted.
  std::ofstream(tmp_ / "same.json") << R"({"lease_ms": 3000})";
  r = Swarm({"agent", dir_, "--id", "ok", "--config", tmp_ / "same.json", "--exit-when-idle"});
  EXPECT_EQ(r.exit.code, 0) << r.output;
  EXPECT_EQ(Status()["items"]["done"], 20);
}

TEST_F(SwarmProcessTest, DriftMidRunStopsTheAgentWithExit78) {
  Init(R"({"heartbeat_ms": 50})");
  Submit(1000);
  pid_t agent = StartAgent("a1", {"--work-ms", "20:20"});
  while (CountEntries(dir_ + "/ledger") < 3) std::this_thread::sleep_for(5ms);
  ClusterConfig changed;
  changed.heartbeat_ms = 50;
  changed.lease_ms = 9000;
  nlohmann::json j = {{"format", "swarm-coordination-dir"}, {"config", ToJson(changed)},
                      {"fingerprint", Fingerprint(changed)}};
  ASSERT_TRUE(fs::WriteAtomic(dir_ + "/tmp", dir_ + "/cluster.json", j.dump()).ok());
  Exit e = WaitFor(agent, 20s);
  EXPECT_TRUE(e.exited);
  EXPECT_EQ(e.code, 78);
  std::string log = ReadAll(tmp_ / "agent-a1.log");
  EXPECT_NE(log.find("cluster configuration changed (lease_ms 3000 vs 9000)"), std::string::npos)
      << log;
  EXPECT_LT(CountEntries(dir_ + "/ledger"), 1000u);
}

TEST_F(SwarmProcessTest, ConfigureChangesTheFingerprintAndNewAgentsAdoptIt) {
  Init();
  Submit(5);
  std::string before = Status()["fingerprint"];
  Ran r = Swarm({"configure", dir_, "--set", "lease_ms=4000", "--set", "max_attempts=9"});
  ASSERT_EQ(r.exit.code, 0) << r.output;
  nlohmann::json st = Status();
  EXPECT_NE(st["fingerprint"], before);
  EXPECT_EQ(st["config"]["lease_ms"], 4000);
  EXPECT_EQ(st["config"]["max_attempts"], 9);
  r = Swarm({"agent", dir_, "--id", "a1", "--exit-when-idle"});
  EXPECT_EQ(r.exit.code, 0) << r.output;
  EXPECT_EQ(Status()["items"]["done"], 5);
}

TEST_F(SwarmProcessTest, HaltStopsAllClaimingUntilResumed) {
  Init();
  Submit(10);
  ASSERT_EQ(Swarm({"halt", dir_}).exit.code, 0);
  Ran r = Swarm({"agent", dir_, "--id", "a1", "--exit-when-idle"});
  EXPECT_EQ(r.exit.code, 0);
  EXPECT_EQ(Status()["items"]["pending"], 10);
  EXPECT_EQ(Status()["halted"], true);
  EXPECT_NE(Swarm({"status", dir_}).output.find("HALT"), std::string::npos);
  ASSERT_EQ(Swarm({"resume", dir_}).exit.code, 0);
  r = Swarm({"agent", dir_, "--id", "a1", "--exit-when-idle"});
  EXPECT_EQ(r.exit.code, 0);
  EXPECT_EQ(Status()["items"]["done"], 10);
}

TEST_F(SwarmProcessTest, StatusAndCleanupShowLiveClaimsStaleLocksAndDeadAgents) {
  Init(R"({"lease_ms": 200, "heartbeat_ms": 50, "agent_timeout_ms": 200})");
  Submit(3);
  pid_t agent = StartAgent("slow", {"--work-ms", "60000:60000"});
  while (Status()["items"]["claimed"] != 1) std::this_thread::sleep_for(5ms);
  nlohmann::json st = Status();
  EXPECT_EQ(st["claims"][0]["owner"], "slow");
  EXPECT_EQ(st["agents"]["slow"]["status"], "alive");
  kill(agent, SIGKILL);
  WaitFor(agent, 10s);
  std::ofstream(dir_ + "/locks/w000002.lock") << "";  // left by a crash
  // The lease (200 ms) and the agent timeout (200 ms) run out.
  ASSERT_TRUE(faultline::testing::Eventually("the dead agent's claim to expire", [&] {
    st = Status();
    return st["dead_agents"].size() == 1 && st["expired_claims"].size() == 1;
  }, 10s, 20ms)) << st.dump();
  st = Status();
  EXPECT_EQ(st["dead_agents"], nlohmann::json::array({"slow"}));
  EXPECT_EQ(st["expired_claims"].size(), 1u);
  EXPECT_EQ(st["stale_locks"], nlohmann::json::array({"w000002.lock"}));
  std::string text = Swarm({"status", dir_}).output;
  EXPECT_NE(text.find("EXPIRED"), std::string::npos) << text;
  EXPECT_NE(text.find("STALE"), std::string::npos) << text;
  EXPECT_NE(text.find("DEAD?"), std::string::npos) << text;
  Ran dry = Swarm({"cleanup", dir_, "--dry-run"});
  EXPECT_EQ(dry.exit.code, 0);
  EXPECT_NE(dry.output.find("would return expired claims 1"), std::string::npos) << dry.output;
  EXPECT_NE(dry.output.find("would remove stale locks 1"), std::string::npos) << dry.output;
  EXPECT_EQ(Status()["expired_claims"].size(), 1u) << "dry run changed something";
  Ran real = Swarm({"cleanup", dir_});
  EXPECT_EQ(real.exit.code, 0) << real.output;
  st = Status();
  EXPECT_EQ(st["items"]["pending"], 3);
  EXPECT_EQ(st["locks"], 0);
  EXPECT_TRUE(st["agents"].empty()) << st["agents"].dump();
}

struct BadUsage {
  std::vector<std::string> args;  // DIR is replaced by the test's directory
  std::string expected;           // part of the one-line message
};

TEST_F(SwarmProcessTest, BadUsageIsOneClearLineAndExit2) {
  Init();
  TempDir foreign;
  std::ofstream(foreign / "notes.txt") << "x";
  std::ofstream(tmp_ / "items.txt") << "good-1\n# comment\n\nbad/2\n";
  const std::vector<BadUsage> cases = {
      {{"status", "/nonexistent/x"}, "does not exist"},
      {{"status", foreign.path()}, "not a swarm coordination directory"},
      {{"agent", foreign.path()}, "not a swarm coordination directory"},
      {{"init", foreign.path()}, "not empty and not a swarm coordination directory"},
      {{"init", "DIR"}, "already a swarm coordination directory"},
      {{"agent", "DIR", "--work-ms", "5"}, "expected A:B"},
      {{"agent", "DIR", "--work-ms", "9:3"}, "expected A:B"},
      {{"agent", "DIR", "--id", "a/b"}, "is not valid"},
      {{"submit", "DIR"}, "--items N or --file F"},
      {{"submit", "DIR", "--items", "0"}, "--items"},
      {{"submit", "DIR", "--file", tmp_ / "items.txt"}, "items.txt:4: \"bad/2\""},
      {{"submit", "DIR", "--file", tmp_ / "none.txt"}, "cannot open"},
      {{"init", tmp_ / "new", "--config", tmp_ / "none.json"}, "cannot open config file"},
      {{"configure", "DIR", "--set", "lease_ms=abc"}, "expected KEY=INTEGER"},
      {{"configure", "DIR", "--set", "lease_msx=5"}, "unknown setting \"lease_msx\""},
      {{"configure", "DIR", "--set", "lease_ms=0"}, "\"lease_ms\" is 0"},
      {{"bogus"}, "bogus"},
      {{}, "subcommand"},
  };
  for (const BadUsage& c : cases) {
    std::vector<std::string> args = c.args;
    for (auto& a : args) if (a == "DIR") a = dir_;
    Ran r = Swarm(args);
    std::string shown;
    for (const auto& a : c.args) shown += a + " ";
    EXPECT_TRUE(r.exit.exited && r.exit.code == 2) << shown << "-> " << r.exit.code << ": " << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << shown << "-> " << r.output;
    if (!c.args.empty() && c.args[0] != "bogus") {
      size_t lines = std::count(r.output.begin(), r.output.end(), '\n');
      EXPECT_LE(lines, 2u) << shown << "-> " << r.output;
    }
  }
  EXPECT_EQ(Status()["items"]["pending"], 0) << "a failed submit added items";
}

TEST_F(SwarmProcessTest, EveryCommandExplainsItself) {
  for (const char* cmd : {"init", "submit", "agent", "reaper", "status", "cleanup", "configure",
                          "halt", "resume", "dump"}) {
    Ran r = Swarm({cmd, "--help"});
    EXPECT_EQ(r.exit.code, 0) << cmd;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << cmd << ": " << r.output;
    EXPECT_NE(r.output.find("DIR"), std::string::npos) << cmd;
  }
  Ran top = Swarm({"--help"});
  EXPECT_EQ(top.exit.code, 0);
  EXPECT_NE(top.output.find("Exit codes"), std::string::npos);
  // The commands that take cluster settings name every one of them.
  const nlohmann::json settings = ToJson(ClusterConfig{});
  for (const char* cmd : {"init", "configure"}) {
    Ran r = Swarm({cmd, "--help"});
    for (const auto& [key, value] : settings.items()) {
      if (key == "fingerprint") continue;
      EXPECT_NE(r.output.find(key), std::string::npos) << cmd << " --help does not name " << key;
    }
  }
}

}  // namespace
}  // namespace swarm
