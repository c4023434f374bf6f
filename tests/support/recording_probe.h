// A Probe for tests: records every yield point and event, and can stop the
// process's operation at a chosen yield point by throwing (a crash at exactly
// that step, as far as the on-disk state is concerned).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "coordinator/probe.h"

namespace faultline::testing {

struct CrashHere {
  std::string point;
  std::string item;
};

class RecordingProbe final : public swarm::Probe {
 public:
  void Yield(std::string_view point, std::string_view item) override {
    yields.emplace_back(std::string(point) + " " + std::string(item));
    if (on_yield) on_yield(point, item);
    if (!crash_at.empty() && point == crash_at && (crash_item.empty() || item == crash_item)) {
      crash_at.clear();
      throw CrashHere{std::string(point), std::string(item)};
    }
  }
  void Emit(const nlohmann::json& event) override { events.push_back(event); }
  void Reached(std::string_view name, bool hit = true) override {
    if (hit && on_reached) on_reached(name);
  }
  bool recording() const override { return true; }

  size_t Count(std::string_view type) const {
    size_t n = 0;
    for (const auto& e : events) n += e.value("type", "") == type;
    return n;
  }

  std::vector<std::string> yields;
  std::vector<nlohmann::json> events;
  // Called at every yield, e.g. to change the world at an exact step.
  std::function<void(std::string_view point, std::string_view item)> on_yield;
  // Called at every probe reached (hit), e.g. to act between two steps that
  // have no yield point between them.
  std::function<void(std::string_view name)> on_reached;
  std::string crash_at;    // throw CrashHere at the next yield at this point
  std::string crash_item;  // ... for this item only ("" = any)
};

}  // namespace faultline::testing
