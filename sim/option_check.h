// Typed options (sim/options.h) as a scenario writes them: checking a value
// against its spec, checking a plug-in entry ({"kind": ..., options} of a
// fault, {"name": ..., options} of an invariant), resolving the entry's
// options with ranges drawn from the seed, and listing the options for
// `faultline list`. The scenario's own typed keys and the settings table
// (sim/settings.h) go through the same checks, so every integer anywhere in
// a scenario is refused with the same words. Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sim/json_diagnostics.h"
#include "sim/options.h"
#include "sim/rng.h"

namespace faultline {

// A plug-in option (a fault's, an invariant's) may be written as
// {"one_of": [v1, v2, ...]}: one of the values, drawn per run from the stream
// named by its pointer, like a range; explore makes it a knob. This is how a
// family lets the search combine faults: a crash point and the path an I/O
// error hits, each drawn from a list, are drawn together.
inline constexpr const char* kOneOf = "one_of";

// `value` written at `pointer` against `spec`: its type, bounds, choices, and
// for an integer whether a range [lo, hi] is allowed. (A "one_of" choice is
// checked by CheckEntryOptions, which allows it.)
diag::Check CheckOption(const nlohmann::json& value, const OptionSpec& spec,
                        const std::string& pointer);

// The options of one plug-in entry at `pointer`: every key but `name_key`
// must be an option of `specs` (else "unknown option ... known options of
// <name>"), every written value valid, every option without a default
// written ("missing required option X of <what> <name>").
// REQUIRES: `entry` is an object.
diag::Check CheckEntryOptions(const nlohmann::json& entry, const std::vector<OptionSpec>& specs,
                              const std::string& pointer, std::string_view name_key,
                              std::string_view what, const std::string& name);

// `value` as written, or, for a range [lo, hi], an integer drawn from the
// stream of `root` named by `pointer` (so one range never shifts another), or
// for {"one_of": [...]} one of its values drawn from that stream.
nlohmann::json DrawValue(const nlohmann::json& value, const Rng& root, const std::string& pointer);

// Every option of `specs`: the value written in `entry` or the default, each
// integer range drawn from the stream named by its pointer under `pointer`.
// REQUIRES: `entry` passed CheckEntryOptions.
nlohmann::json ResolveOptions(const nlohmann::json& entry, const std::vector<OptionSpec>& specs,
                              const Rng& root, const std::string& pointer);

// Every option of `specs` at its default (null for a required one).
nlohmann::json DefaultOptions(const std::vector<OptionSpec>& specs);

// For `faultline list`: one indented line per option (name, help, default or
// "required", whether a range is drawn) and its choices, wrapped.
std::string OptionListing(const std::vector<OptionSpec>& specs);

}  // namespace faultline
