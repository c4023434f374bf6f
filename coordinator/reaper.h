// The janitor daemon: one Store::Reap pass every reap_interval_ms.
#pragma once

#include <atomic>

#include "coordinator/clock.h"
#include "coordinator/probe.h"
#include "coordinator/store.h"
#include "coordinator/telemetry.h"

namespace swarm {

class Reaper {
 public:
  // Borrowed pointers outlive the reaper; `stop` ends the loop. With
  // `telemetry`, each pass also exports the spools of agents that are not
  // running.
  Reaper(Store* store, Clock* clock, Probe* probe, const std::atomic<bool>* stop, bool verbose,
         telemetry::ReaperTelemetry* telemetry = nullptr)
      : store_(store), clock_(clock), probe_(probe), stop_(stop), verbose_(verbose),
        telemetry_(telemetry) {}

  // Runs passes until stopped (or one pass if `once`); returns an exit code.
  int Run(bool once);

 private:
  Store* store_;
  Clock* clock_;
  Probe* probe_;
  const std::atomic<bool>* stop_;
  bool verbose_;
  telemetry::ReaperTelemetry* telemetry_;
};

}  // namespace swarm
