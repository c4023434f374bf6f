#include "sim/sut/differential.h"

#include <fmt/format.h>

namespace faultline::sut {
namespace {

using nlohmann::json;
using Check = std::optional<SutProblem>;

Check Fail(std::string pointer, std::string message) {
  return SutProblem{std::move(pointer), std::move(message)};
}

std::string Show(const json& j) {
  std::string s = j.dump();
  return s.size() <= 60 ? s : s.substr(0, 57) + "...";
}

Check CheckAgainst(const json& against, bool has_sut, bool lockstep, int64_t step_timeout_ms) {
  if (against.is_string()) {
    if (against != kAgainstReference) {
      return Fail("/against", fmt::format("found {}, expected \"reference\" (the reference "
                                          "coordinator) or a \"sut\" block (an object)",
                                          Show(against)));
    }
    if (!has_sut) {
      return Fail("/against",
                  "the scenario runs the reference coordinator itself (it has no \"sut\" "
                  "block): comparing it with itself shows nothing; add a \"sut\" block, or "
                  "compare against another system (impossible combination)");
    }
    return std::nullopt;
  }
  if (!against.is_object()) {
    return Fail("/against", fmt::format("found {}, expected \"reference\" or a \"sut\" block "
                                        "(an object, see docs/external-sut.md)",
                                        Show(against)));
  }
  if (auto problem = CheckSut(against, lockstep, step_timeout_ms)) {
    return Fail("/against" + problem->pointer, problem->message);
  }
  const auto state = against.find("state");
  if (state == against.end() || !state->contains("dump")) {
    return Fail(state == against.end() ? "/against" : "/against/state",
                "missing \"state\": {\"dump\": ...}: without the counterpart's final state "
                "there is nothing to compare the items with");
  }
  return std::nullopt;
}

}  // namespace

std::optional<SutProblem> CheckDifferential(const json& block, bool has_sut, bool lockstep,
                                            int64_t step_timeout_ms) {
  if (!block.is_object()) {
    return Fail("", fmt::format("found {}, expected an object such as {{\"against\": "
                                "\"reference\"}}",
                                Show(block)));
  }
  for (const auto& [key, value] : block.items()) {
    if (key != "against" && key != "compare") {
      return Fail("/" + key, fmt::format("unknown key \"{}\"; known keys: against, compare", key));
    }
  }
  if (!block.contains("against")) {
    return Fail("", "missing \"against\": \"reference\" (the reference coordinator) or a \"sut\" "
                    "block: the system to compare with");
  }
  if (Check p = CheckAgainst(block["against"], has_sut, lockstep, step_timeout_ms)) return p;
  if (block.contains("compare")) {
    const json& compare = block["compare"];
    if (compare != "outcomes" && compare != "histories") {
      return Fail("/compare",
                  fmt::format("found {}, expected \"outcomes\" (what each item came to) or "
                              "\"histories\" (each item's sequence of operations)",
                              Show(compare)));
    }
    if (compare == "histories" && !lockstep) {
      return Fail("/compare",
                  "\"histories\" needs lockstep mode, where a history depends only on the seed; "
                  "freerun runs can compare \"outcomes\" (impossible combination)");
    }
  }
  return std::nullopt;
}

DifferentialSpec ParseDifferential(const json& block) {
  DifferentialSpec spec;
  const json& against = block.at("against");
  if (against.is_object()) spec.against = against;
  spec.compare = block.value("compare", "outcomes");
  return spec;
}

std::string CounterpartLabel(const DifferentialSpec& spec) {
  return spec.against.is_null() ? "reference (swarm)" : Label(spec.against);
}

}  // namespace faultline::sut
