// What the end-to-end tests of the faultline binary share: a scratch
// directory and a way to run faultline in it, a small scenario, reading a
// run's trace, running a bundled scenario twice, and finding a process's
// descendants. The tests are split by command: faultline_cli_test.cc (run,
// replay, validate, list), faultline_faults_cli_test.cc (the bundled fault
// scenarios), faultline_telemetry_cli_test.cc (the collector and `sink`).
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline {

class FaultlineCliTest : public ::testing::Test {
 public:
  testing::TempDir tmp_;

  testing::Ran Faultline(std::vector<std::string> args,
                         std::chrono::milliseconds timeout = std::chrono::seconds(300)) {
    args.insert(args.begin(), FAULTLINE_BIN);
    return testing::Run(args, tmp_ / "cmd.log", timeout);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(tmp_ / name) << text;
    return tmp_ / name;
  }
  nlohmann::json Verdict(const std::string& run_dir) {
    return nlohmann::json::parse(testing::ReadAll(run_dir + "/verdict.json"), nullptr, false);
  }
};

inline constexpr const char* kSmall = R"({
  "name": "small", "seed": 3,
  "coordinator": {"lease_ms": 800, "heartbeat_ms": 200, "reap_interval_ms": 300, "agent_timeout_ms": 600},
  "agents": {"count": 4, "work_ms": [10, 80]},
  "work": {"items": 40},
  "faults": [{"kind": "kill_agent", "at_ms": [50, 300], "count": 2, "every_ms": 100, "restart_after_ms": 200}]
})";

inline std::vector<nlohmann::json> Trace(const std::string& run_dir) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(run_dir + "/trace.jsonl");
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// Runs a bundled scenario twice (--check-determinism) and returns its run
// directory; the verdict must be ok.
inline std::string RunBundled(FaultlineCliTest* t, const std::string& name, const std::string& out,
                              testing::Ran* ran) {
  *ran = t->Faultline({"run", std::string(SCENARIO_DIR) + "/" + name + ".json", "--out", out,
                       "--check-determinism"});
  return out + "/" + name + "-1";
}

// Every process whose parent chain reaches `root`, from /proc.
inline std::set<pid_t> Descendants(pid_t root) {
  std::map<pid_t, pid_t> parent;
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
    std::string stat;
    std::getline(in, stat);
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    int ppid = 0;
    char state = 0;
    sscanf(stat.c_str() + close + 2, "%c %d", &state, &ppid);
    if (state != 'Z') parent[pid] = ppid;
  }
  closedir(d);
  std::set<pid_t> out;
  bool grew = true;
  while (grew) {
    grew = false;
    for (auto [pid, ppid] : parent) {
      if ((ppid == root || out.count(ppid)) && !out.count(pid)) {
        out.insert(pid);
        grew = true;
      }
    }
  }
  return out;
}

}  // namespace faultline
