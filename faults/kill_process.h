// The mechanism kill_agent and reaper_crash share: SIGKILL (or SIGTERM) a
// process at run times, `count` times `every_ms` apart, optionally restarting
// it under the same id after `restart_after_ms`. The victim is a random live
// agent, or one named process.
#pragma once

#include <string>
#include <vector>

#include "sim/fault.h"

namespace faultline::faults {

class KillProcess final : public Fault {
 public:
  // `victim` empty: a random live agent at each firing. Options: at_ms,
  // count, every_ms, restart_after_ms (-1: never), and optionally signal
  // ("SIGKILL", the default, or "SIGTERM": the victim shuts down by itself,
  // and its restart waits until it has).
  KillProcess(const nlohmann::json& options, std::string victim);

  void Start(FaultContext& ctx) override;
  void OnTimer(FaultContext& ctx, int tag) override;

 private:
  enum { kKill, kRestart };
  std::string Choose(FaultContext& ctx) const;

  int64_t at_ms_;
  int count_;
  int64_t every_ms_;
  int64_t restart_after_ms_;
  bool terminate_ = false;  // SIGTERM rather than SIGKILL
  std::string victim_;
  std::vector<std::string> pending_restarts_;  // in kill order
};

}  // namespace faultline::faults
