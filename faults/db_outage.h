// db_crash and db_restart: the database server goes away at `at_ms` (SIGKILL
// of every server process, or a clean shutdown), every client connection is
// reset, new ones are refused while it is down, and after `down_ms` it is
// started again (after a crash: crash recovery from its write-ahead log).
// The server goes and comes from timers: in lockstep every process is
// parked, so nothing is in flight and the outcome is the same every run.
//
// Landed when the server is back (crashed_at_us / stopped_at_us, up_at_us).
// A server that does not come back ends the run as a harness error.
#pragma once

#include "faults/kinds.h"

namespace faultline::faults {

class DbOutage final : public Fault {
 public:
  DbOutage(const nlohmann::json& o, bool clean)
      : at_ms_(o["at_ms"]), down_ms_(o["down_ms"]), count_(o["count"]),
        every_ms_(o["every_ms"]), clean_(clean) {}

  void Start(FaultContext& ctx) override {
    for (int i = 0; i < count_; ++i) ctx.SetTimer((at_ms_ + i * every_ms_) * 1000, kDown);
  }

  void OnTimer(FaultContext& ctx, int tag) override {
    DatabaseControl& db = ctx.database();
    std::string error;
    if (tag == kDown) {
      if (!db.Running()) return;  // still down from the last time
      if (!(clean_ ? db.Shutdown(&error) : db.Crash(&error))) return;
      down_at_ = ctx.Now();
      ctx.SetTimer(ctx.Now() + down_ms_ * 1000, kUp);
    } else if (!db.Running()) {
      int64_t took_us = 0;
      if (!db.Start(&took_us, &error)) return;
      // Wall time of the recovery stays out of the trace (it differs run to run).
      ctx.Landed({{clean_ ? "stopped_at_us" : "crashed_at_us", down_at_}, {"up_at_us", ctx.Now()}});
    }
  }

  // A run that ends while the server is down: the engine starts it for the
  // end state; the outage still happened.
  void Finish(FaultContext& ctx) override {
    if (down_at_ >= 0 && !ctx.database().Running()) {
      int64_t took_us = 0;
      std::string error;
      if (ctx.database().Start(&took_us, &error)) {
        ctx.Landed({{clean_ ? "stopped_at_us" : "crashed_at_us", down_at_},
                    {"up_at_us", ctx.Now()}});
      }
    }
  }

 private:
  enum Tag { kDown, kUp };
  int64_t at_ms_, down_ms_;
  int count_;
  int64_t every_ms_;
  bool clean_;
  int64_t down_at_ = -1;
};

inline std::vector<OptionSpec> DbOutageOptions() {
  return {
      {"at_ms", OptionSpec::Type::kInt, true, 2000, 0, 86'400'000, {},
       "run time the server goes down (ms)"},
      {"down_ms", OptionSpec::Type::kInt, true, 1000, 0, 86'400'000, {},
       "how long it stays down before it is started again (ms)"},
      {"count", OptionSpec::Type::kInt, true, 1, 1, 100, {}, "how many outages"},
      {"every_ms", OptionSpec::Type::kInt, true, 5000, 1, 86'400'000, {},
       "time between outages (ms)"},
  };
}

}  // namespace faultline::faults
