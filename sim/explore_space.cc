// The search space of a family: its knobs (its ranges, which faults are
// present, the scheduler), RapidCheck generators over them, and the way from
// a case to a concrete run (Materialize) and back (CaseOf).
#include "sim/explore_space.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "sim/option_check.h"
#include "sim/settings.h"

namespace faultline {
namespace explore_space {
namespace {

using nlohmann::json;

// A fault the family has is in a drawn run with this probability (3 in 4);
// explore picks PCT over the random scheduler with the same odds.
constexpr uint64_t kOneIn = 4;
// Unwritten PCT depth: explore draws it from [1, 4] (0 to 3 preemptions).
constexpr int64_t kMaxDepth = 4;
// Sizes ramp 0, 5, ..., 100 and start again: small cases first, every size
// again and again.
constexpr int64_t kSizeSteps = 21;

std::optional<std::pair<int64_t, int64_t>> WrittenRange(const json& doc,
                                                        const std::string& pointer) {
  const json::json_pointer p(pointer);
  if (!doc.contains(p)) return std::nullopt;
  const json& v = doc.at(p);
  if (!v.is_array() || v.size() != 2) return std::nullopt;
  const int64_t lo = v[0].get<int64_t>(), hi = v[1].get<int64_t>();
  if (lo == hi) return std::nullopt;
  return std::make_pair(lo, hi);
}

bool Written(const json& doc, const std::string& pointer) {
  return doc.contains(json::json_pointer(pointer));
}

ExploreKnob IntKnob(std::string pointer, std::pair<int64_t, int64_t> range, bool shrinks) {
  ExploreKnob k;
  k.pointer = std::move(pointer);
  k.kind = ExploreKnob::Kind::kInt;
  k.lo = range.first;
  k.hi = range.second;
  k.shrinks = shrinks;
  return k;
}

// A choice that is not a size: drawn uniformly at every size, never shrunk.
rc::Gen<int64_t> OneInGen(int64_t rare, int64_t common) {
  return [=](const rc::Random& random, int) {
    return rc::shrinkable::just(rc::Random(random).next() % kOneIn == 0 ? rare : common);
  };
}

// A fault's presence shrinks to absent.
rc::Shrinkable<int64_t> PresenceAt(int64_t present) {
  return rc::shrinkable::shrinkRecur(
      present, [](int64_t v) { return v == 0 ? rc::Seq<int64_t>() : rc::seq::just<int64_t>(0); });
}

rc::Gen<int64_t> KnobGen(const ExploreKnob& k) {
  switch (k.kind) {
    case ExploreKnob::Kind::kPresence:
      return [](const rc::Random& random, int) {
        return PresenceAt(rc::Random(random).next() % kOneIn == 0 ? 0 : 1);
      };
    case ExploreKnob::Kind::kScheduler:
      return OneInGen(/*random=*/1, /*pct=*/0);
    case ExploreKnob::Kind::kChoice:
      // Not a size: every alternative is as likely at every size; a shrink
      // moves towards the first one written.
      return rc::gen::resize(rc::kNominalSize, rc::gen::inRange<int64_t>(k.lo, k.hi + 1));
    case ExploreKnob::Kind::kInt:
      break;
  }
  // Sizes (agents, items, fault times and counts) grow with RapidCheck's
  // size; other values (coordinator settings) are drawn from the whole range.
  rc::Gen<int64_t> gen = rc::gen::inRange<int64_t>(k.lo, k.hi + 1);
  return k.shrinks ? gen : rc::gen::noShrink(rc::gen::resize(rc::kNominalSize, gen));
}

// The value `v` of knob `k` with the shrinks KnobGen would have given it:
// a given scenario shrinks the way a drawn one does.
rc::Gen<int64_t> KnobAt(const ExploreKnob& k, int64_t v) {
  return [k, v](const rc::Random&, int) {
    if (k.kind == ExploreKnob::Kind::kPresence) return PresenceAt(v);
    if ((k.kind == ExploreKnob::Kind::kInt && k.shrinks) ||
        k.kind == ExploreKnob::Kind::kChoice) {
      const int64_t lo = k.lo;
      return rc::shrinkable::shrinkRecur(
          v, [lo](int64_t x) { return rc::shrink::towards<int64_t>(x, lo); });
    }
    return rc::shrinkable::just(v);
  };
}

// One value per knob, with tuple shrinking: the first knob's shrinks come
// first, so the knobs are ordered by how much a shrink of them simplifies.
rc::Gen<Values> ValuesGen(const std::vector<rc::Gen<int64_t>>& knobs) {
  rc::Gen<Values> gen = rc::gen::just(Values{});
  for (const rc::Gen<int64_t>& k : knobs) {
    gen = rc::gen::apply(
        [](Values values, int64_t v) {
          values.push_back(v);
          return values;
        },
        gen, k);
  }
  return gen;
}

rc::Gen<Values> ValuesGen(const std::vector<ExploreKnob>& knobs) {
  std::vector<rc::Gen<int64_t>> gens;
  for (const ExploreKnob& k : knobs) gens.push_back(KnobGen(k));
  return ValuesGen(gens);
}

}  // namespace

rc::Shrinkable<Values> TreeOf(const std::vector<ExploreKnob>& knobs, const Values& values) {
  std::vector<rc::Gen<int64_t>> gens;
  for (size_t i = 0; i < knobs.size(); ++i) gens.push_back(KnobAt(knobs[i], values[i]));
  return ValuesGen(gens)(rc::Random(), 0);
}

rc::Shrinkable<Values> DrawValues(const std::vector<ExploreKnob>& knobs, uint64_t master,
                                  int64_t index) {
  const rc::Random random(Rng(master).Split(fmt::format("explore/{}", index)).Next());
  const int size = static_cast<int>((index % kSizeSteps) * rc::kNominalSize / (kSizeSteps - 1));
  return ValuesGen(knobs)(random, size);
}

uint64_t SmallSeed(const Rng& rng) { return Rng(rng).Next() >> 32; }

uint64_t DrawSeed(uint64_t master, int64_t index) {
  return SmallSeed(Rng(master).Split(fmt::format("explore/{}/seed", index)));
}

}  // namespace explore_space

using explore_space::DrawSeed;
using explore_space::DrawValues;
using explore_space::IntKnob;
using explore_space::kMaxDepth;
using explore_space::Values;
using explore_space::Written;
using explore_space::WrittenRange;
using nlohmann::json;

ExploreSpace::ExploreSpace(const Scenario& family, const Catalog& catalog)
    : family_(family), catalog_(catalog) {
  const json& doc = family.doc;
  const json faults = doc.value("faults", json::array());
  // Shrink order: leaving out a fault, then fewer agents and items, then
  // earlier and fewer firings, then fewer preemptions.
  for (size_t i = 0; i < faults.size(); ++i) {
    ExploreKnob k;
    k.pointer = fmt::format("/faults/{}", i);
    k.kind = ExploreKnob::Kind::kPresence;
    k.lo = 0;
    k.hi = 1;
    k.shrinks = true;
    k.fault = static_cast<int>(i);
    knobs_.push_back(k);
  }
  for (const char* pointer : {"/agents/count", "/work/items", "/work/arrivals/submitters",
                              "/work/arrivals/items"}) {
    if (auto range = WrittenRange(doc, pointer)) knobs_.push_back(IntKnob(pointer, *range, true));
  }
  for (size_t i = 0; i < faults.size(); ++i) {
    const FaultKind* kind = catalog.FindFault(faults[i].value("kind", ""));
    if (kind == nullptr) continue;
    for (const OptionSpec& spec : kind->options) {
      const std::string pointer = fmt::format("/faults/{}/{}", i, spec.name);
      if (const auto written = faults[i].find(spec.name);
          written != faults[i].end() && written->is_object() && written->contains(kOneOf)) {
        ExploreKnob k;
        k.pointer = pointer;
        k.kind = ExploreKnob::Kind::kChoice;
        k.alternatives = written->at(kOneOf);
        k.lo = 0;
        k.hi = static_cast<int64_t>(k.alternatives.size()) - 1;
        k.shrinks = true;
        k.fault = static_cast<int>(i);
        k.option = spec.name;
        knobs_.push_back(k);
      } else if (auto range = WrittenRange(doc, pointer)) {
        ExploreKnob k = IntKnob(pointer, *range, true);
        k.fault = static_cast<int>(i);
        k.option = spec.name;
        knobs_.push_back(k);
      }
    }
  }
  const bool kind_written = Written(doc, "/scheduler/kind");
  if (!kind_written) {
    ExploreKnob k;
    k.pointer = "/scheduler/kind";
    k.kind = ExploreKnob::Kind::kScheduler;
    k.hi = 1;
    knobs_.push_back(k);
  }
  if (auto range = WrittenRange(doc, "/scheduler/depth")) {
    knobs_.push_back(IntKnob("/scheduler/depth", *range, true));
  } else if (!Written(doc, "/scheduler/depth") &&
             (!kind_written || doc["scheduler"]["kind"] == "pct")) {
    knobs_.push_back(IntKnob("/scheduler/depth", {1, kMaxDepth}, true));
  }
  // Every setting of the table written as a range (the coordinator's; SLO
  // bounds take none) is a knob drawn from its whole range.
  for (const SettingSpec& spec : SettingTable()) {
    const std::string pointer = SettingPointer(spec);
    if (auto range = WrittenRange(doc, pointer)) knobs_.push_back(IntKnob(pointer, *range, false));
  }
}

ExploreCase ExploreSpace::Generate(uint64_t master_seed, int64_t index) const {
  return {DrawSeed(master_seed, index), DrawValues(knobs_, master_seed, index).value()};
}

ResolvedScenario ExploreSpace::Materialize(const ExploreCase& c) const {
  ResolvedScenario r = Resolve(family_, catalog_, c.seed);
  r.mode = Mode::kLockstep;
  std::vector<bool> present(r.faults.size(), true);
  for (size_t i = 0; i < knobs_.size() && i < c.values.size(); ++i) {
    const ExploreKnob& k = knobs_[i];
    const int64_t v = c.values[i];
    if (k.kind == ExploreKnob::Kind::kPresence) {
      present[static_cast<size_t>(k.fault)] = v != 0;
    } else if (k.kind == ExploreKnob::Kind::kScheduler) {
      r.scheduler = v == 0 ? "pct" : "random";
    } else if (k.kind == ExploreKnob::Kind::kChoice) {
      r.faults[static_cast<size_t>(k.fault)].options[k.option] =
          k.alternatives.at(static_cast<size_t>(v));
    } else if (k.fault >= 0) {
      r.faults[static_cast<size_t>(k.fault)].options[k.option] = v;
    } else if (k.pointer == "/agents/count") {
      r.agents = static_cast<int>(v);
    } else if (k.pointer == "/work/items") {
      r.items = static_cast<int>(v);
    } else if (k.pointer == "/work/arrivals/submitters") {
      r.arrivals.submitters = static_cast<int>(v);
    } else if (k.pointer == "/work/arrivals/items") {
      r.arrivals.items = v;
    } else if (k.pointer == "/scheduler/depth") {
      r.pct_depth = static_cast<int>(v);
    } else if (const SettingSpec* setting = FindSetting(k.pointer)) {
      r.*setting->field = v;
    }
  }
  std::vector<FaultInstance> faults;
  for (size_t i = 0; i < r.faults.size(); ++i) {
    if (present[i]) faults.push_back(std::move(r.faults[i]));
  }
  r.faults = std::move(faults);
  return r;
}

bool ExploreSpace::CaseOf(const ResolvedScenario& s, ExploreCase* out, std::string* error) const {
  const ResolvedScenario base = Resolve(family_, catalog_, s.seed);
  // Which of the family's faults the scenario has: its faults, in order,
  // matched to the family's by kind.
  std::vector<int> fault_of(base.faults.size(), -1);
  size_t next = 0;
  for (size_t i = 0; i < base.faults.size() && next < s.faults.size(); ++i) {
    if (base.faults[i].kind == s.faults[next].kind) fault_of[i] = static_cast<int>(next++);
  }
  if (next < s.faults.size()) {
    *error = fmt::format("its fault {} ({}) is not one of the family's, in the family's order",
                         next, s.faults[next].kind);
    return false;
  }
  ExploreCase c{s.seed, {}};
  for (const ExploreKnob& k : knobs_) {
    int64_t v = 0;
    if (k.kind == ExploreKnob::Kind::kPresence) {
      v = fault_of[static_cast<size_t>(k.fault)] >= 0 ? 1 : 0;
    } else if (k.kind == ExploreKnob::Kind::kScheduler) {
      v = s.scheduler == "pct" ? 0 : 1;
    } else if (k.kind == ExploreKnob::Kind::kChoice) {
      // The family's first alternative for a fault the scenario leaves out.
      const int j = fault_of[static_cast<size_t>(k.fault)];
      if (j >= 0) {
        const json& value = s.faults[static_cast<size_t>(j)].options.value(k.option, json());
        const auto at = std::find(k.alternatives.begin(), k.alternatives.end(), value);
        if (at == k.alternatives.end()) {
          *error = fmt::format("{} is {}, not one of the family's {}", k.pointer, value.dump(),
                               k.alternatives.dump());
          return false;
        }
        v = at - k.alternatives.begin();
      }
    } else if (k.fault >= 0) {
      const int j = fault_of[static_cast<size_t>(k.fault)];
      v = j >= 0 ? s.faults[static_cast<size_t>(j)].options.value(k.option, k.lo) : k.lo;
    } else {
      const json written = s.ToJson();
      v = written.value(json::json_pointer(k.pointer), k.lo);
    }
    if (k.kind == ExploreKnob::Kind::kInt && (v < k.lo || v > k.hi)) {
      *error =
          fmt::format("{} is {}, outside the family's range [{}, {}]", k.pointer, v, k.lo, k.hi);
      return false;
    }
    c.values.push_back(v);
  }
  // Everything the knobs do not set must be the family's too.
  ResolvedScenario lockstep = s;
  lockstep.mode = Mode::kLockstep;  // a freerun failure is shrunk in lockstep
  const json want = lockstep.ToJson(), got = Materialize(c).ToJson();
  if (want != got) {
    const json diff = json::diff(got, want);
    *error = fmt::format("{} differs from the family's value",
                         diff.empty() ? std::string("?") : diff[0].value("path", "?"));
    return false;
  }
  *out = std::move(c);
  return true;
}

}  // namespace faultline
