// The process side of the control protocol (sim/protocol/control_protocol.h).
//
// A ControlChannel is both the Clock and the Probe of a process that runs
// under the simulator. Lockstep: yields and sleeps block until the simulator
// answers, and the clock reads the simulated time of the last answer.
// The clock is the boot clock (clock.h): in lockstep the simulator's "boot"
// when it sends one (the process's wall clock has been stepped), else its
// "now". Freerun: real clock (RealClock, anchored like any swarm process's) and
// sleeps, inert yields; events only, stamped with CLOCK_MONOTONIC.
//
// Thread-compatible: one thread per process talks to the channel.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/clock.h"
#include "coordinator/probe.h"

namespace swarm {

class ControlChannel final : public Clock, public Probe {
 public:
  // Takes ownership of `fd`. Sends the hello message and waits for the first
  // "go", which carries the initial simulated time.
  ControlChannel(int fd, std::string_view role, std::string_view id, bool lockstep = true);
  ~ControlChannel() override;
  ControlChannel(const ControlChannel&) = delete;
  ControlChannel& operator=(const ControlChannel&) = delete;

  int64_t NowMicros() override;
  void SleepMicros(int64_t micros) override;
  bool Simulated() const override { return lockstep_; }
  int64_t ServerMicros() override { return lockstep_ ? server_ : NowMicros(); }
  bool Skewed() const override {
    return lockstep_ ? server_ != boot_ : skew_offset_us_ != 0 || skew_drift_ppm_ != 0;
  }
  void SetBootAnchor(int64_t anchor_us) override { real_.SetBootAnchor(anchor_us); }
  void Yield(std::string_view point, std::string_view item) override;
  void Emit(const nlohmann::json& event) override;
  void Reached(std::string_view name, bool hit) override;
  bool recording() const override { return true; }
  // Freerun: the clock reads the real clock + offset_us, drifting by
  // drift_ppm from now on (kClockSkewEnv; the clock_skew fault).
  void SkewRealClock(int64_t offset_us, int64_t drift_ppm);
  // Lockstep: yields at these points return at once, without a message
  // (protocol::kPassPointsEnv). A comma-separated list; "" passes none.
  void PassPoints(std::string_view points);

 private:
  void Send(const nlohmann::json& message);
  void AwaitGo();
  [[noreturn]] void Lost(std::string_view what);

  int fd_;
  bool lockstep_;
  RealClock real_;
  int64_t now_ = 0;     // lockstep: the wall clock of the last answer
  int64_t boot_ = 0;    // lockstep: the boot clock of the last answer
  int64_t server_ = 0;  // lockstep: the database server's clock of the last answer
  int64_t skew_offset_us_ = 0;
  int64_t skew_drift_ppm_ = 0;
  int64_t skew_origin_us_ = 0;  // real clock when the skew began
  std::string buffer_;
  std::vector<std::string> pass_;  // lockstep: points passed without parking
};

// The clock and probe a coordinator process runs with: a ControlChannel when
// FAULTLINE_CTL_FD names a usable descriptor, else the real clock and a no-op
// probe.
struct Runtime {
  Clock* clock = nullptr;
  Probe* probe = nullptr;
  std::unique_ptr<Clock> owned_clock;
  std::unique_ptr<Probe> owned_probe;
  std::unique_ptr<ControlChannel> channel;
};
Runtime MakeRuntimeFromEnvironment(std::string_view role, std::string_view id);

}  // namespace swarm
