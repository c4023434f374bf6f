// Typed options of a plug-in (fault kinds today), with defaults and the
// ranges a scenario may give instead of a value (DESIGN §4: a range [a, b] is
// drawn from the seed). Scenario validation checks every option against its
// spec; a plug-in only ever sees resolved, valid values.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace faultline {

struct OptionSpec {
  // kStringList: a JSON array of distinct strings, each one of `choices`,
  // not empty; never a range.
  enum class Type { kInt, kString, kBool, kStringList };
  std::string name;
  Type type = Type::kInt;
  bool range_ok = false;         // kInt only: [lo, hi] allowed, drawn from the seed
  nlohmann::json default_value;  // null: the option is required
  int64_t min = 0;               // kInt bounds (inclusive)
  int64_t max = std::numeric_limits<int32_t>::max();
  std::vector<std::string> choices;  // kString: allowed values (empty: any non-empty)
  std::string help;
};

}  // namespace faultline
