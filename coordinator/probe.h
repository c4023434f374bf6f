// The yield-point and history seam.
//
// The coordinator calls Yield() at every step that touches shared state and
// Emit() for every history event (claim granted, effect written, agent
// declared dead, ...). Outside the simulator both are no-ops; under the
// simulator they go over the control channel (control_channel.h), where a
// yield parks the process until the scheduler lets it go on.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace swarm {

class Probe {
 public:
  virtual ~Probe() = default;
  // `point` names the step (sim/protocol/control_protocol.h); `item` the work
  // item it concerns, or "" when none.
  virtual void Yield(std::string_view point, std::string_view item) = 0;
  // Records a history event; `event` is a JSON object with at least "type".
  virtual void Emit(const nlohmann::json& event) = 0;
  // A probe (sim/protocol/control_protocol.h, namespace probe): the process
  // reached the named transition (`hit` true), or evaluated a "sometimes"
  // condition there. Counted by the simulator for the verdict, never traced;
  // a no-op outside it.
  virtual void Reached(std::string_view name, bool hit = true) {
    (void)name;
    (void)hit;
  }
  // False when events go nowhere, so callers may skip building them.
  virtual bool recording() const = 0;
};

class NullProbe final : public Probe {
 public:
  void Yield(std::string_view, std::string_view) override {}
  void Emit(const nlohmann::json&) override {}
  bool recording() const override { return false; }
};

}  // namespace swarm
