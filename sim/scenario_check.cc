// Validation of a scenario document: the format's keys, the faults and
// invariants of the catalog with their options, the "sut" and
// "differential" blocks, and the combinations of valid values that cannot
// run together. The first mistake found is the one reported.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <string_view>

#include "sim/option_check.h"
#include "sim/scenario_keys.h"
#include "sim/settings.h"
#include "sim/skills.h"
#include "sim/sut.h"

namespace faultline::scenario_keys {
namespace {

using diag::Check;
using diag::Child;
using diag::Fail;
using diag::Quote;
using diag::Show;
using diag::ShowTyped;
using nlohmann::json;

constexpr std::string_view kNameRule =
    "a name of 1 to 64 characters from a-z, 0-9, '.', '_' and '-'";

std::vector<std::string> KeyNames(const std::vector<OptionSpec>& specs) {
  std::vector<std::string> names;
  for (const OptionSpec& spec : specs) names.push_back(spec.name);
  return names;
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

// "expect": {"reached": [probe names], "sometimes": [probe names]}
// (docs/scenario-format.md): probes a run must reach to be meaningful; under
// "fs" or "postgres" the same lists for runs on that store only (a probe of
// one backend's own path, such as claim.busy at a lock file).
Check CheckExpectLists(const json& expect, const std::string& pointer, bool stores) {
  if (!expect.is_object()) {
    return Fail(pointer, fmt::format("found {}, expected an object with \"reached\" and/or "
                                     "\"sometimes\" (lists of probe names){}",
                                     ShowTyped(expect),
                                     stores ? ", and \"fs\" or \"postgres\" (the same for one "
                                              "store)"
                                            : ""));
  }
  static const std::vector<std::string> kLists = {"reached", "sometimes"};
  static const std::vector<std::string> kKeys = {"reached", "sometimes", "fs", "postgres"};
  const std::vector<std::string>& keys = stores ? kKeys : kLists;
  if (const std::optional<std::string> key = diag::FirstUnknownKey(expect, keys)) {
    return Fail(Child(pointer, *key), diag::Unknown("key", *key, keys, "keys"));
  }
  for (const std::string& key : kLists) {
    if (Check problem = CheckStringList(expect, key, "probe name")) {
      problem->pointer = pointer + problem->pointer;
      return problem;
    }
  }
  for (const char* store : {"fs", "postgres"}) {
    const auto it = expect.find(store);
    if (!stores || it == expect.end()) continue;
    if (Check problem = CheckExpectLists(*it, Child(pointer, store), false)) return problem;
  }
  return std::nullopt;
}

Check CheckExpect(const json& doc) {
  const auto it = doc.find("expect");
  if (it == doc.end()) return std::nullopt;
  return CheckExpectLists(*it, Child("", "expect"), true);
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
    if (const std::optional<std::string> key = diag::FirstUnknownKey(*it, known)) {
      return Fail(Child(pointer, *key), diag::Unknown("key", *key, known, "keys"));
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
    return Fail(kind_pointer, diag::Unknown("fault kind", kind_it->get_ref<const std::string&>(),
                                            kinds, "kinds"));
  }
  if (kind->lockstep_only && freerun) {
    return Fail(kind_pointer,
                fmt::format("fault {} needs lockstep mode, but \"mode\" is \"freerun\" "
                            "(impossible combination)",
                            Quote(kind->name)));
  }
  return CheckEntryOptions(fault, kind->options, pointer, "kind", "fault", kind->name);
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

// The name of an "invariants" entry: the string itself, or the object's
// "name". `*where` is the pointer of the name. Nullopt with `*problem` set if
// the entry has no name of the right shape.
std::optional<std::string> InvariantName(const json& entry, const std::string& pointer,
                                         const std::vector<std::string>& known, std::string* where,
                                         Check* problem) {
  *where = pointer;
  if (entry.is_string() && !entry.get_ref<const std::string&>().empty()) {
    return entry.get<std::string>();
  }
  if (!entry.is_object()) {
    *problem = Fail(pointer, fmt::format("found {}, expected invariant (a non-empty string, or an "
                                         "object with \"name\" and the invariant's options)",
                                         ShowTyped(entry)));
    return std::nullopt;
  }
  const auto name = entry.find("name");
  if (name == entry.end()) {
    *problem = Fail(pointer,
                    fmt::format("missing \"name\"; known invariants: {}", fmt::join(known, ", ")));
    return std::nullopt;
  }
  *where = Child(pointer, "name");
  if (!name->is_string() || name->get_ref<const std::string&>().empty()) {
    *problem = Fail(*where, fmt::format("found {}, expected an invariant name: {}",
                                        ShowTyped(*name), fmt::join(known, ", ")));
    return std::nullopt;
  }
  return name->get<std::string>();
}

// The options of one entry of "invariants" (a name alone: every option at
// its default). An SLO bound written here is pointed to the "slo" block,
// where it belongs.
Check CheckInvariantOptions(const json& entry, const std::string& pointer,
                            const InvariantKind& kind) {
  if (!entry.is_object()) {
    return CheckEntryOptions(json::object(), kind.options, pointer, "name", "invariant", kind.name);
  }
  for (const auto& [key, value] : entry.items()) {
    const bool option = std::any_of(kind.options.begin(), kind.options.end(),
                                    [&k = key](const OptionSpec& spec) { return spec.name == k; });
    const SettingSpec* slo = FindSetting("/slo/" + key);
    if (key != "name" && !option && slo != nullptr) {
      return Fail(Child(pointer, key),
                  fmt::format("{} is an SLO bound, not an option of {}: write it in the "
                              "scenario's \"slo\" block, e.g. \"slo\": {{{}: {}}}",
                              Quote(key), Quote(kind.name), Quote(key), Show(value)));
    }
  }
  return CheckEntryOptions(entry, kind.options, pointer, "name", "invariant", kind.name);
}

// "invariants": names, or objects {"name": ..., options}; each at most once.
Check CheckInvariants(const json& doc, const Catalog& catalog) {
  const auto it = doc.find("invariants");
  if (it == doc.end()) return std::nullopt;
  if (it->is_array() && it->empty()) {
    return Fail("/invariants",
                "found [], expected at least one invariant name (leave \"invariants\" out to "
                "check every invariant)");
  }
  if (!it->is_array()) {
    return Fail("/invariants",
                fmt::format("found {}, expected an array of invariants", ShowTyped(*it)));
  }
  std::vector<std::string> known;
  for (const InvariantKind& kind : catalog.invariants) known.push_back(kind.name);
  // Shapes and duplicates first, then names and options: the order in which
  // a list of names alone has always been checked.
  std::vector<std::string> names, where(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const std::string pointer = Child("/invariants", i);
    Check problem;
    const std::optional<std::string> name =
        InvariantName((*it)[i], pointer, known, &where[i], &problem);
    if (!name) return problem;
    const auto earlier = std::find(names.begin(), names.end(), *name);
    if (earlier != names.end()) {
      return Fail(pointer, fmt::format("duplicate invariant {} (also at {})", Quote(*name),
                                       Child("/invariants", earlier - names.begin())));
    }
    names.push_back(*name);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    const InvariantKind* kind = catalog.FindInvariant(names[i]);
    if (kind == nullptr) {
      return Fail(where[i], diag::Unknown("invariant", names[i], known, "invariants"));
    }
    if (Check problem = CheckInvariantOptions((*it)[i], Child("/invariants", i), *kind)) {
      return problem;
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
    return Fail("/sut",
                "skills (\"agents\"/\"skills\", \"work\"/\"skills\") need the reference "
                "coordinator, which knows them; an external SUT has no way to be told "
                "(impossible combination)");
  }
  return std::nullopt;
}

// "work"/"arrivals": typed keys like a section's, and only for the
// reference coordinator, whose `swarm submit` the harness runs as a process
// of the run.
Check CheckArrivals(const json& doc) {
  const auto work = doc.find("work");
  if (work == doc.end() || !work->is_object() || !work->contains("arrivals")) {
    return std::nullopt;
  }
  const Section& section = ArrivalsSection();
  const json& arrivals = work->at("arrivals");
  if (!arrivals.is_object()) {
    return Fail("/work/arrivals",
                fmt::format("found {}, expected an object with keys {} (work submitted during "
                            "the run: how many submitters, how many items each, when each "
                            "starts)",
                            ShowTyped(arrivals), fmt::join(KeyNames(section.keys), ", ")));
  }
  if (Check problem = CheckSection(*work, section)) {
    problem->pointer = "/work" + problem->pointer;
    return problem;
  }
  for (const char* block : {"sut", "differential"}) {
    if (doc.contains(block)) {
      return Fail("/work/arrivals",
                  fmt::format("work arrivals run `swarm submit` as processes of the run, which "
                              "only the reference coordinator has; remove \"{}\" or the "
                              "arrivals (impossible combination)",
                              block));
    }
  }
  return std::nullopt;
}

}  // namespace

Check CheckDocument(const json& doc, const Catalog& catalog) {
  if (!doc.is_object()) {
    return Fail("", fmt::format("found {}, expected a JSON object (a scenario)", ShowTyped(doc)));
  }
  if (const std::optional<std::string> key = diag::FirstUnknownKey(doc, TopLevelKeys())) {
    return Fail(Child("", *key), diag::Unknown("key", *key, TopLevelKeys(), "keys"));
  }
  if (Check problem = CheckName(doc)) return problem;
  if (Check problem = CheckStringList(doc, "fmea", "failure-mode id")) return problem;
  if (Check problem = CheckSeed(doc)) return problem;
  if (Check problem = CheckExpect(doc)) return problem;
  for (const Section& section : Sections()) {
    if (Check problem = CheckSection(doc, section)) return problem;
  }
  const bool freerun = ValueOf(doc, "", "mode") == "freerun";
  if (Check problem = CheckFaults(doc, catalog, freerun)) return problem;
  if (Check problem = CheckInvariants(doc, catalog)) return problem;
  if (Check problem = CheckSkills(doc)) return problem;
  if (Check problem = CheckStoreOf(doc, catalog, ValueOf(doc, "", "store").get<std::string>())) {
    return problem;
  }
  if (Check problem = CheckArrivals(doc)) return problem;
  if (Check problem = CheckSutBlock(doc, catalog, freerun)) return problem;
  if (Check problem = CheckDifferentialBlock(doc, catalog, freerun)) return problem;
  return CheckCombinations(doc, freerun);
}

}  // namespace faultline::scenario_keys
