#include "sim/scenario.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "sim/skills.h"
#include "sim/sut.h"

namespace faultline {
namespace {

using nlohmann::json;

// The largest integer a key takes unless its spec says otherwise: every
// count and duration fits an int, and sums of durations fit an int64_t.
constexpr int64_t kNoMax = std::numeric_limits<int32_t>::max();

constexpr std::string_view kNameRule =
    "a name of 1 to 64 characters from a-z, 0-9, '.', '_' and '-'";

// What is wrong and where; ParseScenario adds the file.
struct Problem {
  std::string pointer;
  std::string message;
};
using Check = std::optional<Problem>;

Check Fail(std::string pointer, std::string message) {
  return Problem{std::move(pointer), std::move(message)};
}

// RFC 6901: "~" and "/" inside a reference token are escaped.
std::string Child(const std::string& pointer, std::string_view token) {
  std::string out = pointer + "/";
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Child(const std::string& pointer, size_t index) {
  return fmt::format("{}/{}", pointer, index);
}

std::string Quote(std::string_view s) { return json(s).dump(); }

// A value as people write it ("[16, 4]", not dump()'s "[16,4]"), cut when long.
std::string Show(const json& j) {
  std::string out;
  if (j.is_array()) {
    out = "[";
    for (size_t i = 0; i < j.size(); ++i) out += (i == 0 ? "" : ", ") + Show(j[i]);
    out += "]";
  } else if (j.is_object()) {
    out = "{";
    bool first = true;
    for (const auto& [key, value] : j.items()) {
      out += fmt::format("{}{}: {}", first ? "" : ", ", Quote(key), Show(value));
      first = false;
    }
    out += "}";
  } else {
    out = j.dump(-1, ' ', /*ensure_ascii=*/true);
  }
  constexpr size_t kMaxShown = 60;
  return out.size() <= kMaxShown ? out : out.substr(0, kMaxShown - 3) + "...";
}

std::string TypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a floating-point number";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    default:
      return "null";
  }
}

// For a value of the wrong type: `"abc" (a string)`.
std::string ShowTyped(const json& j) {
  return j.is_null() ? "null" : fmt::format("{} ({})", Show(j), TypeName(j));
}

std::string QuotedList(const std::vector<std::string>& names) {
  std::vector<std::string> quoted;
  for (const std::string& name : names) quoted.push_back(Quote(name));
  return fmt::format("{}", fmt::join(quoted, ", "));
}

// Optimal string alignment distance: typos are mostly one edit or one swap.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, substitute});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// ` (did you mean "count"?)` when a known name is a typo away from `word`.
std::string Suggest(std::string_view word, const std::vector<std::string>& known) {
  constexpr size_t kMaxTypo = 2;
  const std::string* best = nullptr;
  size_t best_distance = std::min(kMaxTypo + 1, word.size());
  for (const std::string& name : known) {
    const size_t distance = EditDistance(word, name);
    if (distance < best_distance) {
      best = &name;
      best_distance = distance;
    }
  }
  return best == nullptr ? "" : fmt::format(" (did you mean {}?)", Quote(*best));
}

// `unknown key "cuont" (did you mean "count"?); known keys: count, work_ms`
std::string Unknown(std::string_view what, const std::string& name,
                    const std::vector<std::string>& known, std::string_view known_what) {
  return fmt::format("unknown {} {}{}; known {}: {}", what, Quote(name), Suggest(name, known),
                     known_what, fmt::join(known, ", "));
}

// The first key of `object` that is not in `known`, if any.
std::optional<std::string> FirstUnknownKey(const json& object,
                                           const std::vector<std::string>& known) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) return key;
  }
  return std::nullopt;
}

// A JSON integer as int64_t; unsigned values beyond its range saturate (and
// so fail every bound).
int64_t Saturated(const json& j) {
  if (j.is_number_unsigned() && j.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()}) {
    return std::numeric_limits<int64_t>::max();
  }
  return j.get<int64_t>();
}

OptionSpec IntKey(std::string name, int64_t default_value, int64_t min, int64_t max,
                  bool range_ok) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = OptionSpec::Type::kInt;
  spec.range_ok = range_ok;
  spec.default_value = default_value;
  spec.min = min;
  spec.max = max;
  return spec;
}

OptionSpec ChoiceKey(std::string name, std::string default_value,
                     std::vector<std::string> choices) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = OptionSpec::Type::kString;
  spec.default_value = std::move(default_value);
  spec.choices = std::move(choices);
  return spec;
}

OptionSpec BoolKey(std::string name, bool default_value) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = OptionSpec::Type::kBool;
  spec.default_value = default_value;
  return spec;
}

// A group of typed keys: an object-valued top-level key, or (name "") the
// plain values of the top level itself. Faults use the same OptionSpec, so
// one checker serves both.
struct Section {
  std::string name;
  std::vector<OptionSpec> keys;
  std::vector<std::string> other_keys;  // keys of a shape of their own, checked elsewhere
};

// Defaults equal ResolvedScenario's member initializers (a test holds them
// together); docs/scenario-format.md documents this table.
const std::vector<Section>& Sections() {
  static const auto* const sections = new std::vector<Section>{
      {"", {ChoiceKey("mode", "lockstep", {"lockstep", "freerun"}), BoolKey("reaper", true)}},
      {"coordinator",
       {IntKey("lease_ms", 3000, 1, kNoMax, true), IntKey("heartbeat_ms", 500, 1, kNoMax, true),
        IntKey("reap_interval_ms", 1000, 1, kNoMax, true),
        IntKey("agent_timeout_ms", 3000, 1, kNoMax, true),
        IntKey("max_attempts", 5, 1, kNoMax, true), IntKey("clock_skew_ms", 0, 0, kNoMax, true)}},
      {"agents",
       {IntKey("count", 4, 1, 1024, true), IntKey("work_ms", 0, 0, 3'600'000, true)},
       {"skills"}},
      {"work", {IntKey("items", 100, 1, 1'000'000, true)}, {"skills"}},
      {"scheduler",
       {ChoiceKey("kind", "random", {"random", "pct"}), IntKey("depth", 3, 1, 64, true)}},
      {"telemetry",
       {BoolKey("enabled", false), IntKey("batch_spans", 32, 1, 100'000, true),
        IntKey("schedule_delay_ms", 500, 0, kNoMax, true),
        IntKey("spool_max_spans", 10'000, 0, kNoMax, true),
        IntKey("timeout_ms", 500, 1, 60'000, false),
        IntKey("retry_initial_ms", 250, 1, kNoMax, true),
        IntKey("retry_max_ms", 4000, 1, kNoMax, true)}},
      {"slo",
       {IntKey("min_claim_success_percent", 80, 0, 100, false),
        IntKey("max_lock_timeout_percent", 20, 0, 100, false),
        IntKey("max_rss_growth_kb", 4096, 0, kNoMax, false),
        IntKey("max_monitor_cpu_growth_percent", 300, 100, kNoMax, false),
        IntKey("max_monitor_cpu_us_per_scan", 20'000, 1, kNoMax, false),
        IntKey("max_monitor_rss_growth_kb", 2048, 0, kNoMax, false)}},
      {"limits",
       {IntKey("sim_ms", 600'000, 1, kNoMax, false), IntKey("wall_ms", 60'000, 1, kNoMax, false),
        IntKey("step_timeout_ms", 10'000, 1, kNoMax, false)}},
  };
  return *sections;
}

const std::vector<std::string>& TopLevelKeys() {
  static const auto* const keys = new std::vector<std::string>{
      "name", "fmea",   "mode",      "seed",   "coordinator", "agents",
      "work", "reaper", "scheduler", "faults", "invariants",  "limits", "slo", "telemetry", "sut",
      "differential"};
  return *keys;
}

std::vector<std::string> KeyNames(const std::vector<OptionSpec>& specs) {
  std::vector<std::string> names;
  for (const OptionSpec& spec : specs) names.push_back(spec.name);
  return names;
}

// REQUIRES: `section` and `key` name an entry of Sections().
const OptionSpec& SpecOf(std::string_view section, std::string_view key) {
  const auto& sections = Sections();
  const auto s = std::find_if(sections.begin(), sections.end(),
                              [&](const Section& x) { return x.name == section; });
  return *std::find_if(s->keys.begin(), s->keys.end(),
                       [&](const OptionSpec& x) { return x.name == key; });
}

std::string KeyPointer(std::string_view section, std::string_view key) {
  return Child(section.empty() ? "" : Child("", section), key);
}

// The value of `spec` in `object` as written, or its default.
const json& WrittenOr(const json& object, const OptionSpec& spec) {
  const auto it = object.find(spec.name);
  return it == object.end() ? spec.default_value : *it;
}

// The value of a section key of a valid document, as written or defaulted.
const json& ValueOf(const json& doc, std::string_view section, std::string_view key) {
  const OptionSpec& spec = SpecOf(section, key);
  if (section.empty()) return WrittenOr(doc, spec);
  const auto it = doc.find(section);
  return it == doc.end() ? spec.default_value : WrittenOr(*it, spec);
}

struct Span {
  int64_t lo, hi;
};

// An integer v is the range [v, v].
Span SpanOf(const json& value) {
  if (value.is_array()) return {value[0].get<int64_t>(), value[1].get<int64_t>()};
  return {value.get<int64_t>(), value.get<int64_t>()};
}

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
    const int64_t lo = Saturated(v[0]), hi = Saturated(v[1]);
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
  const int64_t x = Saturated(v);
  if (x < spec.min || x > spec.max) {
    return Fail(pointer, fmt::format("found {}, expected an integer {}", Show(v),
                                     Bounds(spec, x > spec.max)));
  }
  return std::nullopt;
}

Check CheckString(const json& v, const OptionSpec& spec, const std::string& pointer) {
  const std::string expected =
      spec.choices.empty() ? "a non-empty string" : "one of " + QuotedList(spec.choices);
  if (!v.is_string()) {
    return Fail(pointer, fmt::format("found {}, expected {}", ShowTyped(v), expected));
  }
  const auto& s = v.get_ref<const std::string&>();
  const bool allowed = spec.choices.empty() ? !s.empty()
                                            : std::find(spec.choices.begin(), spec.choices.end(),
                                                        s) != spec.choices.end();
  if (!allowed) {
    return Fail(pointer, fmt::format("found {}, expected {}{}", Show(v), expected,
                                     Suggest(s, spec.choices)));
  }
  return std::nullopt;
}

Check CheckChoiceList(const json& v, const OptionSpec& spec, const std::string& pointer) {
  const std::string expected = "a non-empty list of distinct strings, each one of " +
                               QuotedList(spec.choices);
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

bool ValidName(std::string_view name) {
  constexpr size_t kMaxName = 64;
  return !name.empty() && name.size() <= kMaxName &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-';
         });
}

Check CheckName(const json& doc) {
  const auto it = doc.find("name");
  if (it == doc.end()) {
    return Fail("", fmt::format("missing required key \"name\" ({})", kNameRule));
  }
  if (!it->is_string()) {
    return Fail("/name", fmt::format("found {}, expected {}", ShowTyped(*it), kNameRule));
  }
  if (!ValidName(it->get_ref<const std::string&>())) {
    return Fail("/name", fmt::format("found {}, expected {}", Show(*it), kNameRule));
  }
  return std::nullopt;
}

// An array of distinct non-empty strings; `what` names one element.
Check CheckStringList(const json& doc, const std::string& key, std::string_view what) {
  const auto it = doc.find(key);
  if (it == doc.end()) return std::nullopt;
  const std::string pointer = Child("", key);
  if (!it->is_array()) {
    return Fail(pointer, fmt::format("found {}, expected an array of {}s", ShowTyped(*it), what));
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    if (!v.is_string() || v.get_ref<const std::string&>().empty()) {
      return Fail(Child(pointer, i),
                  fmt::format("found {}, expected {} (a non-empty string)", ShowTyped(v), what));
    }
    for (size_t earlier = 0; earlier < i; ++earlier) {
      if ((*it)[earlier] == v) {
        return Fail(Child(pointer, i), fmt::format("duplicate {} {} (also at {})", what, Show(v),
                                                   Child(pointer, earlier)));
      }
    }
  }
  return std::nullopt;
}

Check CheckSeed(const json& doc) {
  const auto it = doc.find("seed");
  if (it == doc.end() || it->is_number_unsigned()) return std::nullopt;
  return Fail("/seed", fmt::format("found {}, expected a non-negative integer",
                                   it->is_number_integer() ? Show(*it) : ShowTyped(*it)));
}

Check CheckSection(const json& doc, const Section& section) {
  const json* object = &doc;
  std::string pointer;
  if (!section.name.empty()) {
    const auto it = doc.find(section.name);
    if (it == doc.end()) return std::nullopt;
    pointer = Child("", section.name);
    std::vector<std::string> known = KeyNames(section.keys);
    known.insert(known.end(), section.other_keys.begin(), section.other_keys.end());
    if (!it->is_object()) {
      return Fail(pointer, fmt::format("found {}, expected an object with keys {}", ShowTyped(*it),
                                       fmt::join(known, ", ")));
    }
    if (const std::optional<std::string> key = FirstUnknownKey(*it, known)) {
      return Fail(Child(pointer, *key), Unknown("key", *key, known, "keys"));
    }
    object = &*it;
  }
  for (const OptionSpec& spec : section.keys) {
    const auto it = object->find(spec.name);
    if (it == object->end()) continue;
    if (Check problem = CheckOption(*it, spec, Child(pointer, spec.name))) return problem;
  }
  return std::nullopt;
}

Check CheckFault(const json& fault, const std::string& pointer, const Catalog& catalog,
                 bool freerun) {
  std::vector<std::string> kinds;
  for (const FaultKind& kind : catalog.faults) kinds.push_back(kind.name);
  if (!fault.is_object()) {
    return Fail(pointer, fmt::format("found {}, expected a fault: an object with \"kind\" and "
                                     "the kind's options",
                                     ShowTyped(fault)));
  }
  const auto kind_it = fault.find("kind");
  if (kind_it == fault.end()) {
    return Fail(pointer, fmt::format("missing \"kind\"; known kinds: {}", fmt::join(kinds, ", ")));
  }
  const std::string kind_pointer = Child(pointer, "kind");
  if (!kind_it->is_string()) {
    return Fail(kind_pointer, fmt::format("found {}, expected a fault kind: {}",
                                          ShowTyped(*kind_it), fmt::join(kinds, ", ")));
  }
  const FaultKind* kind = catalog.FindFault(kind_it->get_ref<const std::string&>());
  if (kind == nullptr) {
    return Fail(kind_pointer,
                Unknown("fault kind", kind_it->get_ref<const std::string&>(), kinds, "kinds"));
  }
  if (kind->lockstep_only && freerun) {
    return Fail(kind_pointer,
                fmt::format("fault {} needs lockstep mode, but \"mode\" is \"freerun\" "
                            "(impossible combination)",
                            Quote(kind->name)));
  }
  const std::vector<std::string> options = KeyNames(kind->options);
  for (const auto& [key, value] : fault.items()) {
    if (key != "kind" && std::find(options.begin(), options.end(), key) == options.end()) {
      return Fail(Child(pointer, key),
                  Unknown("option", key, options, fmt::format("options of {}", Quote(kind->name))));
    }
  }
  for (const OptionSpec& spec : kind->options) {
    const auto it = fault.find(spec.name);
    if (it != fault.end()) {
      if (Check problem = CheckOption(*it, spec, Child(pointer, spec.name))) return problem;
    } else if (spec.default_value.is_null()) {
      return Fail(pointer, fmt::format("missing required option {} of fault {}", Quote(spec.name),
                                       Quote(kind->name)));
    }
  }
  return std::nullopt;
}

Check CheckFaults(const json& doc, const Catalog& catalog, bool freerun) {
  const auto it = doc.find("faults");
  if (it == doc.end()) return std::nullopt;
  if (!it->is_array()) {
    return Fail("/faults", fmt::format("found {}, expected an array of faults", ShowTyped(*it)));
  }
  for (size_t i = 0; i < it->size(); ++i) {
    if (Check problem = CheckFault((*it)[i], Child("/faults", i), catalog, freerun)) return problem;
  }
  return std::nullopt;
}

Check CheckInvariants(const json& doc, const Catalog& catalog) {
  const auto it = doc.find("invariants");
  if (it == doc.end()) return std::nullopt;
  if (it->is_array() && it->empty()) {
    return Fail("/invariants",
                "found [], expected at least one invariant name (leave \"invariants\" out to "
                "check every invariant)");
  }
  if (Check problem = CheckStringList(doc, "invariants", "invariant")) return problem;
  std::vector<std::string> known;
  for (const InvariantKind& kind : catalog.invariants) known.push_back(kind.name);
  for (size_t i = 0; i < it->size(); ++i) {
    const auto& name = (*it)[i].get_ref<const std::string&>();
    if (catalog.FindInvariant(name) == nullptr) {
      return Fail(Child("/invariants", i), Unknown("invariant", name, known, "invariants"));
    }
  }
  return std::nullopt;
}

// The first of `keys` written under "coordinator": the one a combination
// error points at (an unwritten key only carries its default).
std::string WrittenCoordinatorKey(const json& doc, std::initializer_list<std::string_view> keys) {
  const auto coordinator = doc.find("coordinator");
  for (std::string_view key : keys) {
    if (coordinator != doc.end() && coordinator->contains(key)) {
      return KeyPointer("coordinator", key);
    }
  }
  return "/coordinator";
}

// Values that are each valid but cannot run together. With ranges, every
// value of the range must work, so the bounds that meet are compared.
Check CheckCombinations(const json& doc, bool freerun) {
  const json& lease = ValueOf(doc, "coordinator", "lease_ms");
  const json& heartbeat = ValueOf(doc, "coordinator", "heartbeat_ms");
  const json& timeout = ValueOf(doc, "coordinator", "agent_timeout_ms");
  if (SpanOf(heartbeat).hi >= SpanOf(lease).lo) {
    return Fail(WrittenCoordinatorKey(doc, {"heartbeat_ms", "lease_ms"}),
                fmt::format("heartbeat_ms {} must be below lease_ms {}: a lease would expire "
                            "between two heartbeats (impossible combination)",
                            Show(heartbeat), Show(lease)));
  }
  if (SpanOf(timeout).lo <= SpanOf(heartbeat).hi) {
    return Fail(WrittenCoordinatorKey(doc, {"agent_timeout_ms", "heartbeat_ms"}),
                fmt::format("agent_timeout_ms {} must be above heartbeat_ms {}: live agents would "
                            "be declared dead between two heartbeats (impossible combination)",
                            Show(timeout), Show(heartbeat)));
  }
  if (freerun && ValueOf(doc, "scheduler", "kind") == "pct") {
    return Fail("/scheduler/kind",
                "the \"pct\" scheduler needs lockstep mode, but \"mode\" is \"freerun\" "
                "(impossible combination)");
  }
  return std::nullopt;
}

constexpr const char* kNoSystems =
    "this harness was built without external systems under test (Catalog::suts)";

// The "sut" block (checked by the catalog's SutFactory, sim/sut.h), and the
// faults that work only on the reference coordinator's own files.
Check CheckSutBlock(const json& doc, const Catalog& catalog, bool freerun) {
  const auto it = doc.find("sut");
  if (it == doc.end()) return std::nullopt;
  if (catalog.suts == nullptr) return Fail("/sut", kNoSystems);
  const int64_t step_timeout = ValueOf(doc, "limits", "step_timeout_ms").get<int64_t>();
  if (auto problem = catalog.suts->CheckSut(*it, !freerun, step_timeout)) {
    return Fail("/sut" + problem->pointer, problem->message);
  }
  const auto faults = doc.find("faults");
  for (size_t i = 0; faults != doc.end() && i < faults->size(); ++i) {
    const FaultKind* kind = catalog.FindFault((*faults)[i].at("kind").get<std::string>());
    if (kind != nullptr && capability::Unmet(kind->needs, catalog.suts->Offers(*it)) != 0) {
      return Fail(Child(Child("/faults", i), "kind"),
                  fmt::format("fault {} acts on the reference coordinator's own files and "
                              "cannot run against an external SUT (\"sut\") (impossible "
                              "combination)",
                              Quote(kind->name)));
    }
  }
  return std::nullopt;
}

// The "differential" block (sim/sut.h, DifferentialPlan): a second run to compare with.
Check CheckDifferentialBlock(const json& doc, const Catalog& catalog, bool freerun) {
  const auto it = doc.find("differential");
  if (it == doc.end()) return std::nullopt;
  if (catalog.suts == nullptr) return Fail("/differential", kNoSystems);
  const int64_t step_timeout = ValueOf(doc, "limits", "step_timeout_ms").get<int64_t>();
  if (auto problem = catalog.suts->CheckDifferential(*it, doc.contains("sut"), !freerun,
                                                     step_timeout)) {
    return Fail("/differential" + problem->pointer, problem->message);
  }
  return std::nullopt;
}

// "agents"/"skills" and "work"/"skills" (sim/skills.h); the reference
// coordinator is the one that knows skills.
Check CheckSkills(const json& doc) {
  bool any = false;
  for (const char* section : {"agents", "work"}) {
    const auto it = doc.find(section);
    if (it == doc.end() || !it->contains("skills")) continue;
    any = true;
    const std::string pointer = Child(Child("", section), "skills");
    const json& list = it->at("skills");
    auto problem = std::string_view(section) == "agents" ? skills::CheckAgentSkills(list, pointer)
                                                         : skills::CheckItemSkills(list, pointer);
    if (problem) return Fail(problem->pointer, problem->message);
  }
  if (any && doc.contains("sut")) {
    return Fail("/sut", "skills (\"agents\"/\"skills\", \"work\"/\"skills\") need the reference "
                        "coordinator, which knows them; an external SUT has no way to be told "
                        "(impossible combination)");
  }
  return std::nullopt;
}

Check CheckDocument(const json& doc, const Catalog& catalog) {
  if (!doc.is_object()) {
    return Fail("", fmt::format("found {}, expected a JSON object (a scenario)", ShowTyped(doc)));
  }
  if (const std::optional<std::string> key = FirstUnknownKey(doc, TopLevelKeys())) {
    return Fail(Child("", *key), Unknown("key", *key, TopLevelKeys(), "keys"));
  }
  if (Check problem = CheckName(doc)) return problem;
  if (Check problem = CheckStringList(doc, "fmea", "failure-mode id")) return problem;
  if (Check problem = CheckSeed(doc)) return problem;
  for (const Section& section : Sections()) {
    if (Check problem = CheckSection(doc, section)) return problem;
  }
  const bool freerun = ValueOf(doc, "", "mode") == "freerun";
  if (Check problem = CheckFaults(doc, catalog, freerun)) return problem;
  if (Check problem = CheckInvariants(doc, catalog)) return problem;
  if (Check problem = CheckSkills(doc)) return problem;
  if (Check problem = CheckSutBlock(doc, catalog, freerun)) return problem;
  if (Check problem = CheckDifferentialBlock(doc, catalog, freerun)) return problem;
  return CheckCombinations(doc, freerun);
}

// nlohmann keeps only the last of two equal keys in an object. A scenario
// must not lose a value silently, so the parse callback follows where it is
// and remembers the first repeated key.
class DuplicateKeyFinder {
 public:
  bool Event(json::parse_event_t event, const json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        levels_.emplace_back(/*object=*/true);
        break;
      case json::parse_event_t::array_start:
        levels_.emplace_back(/*object=*/false);
        break;
      case json::parse_event_t::key:
        levels_.back().key = parsed.get<std::string>();
        if (!levels_.back().keys.insert(levels_.back().key).second && !found_) {
          found_ = Problem{Pointer(), fmt::format("duplicate key {} (JSON keeps only the last one)",
                                                  Quote(levels_.back().key))};
        }
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        levels_.pop_back();
        [[fallthrough]];
      case json::parse_event_t::value:
        if (!levels_.empty() && !levels_.back().object) ++levels_.back().index;
        break;
    }
    return true;
  }

  const Check& found() const { return found_; }

 private:
  struct Level {
    explicit Level(bool is_object) : object(is_object) {}
    bool object;
    std::set<std::string> keys;  // objects: the keys seen so far
    std::string key;             // objects: the current key
    size_t index = 0;            // arrays: the current element
  };

  std::string Pointer() const {
    std::string pointer;
    for (const Level& level : levels_) {
      pointer = level.object ? Child(pointer, level.key) : Child(pointer, level.index);
    }
    return pointer;
  }

  std::vector<Level> levels_;
  Check found_;
};

// "invalid JSON at line 3, column 5 (byte 42): syntax error while parsing ..."
std::string InvalidJson(const json::parse_error& e) {
  const std::string what = e.what();
  constexpr std::string_view kAt = "parse error at ";
  const size_t at = what.find(kAt);
  const size_t colon = at == std::string::npos ? at : what.find(": ", at);
  if (colon == std::string::npos) return fmt::format("invalid JSON at byte {}: {}", e.byte, what);
  const size_t position = at + kAt.size();
  return fmt::format("invalid JSON at {} (byte {}): {}", what.substr(position, colon - position),
                     e.byte, what.substr(colon + 2));
}

const char* ModeName(Mode mode) { return mode == Mode::kFreerun ? "freerun" : "lockstep"; }

// An integer as written, or a range drawn from the stream named by its
// pointer. Other values pass through.
json Draw(const json& value, const Rng& root, const std::string& pointer) {
  if (!value.is_array()) return value;
  const Span span = SpanOf(value);
  return root.Split(pointer).Between(span.lo, span.hi);
}

}  // namespace

const FaultKind* Catalog::FindFault(std::string_view name) const {
  for (const FaultKind& kind : faults) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

const InvariantKind* Catalog::FindInvariant(std::string_view name) const {
  for (const InvariantKind& kind : invariants) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

std::string ScenarioError::ToString() const {
  // The document itself ("") is not worth a column of its own.
  if (pointer.empty()) return fmt::format("{}: {}", file, message);
  return fmt::format("{}: {}: {}", file, pointer, message);
}

bool LoadScenario(const std::string& path, const Catalog& catalog, Scenario* out,
                  ScenarioError* error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    *error = {path, "", "is a directory, expected a scenario file"};
    return false;
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = {path, "", fmt::format("cannot open the scenario file: {}", std::strerror(errno))};
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (!ParseScenario(text.str(), path, catalog, out, error)) return false;
  // The SUT's working directory is relative to the scenario file.
  if (out->doc.contains("sut")) {
    catalog.suts->AnchorCwd(&out->doc["sut"], std::filesystem::path(path).parent_path().string());
  }
  if (out->doc.contains("differential") && out->doc["differential"]["against"].is_object()) {
    catalog.suts->AnchorCwd(&out->doc["differential"]["against"],
                   std::filesystem::path(path).parent_path().string());
  }
  return true;
}

bool ParseScenario(const std::string& text, const std::string& file, const Catalog& catalog,
                   Scenario* out, ScenarioError* error) {
  DuplicateKeyFinder duplicates;
  json doc;
  try {
    doc = json::parse(
        text,
        [&duplicates](int /*depth*/, json::parse_event_t event, json& parsed) {
          return duplicates.Event(event, parsed);
        },
        /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    *error = {file, "", InvalidJson(e)};
    return false;
  }
  const Check problem = duplicates.found() ? duplicates.found() : CheckDocument(doc, catalog);
  if (problem) {
    *error = {file, problem->pointer, problem->message};
    return false;
  }
  out->file = file;
  out->name = doc["name"].get<std::string>();
  out->doc = std::move(doc);
  return true;
}

// REQUIRES: `scenario` was validated against `catalog`.
ResolvedScenario Resolve(const Scenario& scenario, const Catalog& catalog, uint64_t seed) {
  const json& doc = scenario.doc;
  const Rng root(seed);
  auto value = [&doc](std::string_view section, std::string_view key) -> const json& {
    return ValueOf(doc, section, key);
  };
  auto draw = [&](std::string_view section, std::string_view key) {
    return Draw(value(section, key), root, KeyPointer(section, key)).get<int64_t>();
  };

  ResolvedScenario r;
  r.name = scenario.name;
  r.fmea = doc.value("fmea", std::vector<std::string>{});
  r.mode = value("", "mode") == "freerun" ? Mode::kFreerun : Mode::kLockstep;
  r.seed = seed;
  r.lease_ms = draw("coordinator", "lease_ms");
  r.heartbeat_ms = draw("coordinator", "heartbeat_ms");
  r.reap_interval_ms = draw("coordinator", "reap_interval_ms");
  r.agent_timeout_ms = draw("coordinator", "agent_timeout_ms");
  r.max_attempts = static_cast<int>(draw("coordinator", "max_attempts"));
  r.clock_skew_ms = draw("coordinator", "clock_skew_ms");
  r.agents = static_cast<int>(draw("agents", "count"));
  // work_ms stays a range: each agent draws every item's work time from it.
  const Span work = SpanOf(value("agents", "work_ms"));
  r.work_min_ms = work.lo;
  r.work_max_ms = work.hi;
  r.items = static_cast<int>(draw("work", "items"));
  if (doc.contains("agents") && doc["agents"].contains("skills")) {
    r.agent_skills = doc["agents"]["skills"];
  }
  if (doc.contains("work") && doc["work"].contains("skills")) r.item_skills = doc["work"]["skills"];
  r.reaper = value("", "reaper").get<bool>();
  r.scheduler = value("scheduler", "kind").get<std::string>();
  r.pct_depth = static_cast<int>(draw("scheduler", "depth"));

  const auto faults = doc.find("faults");
  for (size_t i = 0; faults != doc.end() && i < faults->size(); ++i) {
    const json& written = (*faults)[i];
    const FaultKind& kind = *catalog.FindFault(written.at("kind").get<std::string>());
    FaultInstance fault{kind.name, json::object()};
    for (const OptionSpec& spec : kind.options) {
      // Only numbers are drawn: a list option's array is its value.
      fault.options[spec.name] =
          spec.type == OptionSpec::Type::kInt
              ? Draw(WrittenOr(written, spec), root, Child(Child("/faults", i), spec.name))
              : WrittenOr(written, spec);
    }
    r.faults.push_back(std::move(fault));
  }

  if (doc.contains("invariants")) {
    r.invariants = doc["invariants"].get<std::vector<std::string>>();
  } else {
    for (const InvariantKind& kind : catalog.invariants) r.invariants.emplace_back(kind.name);
  }

  r.telemetry.enabled = value("telemetry", "enabled").get<bool>();
  r.telemetry.batch_spans = draw("telemetry", "batch_spans");
  r.telemetry.schedule_delay_ms = draw("telemetry", "schedule_delay_ms");
  r.telemetry.spool_max_spans = draw("telemetry", "spool_max_spans");
  r.telemetry.timeout_ms = draw("telemetry", "timeout_ms");
  r.telemetry.retry_initial_ms = draw("telemetry", "retry_initial_ms");
  r.telemetry.retry_max_ms = draw("telemetry", "retry_max_ms");

  if (doc.contains("sut")) r.sut = doc["sut"];
  if (doc.contains("differential")) r.differential = doc["differential"];
  r.sim_ms = draw("limits", "sim_ms");
  r.wall_ms = draw("limits", "wall_ms");
  r.step_timeout_ms = draw("limits", "step_timeout_ms");
  r.slo_min_claim_success_percent = draw("slo", "min_claim_success_percent");
  r.slo_max_lock_timeout_percent = draw("slo", "max_lock_timeout_percent");
  r.slo_max_rss_growth_kb = draw("slo", "max_rss_growth_kb");
  r.slo_max_monitor_cpu_growth_percent = draw("slo", "max_monitor_cpu_growth_percent");
  r.slo_max_monitor_cpu_us_per_scan = draw("slo", "max_monitor_cpu_us_per_scan");
  r.slo_max_monitor_rss_growth_kb = draw("slo", "max_monitor_rss_growth_kb");
  return r;
}

json ResolvedScenario::SloJson() const {
  return {{"min_claim_success_percent", slo_min_claim_success_percent},
          {"max_lock_timeout_percent", slo_max_lock_timeout_percent},
          {"max_rss_growth_kb", slo_max_rss_growth_kb},
          {"max_monitor_cpu_growth_percent", slo_max_monitor_cpu_growth_percent},
          {"max_monitor_cpu_us_per_scan", slo_max_monitor_cpu_us_per_scan},
          {"max_monitor_rss_growth_kb", slo_max_monitor_rss_growth_kb}};
}

json ResolvedScenario::ToJson() const {
  json fault_list = json::array();
  for (const FaultInstance& fault : faults) {
    json entry = fault.options;
    entry["kind"] = fault.kind;
    fault_list.push_back(std::move(entry));
  }
  json j = {
      {"name", name},
      {"fmea", fmea},
      {"mode", ModeName(mode)},
      {"seed", seed},
      {"coordinator",
       {{"lease_ms", lease_ms},
        {"heartbeat_ms", heartbeat_ms},
        {"reap_interval_ms", reap_interval_ms},
        {"agent_timeout_ms", agent_timeout_ms},
        {"max_attempts", max_attempts},
        {"clock_skew_ms", clock_skew_ms}}},
      {"agents",
       {{"count", agents},
        {"work_ms", work_min_ms == work_max_ms ? json(work_min_ms)
                                               : json::array({work_min_ms, work_max_ms})}}},
      {"work", {{"items", items}}},
      {"reaper", reaper},
      {"scheduler", {{"kind", scheduler}, {"depth", pct_depth}}},
      {"faults", std::move(fault_list)},
      {"limits", {{"sim_ms", sim_ms}, {"wall_ms", wall_ms}, {"step_timeout_ms", step_timeout_ms}}},
      {"slo", SloJson()},
      {"telemetry",
       {{"enabled", telemetry.enabled},
        {"batch_spans", telemetry.batch_spans},
        {"schedule_delay_ms", telemetry.schedule_delay_ms},
        {"spool_max_spans", telemetry.spool_max_spans},
        {"timeout_ms", telemetry.timeout_ms},
        {"retry_initial_ms", telemetry.retry_initial_ms},
        {"retry_max_ms", telemetry.retry_max_ms}}},
  };
  // A written list may not be empty; no invariants can only come from a
  // catalog without any, which leaving the key out reproduces.
  if (!invariants.empty()) j["invariants"] = invariants;
  if (!sut.is_null()) j["sut"] = sut;
  if (!differential.is_null()) j["differential"] = differential;
  // Weighted lists, as written: the seed draws each agent's and item's skills.
  if (!agent_skills.is_null()) j["agents"]["skills"] = agent_skills;
  if (!item_skills.is_null()) j["work"]["skills"] = item_skills;
  return j;
}

}  // namespace faultline
