// `faultline sink`: the collector (and stub model) of sim/sink.h as a process
// of its own, the one the engine starts per run (sim/sink_process.h) and a
// user can start by hand.
//
// Control (when FAULTLINE_CTL_FD names a socket, as under the simulator), one
// JSON object per line:
//   sink -> sim   {"ready": {"port": P}}            once listening
//   sim -> sink   {"mode": "up" | "503" | "blackhole"}
//   sink -> sim   {"ok": true, "mode": M}           after the switch took effect
// End of file on the control socket stops the sink.
#pragma once

#include <atomic>
#include <string>

#include "sim/sink.h"

namespace faultline {

struct SinkOptions {
  std::string host = "127.0.0.1";
  int port = 4318;
  std::string record;
  CollectorMode mode = CollectorMode::kUp;
  const std::atomic<bool>* interrupted = nullptr;  // set by SIGINT/SIGTERM
};

// `faultline sink`: serves until interrupted or, under the simulator, until
// its control socket closes. Returns an exit code (0; 3 when it cannot bind
// or record).
int RunSink(const SinkOptions& options);

}  // namespace faultline
