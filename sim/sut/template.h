// Command templates of an external system under test (docs/external-sut.md).
//
// A command is written either as an argv array, ["./queue.sh", "claim", "{dir}",
// "{agent}"], or as one shell command line, "./queue.sh claim {dir} {agent} | tail -1",
// which runs under /bin/sh -c. A placeholder is `{name}` with a name of a-z and
// '_'; it is replaced by the value of that name. In a shell command line the
// value is inserted single-quoted, so it stays one word whatever it holds. `${...}`
// is shell syntax and never a placeholder, `{{` and `}}` stand for `{` and `}`,
// and braces around anything else (`{1..5}`, `{a,b}`) are left as written.
//
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace faultline::sut {

using Values = std::map<std::string, std::string>;

// The placeholders of `text`, in order of appearance (repeats kept).
std::vector<std::string> Placeholders(const std::string& text);

// `text` with every placeholder replaced by its value in `values` (a name
// without a value becomes ""); `shell`: values single-quoted for /bin/sh.
std::string Expand(const std::string& text, const Values& values, bool shell);

// Wraps `value` in single quotes for /bin/sh: abc -> 'abc', it's -> 'it'\''s'.
std::string ShellQuote(const std::string& value);

// The argv of a command template (an array of strings, or a string run by
// /bin/sh -c) with `values` filled in.
// REQUIRES: `command` passed ValidCommand.
std::vector<std::string> ExpandCommand(const nlohmann::json& command, const Values& values);

// "" if `command` is a valid command template whose placeholders are all in
// `known`; else what is wrong with it. `*where` is set to the JSON pointer
// suffix of the offending element ("" for the command itself, "/2" for its
// third word).
std::string CheckCommand(const nlohmann::json& command, const std::vector<std::string>& known,
                         std::string* where);

// "" if every placeholder of `text` is in `known`, else the message.
std::string CheckPlaceholders(const std::string& text, const std::vector<std::string>& known);

}  // namespace faultline::sut
