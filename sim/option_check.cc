#include "sim/option_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace faultline {
namespace {

using diag::Check;
using diag::Child;
using diag::Fail;
using diag::Quote;
using diag::Show;
using diag::ShowTyped;
using nlohmann::json;

// OptionSpec's default bound: "no upper bound worth naming".
constexpr int64_t kNoMax = std::numeric_limits<int32_t>::max();

// "from 1 to 1024", or ">= 1" for keys bounded only by kNoMax (unless that
// is the bound the value broke).
std::string Bounds(const OptionSpec& spec, bool above) {
  if (spec.max == kNoMax && !above) return fmt::format(">= {}", spec.min);
  return fmt::format("from {} to {}", spec.min, spec.max);
}

Check CheckInt(const json& v, const OptionSpec& spec, const std::string& pointer) {
  if (v.is_array()) {
    if (!spec.range_ok) {
      return Fail(pointer, fmt::format("found {}, expected an integer ({} takes no range [lo, hi])",
                                       Show(v), Quote(spec.name)));
    }
    if (v.size() != 2 || !v[0].is_number_integer() || !v[1].is_number_integer()) {
      return Fail(
          pointer,
          fmt::format("found {}, expected a range [lo, hi] of exactly two integers", Show(v)));
    }
    const int64_t lo = diag::Saturated(v[0]), hi = diag::Saturated(v[1]);
    if (lo > hi) {
      return Fail(pointer, fmt::format("found {}, expected a range [lo, hi] with lo <= hi "
                                       "(range reversed)",
                                       Show(v)));
    }
    if (lo < spec.min || hi > spec.max) {
      return Fail(pointer, fmt::format("found {}, expected a range [lo, hi] with lo and hi {}",
                                       Show(v), Bounds(spec, hi > spec.max)));
    }
    return std::nullopt;
  }
  if (!v.is_number_integer()) {
    return Fail(pointer,
                fmt::format("found {}, expected {}", ShowTyped(v),
                            spec.range_ok ? "an integer or a range [lo, hi]" : "an integer"));
  }
  const int64_t x = diag::Saturated(v);
  if (x < spec.min || x > spec.max) {
    return Fail(pointer, fmt::format("found {}, expected an integer {}", Show(v),
                                     Bounds(spec, x > spec.max)));
  }
  return std::nullopt;
}

Check CheckString(const json& v, const OptionSpec& spec, const std::string& pointer) {
  const std::string expected =
      spec.choices.empty() ? "a non-empty string" : "one of " + diag::QuotedList(spec.choices);
  if (!v.is_string()) {
    return Fail(pointer, fmt::format("found {}, expected {}", ShowTyped(v), expected));
  }
  const auto& s = v.get_ref<const std::string&>();
  const bool allowed = spec.choices.empty() ? !s.empty()
                                            : std::find(spec.choices.begin(), spec.choices.end(),
                                                        s) != spec.choices.end();
  if (!allowed) {
    return Fail(pointer, fmt::format("found {}, expected {}{}", Show(v), expected,
                                     diag::Suggest(s, spec.choices)));
  }
  return std::nullopt;
}

Check CheckChoiceList(const json& v, const OptionSpec& spec, const std::string& pointer) {
  const std::string expected =
      "a non-empty list of distinct strings, each one of " + diag::QuotedList(spec.choices);
  if (!v.is_array() || v.empty()) {
    return Fail(pointer, fmt::format("found {}, expected {}", ShowTyped(v), expected));
  }
  for (size_t i = 0; i < v.size(); ++i) {
    OptionSpec one = spec;
    one.type = OptionSpec::Type::kString;
    if (Check problem = CheckString(v[i], one, Child(pointer, i))) return problem;
    const auto end = v.begin() + static_cast<long>(i);
    if (std::find(v.begin(), end, v[i]) != end) {
      return Fail(Child(pointer, i), fmt::format("{} is listed twice", Show(v[i])));
    }
  }
  return std::nullopt;
}

// {"one_of": [a, b, ...]}: the option is one of these values, drawn per run
// (each checked as a plain value of `spec`; no ranges, no nesting).
Check CheckOneOf(const json& v, const OptionSpec& spec, const std::string& pointer) {
  const auto list = v.find(kOneOf);
  if (v.size() != 1 || list == v.end() || !list->is_array() || list->size() < 2) {
    return Fail(pointer, fmt::format("found {}, expected a value of {} or {{\"{}\": [at least "
                                     "two values]}} (one drawn per run)",
                                     Show(v), Quote(spec.name), kOneOf));
  }
  OptionSpec plain = spec;
  plain.range_ok = false;
  const std::string list_pointer = Child(pointer, kOneOf);
  for (size_t i = 0; i < list->size(); ++i) {
    const json& alternative = (*list)[i];
    if (alternative.is_object()) {
      return Fail(Child(list_pointer, i), "a \"one_of\" alternative cannot be another choice");
    }
    if (Check problem = CheckOption(alternative, plain, Child(list_pointer, i))) return problem;
    const auto end = list->begin() + static_cast<long>(i);
    if (std::find(list->begin(), end, alternative) != end) {
      return Fail(Child(list_pointer, i), fmt::format("{} is listed twice", Show(alternative)));
    }
  }
  return std::nullopt;
}

// The value of `spec` in `entry` as written, or its default.
const json& WrittenOr(const json& entry, const OptionSpec& spec) {
  const auto it = entry.find(spec.name);
  return it == entry.end() ? spec.default_value : *it;
}

}  // namespace

Check CheckOption(const json& v, const OptionSpec& spec, const std::string& pointer) {
  switch (spec.type) {
    case OptionSpec::Type::kStringList:
      return CheckChoiceList(v, spec, pointer);
    case OptionSpec::Type::kInt:
      return CheckInt(v, spec, pointer);
    case OptionSpec::Type::kString:
      return CheckString(v, spec, pointer);
    case OptionSpec::Type::kBool:
      if (!v.is_boolean()) {
        return Fail(pointer, fmt::format("found {}, expected true or false", ShowTyped(v)));
      }
      return std::nullopt;
  }
  return std::nullopt;
}

Check CheckEntryOptions(const json& entry, const std::vector<OptionSpec>& specs,
                        const std::string& pointer, std::string_view name_key,
                        std::string_view what, const std::string& name) {
  std::vector<std::string> options;
  for (const OptionSpec& spec : specs) options.push_back(spec.name);
  for (const auto& [key, value] : entry.items()) {
    if (key != name_key && std::find(options.begin(), options.end(), key) == options.end()) {
      return Fail(Child(pointer, key),
                  diag::Unknown("option", key, options, fmt::format("options of {}", Quote(name))));
    }
  }
  for (const OptionSpec& spec : specs) {
    const auto it = entry.find(spec.name);
    if (it != entry.end() && it->is_object()) {
      if (Check problem = CheckOneOf(*it, spec, Child(pointer, spec.name))) return problem;
    } else if (it != entry.end()) {
      if (Check problem = CheckOption(*it, spec, Child(pointer, spec.name))) return problem;
    } else if (spec.default_value.is_null()) {
      return Fail(pointer, fmt::format("missing required option {} of {} {}", Quote(spec.name),
                                       what, Quote(name)));
    }
  }
  return std::nullopt;
}

json DrawValue(const json& value, const Rng& root, const std::string& pointer) {
  if (value.is_object() && value.contains(kOneOf)) {
    const json& list = value[kOneOf];
    return list[root.Split(pointer).Index(list.size())];
  }
  if (!value.is_array()) return value;
  return root.Split(pointer).Between(value[0].get<int64_t>(), value[1].get<int64_t>());
}

json ResolveOptions(const json& entry, const std::vector<OptionSpec>& specs, const Rng& root,
                    const std::string& pointer) {
  json options = json::object();
  for (const OptionSpec& spec : specs) {
    // Ranges of numbers and "one_of" choices are drawn: a list option's
    // array is its value.
    const json& written = WrittenOr(entry, spec);
    options[spec.name] = spec.type == OptionSpec::Type::kInt || written.is_object()
                             ? DrawValue(written, root, Child(pointer, spec.name))
                             : written;
  }
  return options;
}

json DefaultOptions(const std::vector<OptionSpec>& specs) {
  json options = json::object();
  for (const OptionSpec& spec : specs) options[spec.name] = spec.default_value;
  return options;
}

std::string OptionListing(const std::vector<OptionSpec>& specs) {
  std::string out;
  for (const OptionSpec& o : specs) {
    const std::string def =
        o.default_value.is_null() ? "required" : "default " + o.default_value.dump();
    out += fmt::format("    {:<18} {} ({}{})\n", o.name, o.help, def,
                       o.range_ok ? "; a range [lo, hi] is drawn from the seed" : "");
    if (o.choices.empty()) continue;
    // One of: a, b, ... wrapped under the option's help.
    constexpr size_t kWidth = 76;
    std::string line = "one of:";
    for (size_t c = 0; c < o.choices.size(); ++c) {
      const std::string next = " " + o.choices[c] + (c + 1 < o.choices.size() ? "," : "");
      if (line.size() + next.size() > kWidth) {
        out += fmt::format("    {:<18} {}\n", "", line);
        line = "       ";
      }
      line += next;
    }
    out += fmt::format("    {:<18} {}\n", "", line);
  }
  return out;
}

}  // namespace faultline
