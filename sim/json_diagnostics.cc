#include "sim/json_diagnostics.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <set>
#include <utility>

namespace faultline::diag {
namespace {

using nlohmann::json;

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

}  // namespace

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

std::string ShowTyped(const json& j) {
  return j.is_null() ? "null" : fmt::format("{} ({})", Show(j), TypeName(j));
}

std::string QuotedList(const std::vector<std::string>& names) {
  std::vector<std::string> quoted;
  for (const std::string& name : names) quoted.push_back(Quote(name));
  return fmt::format("{}", fmt::join(quoted, ", "));
}

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

std::string Unknown(std::string_view what, const std::string& name,
                    const std::vector<std::string>& known, std::string_view known_what) {
  return fmt::format("unknown {} {}{}; known {}: {}", what, Quote(name), Suggest(name, known),
                     known_what, fmt::join(known, ", "));
}

std::optional<std::string> FirstUnknownKey(const json& object,
                                           const std::vector<std::string>& known) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) return key;
  }
  return std::nullopt;
}

int64_t Saturated(const json& j) {
  if (j.is_number_unsigned() && j.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()}) {
    return std::numeric_limits<int64_t>::max();
  }
  return j.get<int64_t>();
}

int NestingDepth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

Check ParseDocument(const std::string& text, json* doc) {
  if (const int depth = NestingDepth(text); depth > kMaxDocumentDepth) {
    return Fail("", fmt::format("JSON nested {} levels deep; at most {} are accepted", depth,
                                kMaxDocumentDepth));
  }
  DuplicateKeyFinder duplicates;
  try {
    *doc = json::parse(
        text,
        [&duplicates](int /*depth*/, json::parse_event_t event, json& parsed) {
          return duplicates.Event(event, parsed);
        },
        /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    return Fail("", InvalidJson(e));
  } catch (const json::out_of_range& e) {
    // A number beyond a double ("1e400"): nlohmann reports it as out of range.
    return Fail("", fmt::format("invalid JSON: a number too large for any setting ({})",
                                e.what()));
  }
  return duplicates.found();
}

}  // namespace faultline::diag
