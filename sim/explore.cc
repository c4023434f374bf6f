// Explore and shrink. The search space of a family is a list of knobs (its
// ranges, which faults are present, the scheduler); a RapidCheck generator
// draws one value per knob, and the generator's shrink tree proposes smaller
// cases. The shrink loop is RapidCheck's own greedy descent (take the first
// candidate that still fails, start again from its shrinks), run here rather
// than through rc::check so that it can keep a time budget, try a few other
// seeds for a candidate, report progress, and stay deterministic.
#include "sim/explore.h"

#include <fmt/format.h>
#include <rapidcheck.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>

#include "sim/explore_guide.h"
#include "sim/explore_space.h"
#include "sim/rng.h"
#include "sim/run.h"

namespace faultline {
namespace {

namespace stdfs = std::filesystem;
using explore_space::DrawSeed;
using explore_space::DrawValues;
using explore_space::SmallSeed;
using explore_space::TreeOf;
using explore_space::Values;
using nlohmann::json;

ScenarioSize SizeOf(const ResolvedScenario& s, int64_t steps) {
  ScenarioSize size;
  // Items that arrive during the run count as items.
  size.agents = s.agents;
  size.items = s.items + static_cast<int>(s.arrivals.submitters * s.arrivals.items);
  size.faults = static_cast<int>(s.faults.size());
  for (const FaultInstance& f : s.faults) {
    size.firings += f.options.contains("count") ? f.options["count"].get<int64_t>() : 1;
  }
  size.steps = steps;
  return size;
}

std::string Seconds(double s) { return fmt::format("{:.1f} s", s); }

// "1 agent", "3 agents".
std::string Count(int64_t n, std::string_view what) {
  return fmt::format("{} {}{}", n, what, n == 1 ? "" : "s");
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

void RemoveDir(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  stdfs::remove_all(dir, ec);
}

// The whole search: state that the phases share.
class Explorer {
 public:
  Explorer(const ExploreSpace& space, const Scenario& family, const Catalog& catalog,
           const ExploreOptions& options, CaseRunner& runner)
      : space_(space), family_(family), catalog_(catalog), o_(options), runner_(runner) {}

  ExploreResult Run() {
    if (!Prepare()) return result_;
    if (!(o_.start ? StartFrom(*o_.start) : Search())) return result_;
    Shrink();
    if (result_.exit_code == kExitInterrupted) return Finish();
    Verify();
    return Finish();
  }

 private:
  // The current smallest failing case: its seed and RapidCheck's shrink
  // tree of its knob values.
  struct Failing {
    uint64_t seed;
    rc::Shrinkable<Values> tree;
    ResolvedScenario scenario;
    int64_t steps;
  };

  double Now() const {
    if (o_.now_us) return static_cast<double>(o_.now_us()) / 1e6;
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
  }
  bool Interrupted() const { return o_.interrupted && o_.interrupted->load(); }
  void Say(const std::string& line) const {
    if (o_.say) o_.say(line);
  }
  void Progress(const std::string& line) const {
    if (o_.progress) o_.progress(line);
  }
  std::string Path(const std::string& name) const { return o_.out_dir + "/" + name; }

  // Removes what an earlier explore left in the output directory (only our
  // own names), so that a stale minimal.json never outlives its search.
  bool Prepare() {
    std::error_code ec;
    stdfs::create_directories(o_.out_dir, ec);
    if (ec) return HarnessError(fmt::format("cannot create {}: {}", o_.out_dir, ec.message()));
    for (const char* name : {"original.json", "minimal.json", "minimal.json.tmp", "explore.json"}) {
      stdfs::remove(Path(name), ec);
    }
    RemoveDir(Path("shrink"));
    // Run directories: OUT/<family>-<seed>[-minimal] holding a verdict.
    const std::string prefix = family_.name + "-";
    for (auto it = stdfs::directory_iterator(o_.out_dir, ec); !ec && it != stdfs::directory_iterator();
         it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.rfind(prefix, 0) == 0 && stdfs::exists(it->path() / "scenario.resolved.json")) {
        RemoveDir(it->path().string());
      }
    }
    return true;
  }

  bool HarnessError(std::string error) {
    result_.exit_code = kExitHarness;
    result_.error = std::move(error);
    Say(fmt::format("explore: harness error: {}\n", result_.error));
    return false;
  }

  bool Search() {
    const double start = Now();
    const bool freerun = family_.doc.value("mode", "lockstep") == "freerun";
    Say(fmt::format("explore {} (master seed {}): up to {} runs in {}, lockstep{}\n", family_.name,
                    o_.master_seed, o_.max_runs, Seconds(o_.time_budget_s),
                    freerun ? " (a freerun family: its runs are explored in lockstep, where a "
                              "schedule can be replayed and shrunk)"
                            : ""));
    for (int64_t i = 0; i < o_.max_runs; ++i) {
      const double elapsed = Now() - start;
      if (Interrupted()) return Stop(kExitInterrupted, start);
      if (elapsed >= o_.time_budget_s) break;
      Progress(fmt::format("explore: {} runs, 0 violations, {} left", i,
                           Seconds(o_.time_budget_s - elapsed)));
      ExploreCase c;
      rc::Shrinkable<Values> tree = rc::shrinkable::just(Values{});
      if (o_.guided && guide_.Mutated(i, &c)) {
        tree = TreeOf(space_.knobs(), c.values);
      } else {
        tree = DrawValues(space_.knobs(), o_.master_seed, i);
        c = ExploreCase{DrawSeed(o_.master_seed, i), tree.value()};
      }
      const ResolvedScenario scenario = space_.Materialize(c);
      const CaseOutcome outcome = runner_.Run(scenario, o_.out_dir, "");
      result_.runs = i + 1;
      guide_.Observe(c, outcome.probes);
      NoteCoverage();
      if (outcome.exit_code == kExitInterrupted) return Stop(kExitInterrupted, start);
      if (outcome.exit_code == kExitHarness ||
          (outcome.exit_code == kExitViolation && outcome.violated.empty())) {
        result_.seconds = Now() - start;
        return HarnessError(fmt::format("run {} ({}, seed {}) failed: {}", i + 1, family_.name,
                                        c.seed, outcome.summary));
      }
      if (outcome.exit_code == kExitViolation) {
        result_.seconds = Now() - start;
        Found(i, c, tree, scenario, outcome);
        return true;
      }
      RemoveDir(outcome.run_dir);
    }
    Progress("");
    result_.seconds = Now() - start;
    result_.exit_code = kExitPass;
    Say(fmt::format("explore: no violation in {} runs ({}); {} probes reached\n", result_.runs,
                    Seconds(result_.seconds), guide_.probes().size()));
    WriteSummary();
    return false;
  }

  // --shrink: the given scenario is the original, if it fails.
  bool StartFrom(const ResolvedScenario& given) {
    ExploreCase c;
    std::string error;
    if (!space_.CaseOf(given, &c, &error)) {
      result_.exit_code = kExitUsage;
      result_.error = "the scenario to shrink is not a member of the family " + family_.file +
                      ": " + error;
      Say("explore: " + result_.error + "\n");
      WriteSummary();
      return false;
    }
    Say(fmt::format("explore {}: shrinking a given scenario (seed {}), lockstep\n", family_.name,
                    c.seed));
    const double start = Now();
    const ResolvedScenario scenario = space_.Materialize(c);
    const CaseOutcome outcome = runner_.Run(scenario, o_.out_dir, "");
    result_.runs = 1;
    result_.seconds = Now() - start;
    if (outcome.exit_code == kExitInterrupted) return Stop(kExitInterrupted, start);
    if (outcome.exit_code == kExitHarness ||
        (outcome.exit_code == kExitViolation && outcome.violated.empty())) {
      return HarnessError("the scenario to shrink did not run: " + outcome.summary);
    }
    if (outcome.exit_code == kExitViolation) {
      Found(0, c, TreeOf(space_.knobs(), c.values), scenario, outcome);
      return true;
    }
    RemoveDir(outcome.run_dir);
    result_.exit_code = kExitPass;
    Say("explore: the scenario to shrink violates no invariant: nothing to shrink\n");
    WriteSummary();
    return false;
  }

  bool Stop(int code, double start) {
    Progress("");
    result_.seconds = Now() - start;
    result_.exit_code = code;
    Say("explore: interrupted\n");
    WriteSummary();
    return false;
  }

  void Found(int64_t index, const ExploreCase& c, const rc::Shrinkable<Values>& tree,
             const ResolvedScenario& scenario, const CaseOutcome& outcome) {
    Progress("");
    result_.found = true;
    result_.exit_code = kExitViolation;
    result_.invariant = outcome.violated.front();
    result_.violation = outcome.first_violation;
    result_.original = scenario;
    result_.original_run_dir = outcome.run_dir;
    result_.original_path = Path("original.json");
    WriteFile(result_.original_path, scenario.ToJson().dump(2) + "\n");
    failing_ = Failing{c.seed, tree, scenario, outcome.steps};
    accepted_.push_back(*failing_);
    result_.shrink.before = SizeOf(scenario, outcome.steps);
    Say(fmt::format(
        "VIOLATION in run {} after {} (seed {}, {}, {}, {}): {}\n"
        "  original scenario {} (run directory {})\n",
        index + 1, Seconds(result_.seconds), c.seed, Count(scenario.agents, "agent"),
        Count(scenario.items, "item"), Count(static_cast<int64_t>(scenario.faults.size()), "fault"),
        outcome.first_violation, result_.original_path, outcome.run_dir));
  }

  // --- shrinking ---

  // Runs a candidate once per distinct scenario; true if it violates the
  // invariant the original violated.
  bool Fails(const ExploreCase& c, ResolvedScenario* scenario, int64_t* steps) {
    ++result_.shrink.candidates;
    *scenario = space_.Materialize(c);
    const std::string key = scenario->ToJson().dump();
    if (auto it = tried_.find(key); it != tried_.end()) {
      *steps = it->second.second;
      return it->second.first;
    }
    const CaseOutcome outcome =
        runner_.Run(*scenario, Path("shrink"), fmt::format("-c{}", result_.shrink.runs));
    ++result_.shrink.runs;
    RemoveDir(outcome.run_dir);
    if (outcome.exit_code == kExitInterrupted) interrupted_ = true;
    const bool fails = outcome.exit_code == kExitViolation &&
                       std::find(outcome.violated.begin(), outcome.violated.end(),
                                 result_.invariant) != outcome.violated.end();
    *steps = outcome.steps;
    tried_[key] = {fails, outcome.steps};
    return fails;
  }

  bool OutOfBudget() const {
    return interrupted_ || Interrupted() || Now() - shrink_start_ >= o_.shrink_budget_s;
  }

  void ShrinkProgress() const {
    const ScenarioSize now = SizeOf(failing_->scenario, failing_->steps);
    Progress(fmt::format("shrink: {} steps, {} candidates, size {} -> {}, {} left",
                         result_.shrink.steps, result_.shrink.candidates,
                         result_.shrink.before.Total(), now.Total(),
                         Seconds(std::max(0.0, o_.shrink_budget_s - (Now() - shrink_start_)))));
  }

  void Adopt(const rc::Shrinkable<Values>& tree, uint64_t seed, ResolvedScenario scenario,
             int64_t steps) {
    failing_ = Failing{seed, tree, std::move(scenario), steps};
    accepted_.push_back(*failing_);
    ++result_.shrink.steps;
  }

  // One greedy step: the first candidate that fails with the current seed;
  // failing that, the first that fails with one of a few other seeds.
  // Returns false at a local minimum or when the budget ran out.
  bool ShrinkStep() {
    ResolvedScenario scenario;
    int64_t steps = 0;
    rc::Seq<rc::Shrinkable<Values>> shrinks = failing_->tree.shrinks();
    while (rc::Maybe<rc::Shrinkable<Values>> candidate = shrinks.next()) {
      if (OutOfBudget()) return false;
      ShrinkProgress();
      if (Fails({failing_->seed, candidate->value()}, &scenario, &steps)) {
        Adopt(*candidate, failing_->seed, std::move(scenario), steps);
        return true;
      }
    }
    if (o_.seed_retries <= 0) {
      result_.shrink.complete = true;
      return false;
    }
    shrinks = failing_->tree.shrinks();
    for (int n = 0; rc::Maybe<rc::Shrinkable<Values>> candidate = shrinks.next(); ++n) {
      const Values values = candidate->value();
      for (int retry = 1; retry <= o_.seed_retries; ++retry) {
        if (OutOfBudget()) return false;
        ShrinkProgress();
        const uint64_t seed = SmallSeed(Rng(o_.master_seed)
                                            .Split(fmt::format("shrink/{}/{}/{}",
                                                               result_.shrink.steps, n, retry)));
        if (Fails({seed, values}, &scenario, &steps)) {
          Adopt(*candidate, seed, std::move(scenario), steps);
          return true;
        }
      }
    }
    result_.shrink.complete = true;
    return false;
  }

  void Shrink() {
    Say(fmt::format("shrinking (budget {}): keeping {} violated\n", Seconds(o_.shrink_budget_s),
                    result_.invariant));
    shrink_start_ = Now();
    while (ShrinkStep()) {
    }
    RemoveDir(Path("shrink"));  // every candidate's run directory is gone already
    Progress("");
    result_.shrink.seconds = Now() - shrink_start_;
    result_.shrink.after = SizeOf(failing_->scenario, failing_->steps);
    if (interrupted_ || Interrupted()) {
      result_.exit_code = kExitInterrupted;
      Say("explore: interrupted while shrinking; the original failing scenario is in " +
          result_.original_path + "\n");
      return;
    }
    const ScenarioSize& b = result_.shrink.before;
    const ScenarioSize& a = result_.shrink.after;
    Say(fmt::format(
        "shrunk in {}: {} steps, {} candidates, {} runs; {}\n"
        "  agents {} -> {}, items {} -> {}, faults {} -> {}, fault firings {} -> {}, "
        "lockstep steps {} -> {}\n",
        Seconds(result_.shrink.seconds), result_.shrink.steps, result_.shrink.candidates,
        result_.shrink.runs,
        result_.shrink.complete ? "complete (no smaller candidate fails)"
                                : "stopped by the shrink budget (a smaller one may exist)",
        b.agents, a.agents, b.items, a.items, b.faults, a.faults, b.firings, a.firings, b.steps,
        a.steps));
  }

  // --- verification: minimal.json is what `faultline run` reads ---

  // Writes `s` as a plain scenario, loads it back as `faultline run` would and
  // runs it. True if it violated the invariant again.
  bool Reproduces(const ResolvedScenario& s) {
    const std::string tmp = Path("minimal.json.tmp");
    if (!WriteFile(tmp, s.ToJson().dump(2) + "\n")) {
      HarnessError("cannot write " + tmp);
      return false;
    }
    Scenario loaded;
    ScenarioError error;
    if (!LoadScenario(tmp, catalog_, &loaded, &error)) {
      HarnessError("the minimal scenario does not load back: " + error.ToString());
      return false;
    }
    const ResolvedScenario again =
        Resolve(loaded, catalog_, loaded.doc.value("seed", uint64_t{1}));
    if (again.ToJson() != s.ToJson()) {
      HarnessError("the minimal scenario does not resolve to itself when loaded back");
      return false;
    }
    const CaseOutcome outcome = runner_.Run(again, o_.out_dir, "-minimal");
    if (outcome.exit_code == kExitViolation &&
        std::find(outcome.violated.begin(), outcome.violated.end(), result_.invariant) !=
            outcome.violated.end()) {
      result_.minimal_run_dir = outcome.run_dir;
      return true;
    }
    RemoveDir(outcome.run_dir);
    if (outcome.exit_code == kExitInterrupted) interrupted_ = true;
    return false;
  }

  void Verify() {
    // Newest first: if the smallest does not reproduce (nondeterminism in the
    // system under test), fall back to the larger ones that failed before it.
    for (auto it = accepted_.rbegin(); it != accepted_.rend(); ++it) {
      if (Reproduces(it->scenario)) {
        std::error_code ec;
        stdfs::rename(Path("minimal.json.tmp"), Path("minimal.json"), ec);
        result_.minimal = it->scenario;
        result_.minimal_path = Path("minimal.json");
        result_.verified = true;
        if (it != accepted_.rbegin()) {
          Say(fmt::format("  note: the {} smallest candidates did not fail again on a re-run "
                          "(nondeterminism? see docs/determinism.md); minimal.json is the "
                          "smallest that did\n",
                          it - accepted_.rbegin()));
          result_.shrink.after = SizeOf(it->scenario, it->steps);
        }
        result_.reproduce = fmt::format("{}faultline run {}{}", o_.reproduce_prefix,
                                        result_.minimal_path, o_.reproduce_suffix);
        Say(fmt::format("minimal scenario {} (re-run: violates {} again, run directory {})\n"
                        "reproduce: {}\n",
                        result_.minimal_path, result_.invariant, result_.minimal_run_dir,
                        result_.reproduce));
        return;
      }
      if (result_.exit_code != kExitViolation) return;  // a harness error was reported
      if (interrupted_ || Interrupted()) {
        result_.exit_code = kExitInterrupted;
        return;
      }
    }
    std::error_code ec;
    stdfs::remove(Path("minimal.json.tmp"), ec);
    HarnessError(fmt::format(
        "the violation did not happen again when its scenario was re-run, so no minimal.json "
        "was written; lockstep runs should be reproducible (see docs/determinism.md); the "
        "original is {}",
        result_.original_path));
  }

  void NoteCoverage() {
    result_.probes_reached.assign(guide_.probes().begin(), guide_.probes().end());
    result_.coverage = guide_.Series(result_.runs);
  }

  ExploreResult Finish() {
    WriteSummary();
    return result_;
  }

  void WriteSummary() {
    json j = result_.ToJson();
    j["family"] = family_.file;
    j["master_seed"] = o_.master_seed;
    j["guided"] = o_.guided;
    j["budgets"] = {{"runs", o_.max_runs},
                    {"time_s", o_.time_budget_s},
                    {"shrink_s", o_.shrink_budget_s},
                    {"seed_retries", o_.seed_retries}};
    WriteFile(Path("explore.json"), j.dump(2) + "\n");
  }

  const ExploreSpace& space_;
  const Scenario& family_;
  const Catalog& catalog_;
  const ExploreOptions& o_;
  CaseRunner& runner_;
  CoverageGuide guide_{space_.knobs(), o_.master_seed};  // after space_ and o_
  ExploreResult result_;
  std::optional<Failing> failing_;
  std::vector<Failing> accepted_;  // the original, then every adopted candidate
  std::map<std::string, std::pair<bool, int64_t>> tried_;  // scenario -> fails, steps
  double shrink_start_ = 0;
  bool interrupted_ = false;
};

}  // namespace

json ScenarioSize::ToJson() const {
  return {{"agents", agents}, {"items", items},   {"faults", faults},
          {"firings", firings}, {"steps", steps}, {"total", Total()}};
}

json ExploreResult::ToJson() const {
  json j = {{"exit_code", exit_code}, {"runs", runs},         {"seconds", seconds},
            {"found", found},         {"error", error},
            {"probes_reached", probes_reached}, {"coverage", coverage}};
  if (!found) return j;
  j["violation"] = {{"invariant", invariant}, {"message", violation}};
  j["original"] = {{"path", original_path}, {"run_dir", original_run_dir},
                   {"seed", original.seed}};
  j["shrink"] = {{"steps", shrink.steps},         {"candidates", shrink.candidates},
                 {"runs", shrink.runs},           {"seconds", shrink.seconds},
                 {"complete", shrink.complete},   {"before", shrink.before.ToJson()},
                 {"after", shrink.after.ToJson()}};
  j["minimal"] = {{"path", minimal_path},
                  {"run_dir", minimal_run_dir},
                  {"verified", verified},
                  {"seed", minimal.seed},
                  {"reproduce", reproduce}};
  return j;
}

ExploreResult Explore(const Scenario& family, const Catalog& catalog,
                      const ExploreOptions& options, CaseRunner& runner) {
  const ExploreSpace space(family, catalog);
  return Explorer(space, family, catalog, options, runner).Run();
}

CaseOutcome InProcessRunner::Run(const ResolvedScenario& scenario, const std::string& out_dir,
                                 const std::string& suffix) {
  RunOptions o = base_;
  o.out_dir = out_dir;
  o.run_dir_suffix = suffix;
  o.keep = false;
  o.progress = false;
  const RunReport report = RunScenario(scenario, catalog_, o);
  CaseOutcome outcome;
  outcome.exit_code = report.exit_code;
  outcome.run_dir = report.run_dir;
  outcome.summary = report.summary;
  if (!report.verdict.is_object()) return outcome;
  outcome.steps = report.verdict.value(json::json_pointer("/stats/steps"), int64_t{0});
  const json probes = report.verdict.value("probes", json::object());
  for (const auto& [name, count] : probes.items()) {
    outcome.probes[name] = count.value("hits", int64_t{0});
  }
  for (const json& inv : report.verdict.value("invariants", json::array())) {
    if (inv.value("ok", true)) continue;
    const std::string name = inv.value("name", "");
    outcome.violated.push_back(name);
    if (outcome.first_violation.empty()) {
      const json& vs = inv.value("violations", json::array());
      outcome.first_violation =
          name + ": " + (vs.empty() ? std::string("violated") : vs[0].value("message", ""));
    }
  }
  return outcome;
}

}  // namespace faultline
