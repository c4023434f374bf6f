// An in-memory FaultContext for the unit tests of faults/ (ninja's
// FakeCommandRunner, for faults): a run clock the test moves, timers it
// fires, a process table with alive flags, a real scratch directory with the
// coordination directory in it, and a record of everything the fault did —
// kills, restarts, holds, launch settings, clock skews and steps, endpoint switches,
// tool runs, landings.
//
// It owns the fault under test, made from its kind with the options given
// (every other option at its default), and drives it through the phases the
// engine does: Prepare, Start, timers and yields, Finish. It holds the fault
// to its contract: using a capability its kind does not declare, a launch
// setting or SetupFailed outside Prepare, or a timer in the past fails the
// test (a gtest non-fatal failure).
//
// Not thread-safe; one fault per context, as in the engine.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/fault.h"
#include "tests/faults/fake_server_store.h"
#include "tests/support/temp_dir.h"

namespace faultline::testing {

// The run a fault is tested in.
struct FakeRun {
  uint64_t seed = 1;
  int agents = 4;      // a0 .. a{agents-1}
  bool reaper = true;  // and "reaper", listed first, as the engine sets them up
  bool lockstep = true;
  bool collector = false;  // the run has a collector endpoint
  bool model = false;      // the run has a stub model endpoint
};

class FakeFaultContext final : public FaultContext,
                               ProcessControl,
                               ClockControl,
                               EndpointControl,
                               CoordinationDirectory {
 public:
  // `options`: the scenario's entry without "kind" (missing options take
  // their defaults; a missing required option fails the test).
  FakeFaultContext(const FaultKind& kind, nlohmann::json options, FakeRun run = {});
  ~FakeFaultContext() override;

  Fault& fault() { return *fault_; }
  const std::string& kind() const { return kind_.name; }

  // --- driving the fault, as the engine does ---
  void Prepare();
  void Start();  // Prepare first if the test did not
  // Fires every timer due at or before `until`, in time order (ties: in the
  // order they were set), the clock at each one's time; timers they set are
  // fired too if due. Then the clock reads `until`. Returns how many fired.
  int RunUntil(int64_t until);
  // Parks `proc` at a yield point now: the fault's OnYield.
  bool Yield(const std::string& proc, std::string_view point, std::string_view item = "");
  void Finish();

  // --- the test's hand on the run ---
  void set_now(int64_t now) { now_ = now; }
  // A process dies or comes back by itself (not through the fault).
  void SetAlive(const std::string& proc, bool alive);
  // The fault's random stream as it was before any draw: draw from a copy to
  // know what the fault will draw.
  Rng stream() const { return initial_rng_; }
  nlohmann::json& settings() { return settings_; }
  void set_fingerprint(std::string fingerprint) { fingerprint_ = std::move(fingerprint); }
  // What RunTool does (default: succeeds and does nothing).
  void set_tool(std::function<bool(const std::vector<std::string>&, std::string*)> tool) {
    tool_ = std::move(tool);
  }
  // LimitFiles of `proc` fails from now on (as a failing prlimit would).
  void FailLimitFiles(const std::string& proc) { limit_fails_.insert(proc); }
  const TempDir& dir() const { return dir_; }

  // --- what the fault did ---
  struct Timer {
    int64_t at;
    int tag;
  };
  struct Act {  // a kill, restart or hold, and when
    std::string proc;
    int64_t at;
    int64_t until = 0;  // holds
  };
  struct LimitCall {
    std::string proc;
    int limit;
    int64_t at;
    bool prepare;  // set in Prepare (for the process's start)
  };
  struct SwitchCall {
    Endpoint endpoint;
    CollectorMode mode;
    int64_t at;
  };
  struct Landing {
    int64_t at;
    nlohmann::json details;
  };
  struct Process {
    std::string role;
    bool alive = true;
    int starts = 1;
    std::vector<std::string> args;  // added by the fault
    std::vector<std::pair<std::string, std::string>> env;
    int nofile_limit = 0;  // 0: not limited
    int64_t skew_offset_us = 0;
    int64_t skew_drift_ppm = 0;
    bool steppable = false;    // made steppable in Prepare
    int64_t wall_step_us = 0;  // the sum of its wall clock's steps
  };
  struct StepCall {
    std::string proc;
    int64_t step_us;
    int64_t at;
  };

  const std::vector<Timer>& timers_set() const { return timers_set_; }
  size_t timers_pending() const { return pending_.size(); }
  const std::vector<Act>& kills() const { return kills_; }
  // SIGTERMs sent; the process stays alive until the test says it exited.
  const std::vector<Act>& terminations() const { return terminations_; }
  const std::vector<Act>& restarts() const { return restarts_; }
  const std::vector<Act>& holds() const { return holds_; }
  const std::vector<LimitCall>& limits() const { return limits_; }
  const std::vector<SwitchCall>& switches() const { return switches_; }
  const std::vector<StepCall>& steps() const { return steps_; }
  const std::vector<std::vector<std::string>>& tool_runs() const { return tool_runs_; }
  // When the fault asked for a state check (CheckState).
  const std::vector<int64_t>& state_checks() const { return state_checks_; }
  const std::vector<Landing>& landings() const { return landings_; }
  const std::vector<std::string>& setup_failures() const { return setup_failures_; }
  const Process& process(const std::string& id) const;
  // The last value the fault gave `key` in `proc`'s environment ("" if none).
  std::string env(const std::string& proc, const std::string& key) const;

  // --- FaultContext ---
  int64_t Now() const override { return now_; }
  bool Lockstep() const override { return run_.lockstep; }
  Rng& rng() override { return rng_; }
  void SetTimer(int64_t at, int tag) override;
  void Landed(const nlohmann::json& details) override;
  void SetupFailed(const std::string& why) override;
  ProcessControl& processes() override;
  ClockControl& clocks() override;
  EndpointControl& endpoints() override;
  CoordinationDirectory& directory() override;
  // A database server and the network to it (fake_server_store.h).
  NetworkControl& network() override;
  DatabaseControl& database() override;
  FakeServerStore& server_store() { return server_store_; }

  // --- ProcessControl ---
  std::vector<std::string> List(std::string_view role) const override;
  bool Alive(const std::string& proc) const override;
  bool Kill(const std::string& proc) override;
  bool Terminate(const std::string& proc) override;
  void Restart(const std::string& proc) override;
  void Hold(const std::string& proc, int64_t until) override;
  void AddArgs(const std::string& agent, const std::vector<std::string>& args) override;
  void AddEnv(const std::string& proc, const std::string& key, const std::string& value) override;
  bool LimitFiles(const std::string& proc, int limit) override;

  // --- ClockControl ---
  void Skew(const std::string& proc, int64_t offset_us, int64_t drift_ppm) override;
  void Steppable(const std::string& proc) override;
  bool Step(const std::string& proc, int64_t step_us) override;

  // --- EndpointControl ---
  bool Switch(Endpoint endpoint, CollectorMode mode) override;

  // --- CoordinationDirectory ---
  std::string Path() const override { return dir_ / "coord"; }
  std::string ScratchDir() const override { return dir_.path(); }
  std::string WriteScratchFile(const std::string& name, const std::string& content) override;
  nlohmann::json Settings() const override { return settings_; }
  std::string Fingerprint() const override;
  bool RunTool(const std::vector<std::string>& args, std::string* error) override;
  void CheckState() override;

 private:
  enum class Phase { kNew, kPrepare, kPrepared, kRunning, kFinished };
  struct PendingTimer {
    int64_t at;
    uint64_t order;
    int tag;
  };

  // Fails the test if the kind does not declare `bits`.
  void Require(unsigned bits, const char* what) const;
  void RequirePrepare(const char* what) const;
  Process* Find(const std::string& id);

  FaultKind kind_;
  FakeRun run_;
  std::unique_ptr<Fault> fault_;
  Phase phase_ = Phase::kNew;
  int64_t now_ = 0;
  Rng initial_rng_;
  Rng rng_;
  TempDir dir_;
  nlohmann::json settings_;
  std::string fingerprint_ = "fp-initial";
  std::function<bool(const std::vector<std::string>&, std::string*)> tool_;
  std::set<std::string> limit_fails_;
  std::vector<std::string> order_;  // process ids in set-up order
  std::map<std::string, Process> procs_;
  std::vector<PendingTimer> pending_;
  uint64_t timer_order_ = 0;

  std::vector<Timer> timers_set_;
  std::vector<Act> kills_;
  std::vector<Act> terminations_;
  std::vector<Act> restarts_;
  std::vector<Act> holds_;
  std::vector<LimitCall> limits_;
  std::vector<SwitchCall> switches_;
  std::vector<StepCall> steps_;
  std::vector<std::vector<std::string>> tool_runs_;
  std::vector<int64_t> state_checks_;
  std::vector<Landing> landings_;
  std::vector<std::string> setup_failures_;
  std::map<Endpoint, CollectorMode> endpoint_modes_;
  FakeServerStore server_store_{[this] { return now_; }};
};

// The kind named `name` in the registry (fails the test if there is none).
const FaultKind& KindNamed(const std::string& name);

}  // namespace faultline::testing
