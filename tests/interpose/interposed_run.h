// Test and benchmark support for sim/interposed_processes.h: start programs
// under libfaultline_interpose.so and drive them with a seeded random
// schedule, the way the engine's random scheduler will.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sim/interposed_processes.h"
#include "sim/rng.h"

namespace faultline::testing {

// Starts `argv` in `cwd` with the controlled environment added to this
// process's own; stdout and stderr go to `out_path`. Returns the pid, or -1.
inline pid_t SpawnControlled(const std::vector<std::string>& argv, const std::string& cwd,
                             const std::string& out_path,
                             const std::vector<std::pair<std::string, std::string>>& extra_env) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& [k, v] : extra_env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid != 0) return pid;
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0 || chdir(cwd.c_str()) != 0) _exit(126);
  dup2(out, 1);
  dup2(out, 2);
  execve(args[0], args.data(), envp.data());
  _exit(127);
}

struct ScheduleResult {
  base::Status status;
  std::vector<std::string> log;  // Describe() of each process as it was stepped
  bool deadlock = false;         // nothing runnable, no timer, not everyone exited
  size_t steps = 0;
};

// Called before each step with the process about to be stepped; returning
// true kills it (at the point where it is parked) instead of stepping it.
using KillHook = std::function<bool(const InterposedProcess&)>;

// Steps the processes, each time one drawn uniformly from Runnable() with
// `seed`, until everyone has exited (or `max_steps`).
inline ScheduleResult RunSchedule(InterposedProcesses& procs, uint64_t seed,
                                  const KillHook& kill_hook = nullptr, size_t max_steps = 100000) {
  ScheduleResult r;
  Rng rng = Rng(seed).Split("schedule");
  while (!procs.Done() && r.steps < max_steps) {
    auto runnable = procs.Runnable();
    if (runnable.empty()) {
      if (procs.AdvanceClock()) continue;
      r.deadlock = true;
      return r;
    }
    const std::string name = runnable[rng.Index(runnable.size())];
    r.log.push_back(procs.Describe(name));
    if (kill_hook && kill_hook(*procs.Find(name))) {
      r.log.push_back("kill " + name);
      r.status = procs.Kill(name);
    } else {
      r.status = procs.Step(name);
    }
    ++r.steps;
    if (!r.status.ok()) return r;
  }
  return r;
}

}  // namespace faultline::testing
