// How the scenario code talks about a JSON document it refuses (DESIGN §4:
// every mistake names the JSON pointer, what was found and what was
// expected): RFC 6901 pointers, values shown as people write them, "did you
// mean" suggestions, and a parse that keeps comments out and refuses a key
// written twice. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace faultline::diag {

// What is wrong and where; the caller adds the file.
struct Problem {
  std::string pointer;  // JSON pointer, "" for the whole document
  std::string message;  // "found X, expected Y"
};
using Check = std::optional<Problem>;  // nullopt: nothing wrong

Check Fail(std::string pointer, std::string message);

// `pointer` + "/" + `token`, with "~" and "/" inside the token escaped.
std::string Child(const std::string& pointer, std::string_view token);
std::string Child(const std::string& pointer, size_t index);

// A JSON string literal: "abc".
std::string Quote(std::string_view s);

// A value as people write it ("[16, 4]", not dump()'s "[16,4]"), cut when long.
std::string Show(const nlohmann::json& j);

// For a value of the wrong type: `"abc" (a string)`; null is "null".
std::string ShowTyped(const nlohmann::json& j);

// "\"a\", \"b\"".
std::string QuotedList(const std::vector<std::string>& names);

// ` (did you mean "count"?)` when a known name is a typo away from `word`, else "".
std::string Suggest(std::string_view word, const std::vector<std::string>& known);

// `unknown key "cuont" (did you mean "count"?); known keys: count, work_ms`
// for Unknown("key", "cuont", {...}, "keys").
std::string Unknown(std::string_view what, const std::string& name,
                    const std::vector<std::string>& known, std::string_view known_what);

// The first key of `object` that is not in `known`, if any.
std::optional<std::string> FirstUnknownKey(const nlohmann::json& object,
                                           const std::vector<std::string>& known);

// A JSON integer as int64_t; unsigned values beyond its range saturate (and
// so fail every bound). REQUIRES: `j` is an integer.
int64_t Saturated(const nlohmann::json& j);

// The deepest nesting of arrays and objects in `text` (brackets inside
// strings do not count; comments are not skipped, so a bracket in a comment
// may count). Linear, no recursion: bounds a document before it is parsed,
// since a parsed value is destroyed and printed recursively.
int NestingDepth(std::string_view text);
inline constexpr int kMaxDocumentDepth = 64;

// Parses `text` (comments allowed) into `*doc`. Nesting deeper than
// kMaxDocumentDepth, a syntax error ("invalid
// JSON at line 3, column 5 (byte 42): ...") or a key written twice in one
// object (JSON would keep only the last) is a Problem.
Check ParseDocument(const std::string& text, nlohmann::json* doc);

}  // namespace faultline::diag
