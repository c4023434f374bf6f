// Choosing the agents a network fault cuts off or slows down: `count` live
// agents, drawn from the fault's own stream in the run's set-up order (the
// same agents in every run of a seed). Fewer if fewer are alive.
#pragma once

#include <string>
#include <vector>

#include "sim/fault.h"

namespace faultline::faults {

inline std::vector<std::string> PickLiveAgents(FaultContext& ctx, int count) {
  ProcessControl& procs = ctx.processes();
  std::vector<std::string> alive;
  for (const std::string& a : procs.List("agent")) {
    if (procs.Alive(a)) alive.push_back(a);
  }
  std::vector<std::string> picked;
  while (static_cast<int>(picked.size()) < count && !alive.empty()) {
    const size_t i = ctx.rng().Index(alive.size());
    picked.push_back(alive[i]);
    alive.erase(alive.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return picked;
}

}  // namespace faultline::faults
