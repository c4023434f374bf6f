#include "sim/sut/template.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

namespace faultline::sut {
namespace {

bool NameChar(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }

// Calls `literal(text)` and `placeholder(name)` for the parts of `text`, in
// order. A placeholder is "{name}" not preceded by '$'; "{{" and "}}" are
// literal braces.
template <typename Literal, typename Placeholder>
void Scan(const std::string& text, Literal literal, Placeholder placeholder) {
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal(std::string(1, c));
      i += 2;
      continue;
    }
    if (c == '{' && (i == 0 || text[i - 1] != '$')) {
      size_t j = i + 1;
      while (j < text.size() && NameChar(text[j])) ++j;
      if (j > i + 1 && j < text.size() && text[j] == '}') {
        placeholder(text.substr(i + 1, j - i - 1));
        i = j + 1;
        continue;
      }
    }
    literal(std::string(1, c));
    ++i;
  }
}

}  // namespace

std::vector<std::string> Placeholders(const std::string& text) {
  std::vector<std::string> names;
  Scan(text, [](const std::string&) {}, [&](const std::string& name) { names.push_back(name); });
  return names;
}

std::string ShellQuote(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string Expand(const std::string& text, const Values& values, bool shell) {
  std::string out;
  Scan(
      text, [&](const std::string& s) { out += s; },
      [&](const std::string& name) {
        auto it = values.find(name);
        const std::string value = it == values.end() ? std::string() : it->second;
        out += shell ? ShellQuote(value) : value;
      });
  return out;
}

std::vector<std::string> ExpandCommand(const nlohmann::json& command, const Values& values) {
  if (command.is_string()) {
    return {"/bin/sh", "-c", Expand(command.get<std::string>(), values, /*shell=*/true)};
  }
  std::vector<std::string> argv;
  for (const auto& word : command) argv.push_back(Expand(word.get<std::string>(), values, false));
  return argv;
}

// A brace that is no placeholder but reads like a misspelt one: "{DIR}",
// "{ dir }", or "{dir" without its "}", where lower-cased and trimmed the
// word is a known name. Shell braces ("{1..5}", "{a,b}", "${dir}", "{ cmd; }")
// do not read like that.
std::string MisspeltPlaceholder(const std::string& text, const std::vector<std::string>& known) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '{' || (i > 0 && text[i - 1] == '$')) continue;
    if (i + 1 < text.size() && text[i + 1] == '{') {
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < text.size() && text[j] == ' ') ++j;
    const size_t word_start = j;
    while (j < text.size() && (NameChar(static_cast<char>(std::tolower(text[j]))))) ++j;
    std::string word = text.substr(word_start, j - word_start);
    const size_t word_end = j;
    while (j < text.size() && text[j] == ' ') ++j;
    const bool closed = j < text.size() && text[j] == '}';
    const bool exact = closed && word_start == i + 1 && word_end == j &&
                       std::all_of(word.begin(), word.end(), NameChar);
    if (word.empty() || exact) continue;
    if (!closed && j < text.size() && (text[j] == ',' || text[j] == '.')) continue;  // "{a,b}"
    std::transform(word.begin(), word.end(), word.begin(),
                   [](char c) { return static_cast<char>(std::tolower(c)); });
    if (std::find(known.begin(), known.end(), word) == known.end()) continue;
    const std::string written = text.substr(i, std::min(j + (closed ? 1 : 0), text.size()) - i);
    return fmt::format("\"{}\" is no placeholder: write {{{}}} (lower case, no spaces, closed "
                       "by }}); a literal brace is written {{{{ or }}}}",
                       written, word);
  }
  return "";
}

std::string CheckPlaceholders(const std::string& text, const std::vector<std::string>& known) {
  if (std::string problem = MisspeltPlaceholder(text, known); !problem.empty()) return problem;
  for (const std::string& name : Placeholders(text)) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return fmt::format("unknown placeholder {{{}}} here; known: {}", name,
                         fmt::join(known, ", "));
    }
  }
  return "";
}

std::string CheckCommand(const nlohmann::json& command, const std::vector<std::string>& known,
                         std::string* where) {
  where->clear();
  if (command.is_string()) {
    if (command.get_ref<const std::string&>().empty()) {
      return "found \"\", expected a command: an array of strings or a shell command line";
    }
    return CheckPlaceholders(command.get<std::string>(), known);
  }
  if (!command.is_array() || command.empty()) {
    return "expected a command: a non-empty array of strings ([\"./tool\", \"claim\", "
           "\"{agent}\"]) or a shell command line (a string)";
  }
  for (size_t i = 0; i < command.size(); ++i) {
    const nlohmann::json& word = command[i];
    if (!word.is_string() || (i == 0 && word.get_ref<const std::string&>().empty())) {
      *where = fmt::format("/{}", i);
      return i == 0 ? "expected the program: a non-empty string"
                    : "expected a string (one word of the command)";
    }
    std::string problem = CheckPlaceholders(word.get<std::string>(), known);
    if (!problem.empty()) {
      *where = fmt::format("/{}", i);
      return problem;
    }
  }
  return "";
}

}  // namespace faultline::sut
