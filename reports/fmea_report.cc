// Building the report model: read every run once (verdict, resolved fmea ids,
// trace), keep a compact summary of each, then aggregate per failure mode.
// The counting rules are those of docs/fmea-report.md; change both together.
#include "reports/fmea_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <set>
#include <tuple>

#include "base/bounded_read.h"
#include "reports/fmea_matrix.h"
#include "reports/fmea_scales.h"
#include "reports/probe_coverage.h"
#include "reports/timeline_svg.h"
#include "reports/trace_analysis.h"

namespace faultline::reports {
namespace {

using nlohmann::json;
namespace stdfs = std::filesystem;

// What the aggregation needs from one run; the trace itself is not kept.
struct RunSummary {
  RunDir dir;
  std::string key;
  std::string scenario;
  uint64_t seed = 0;
  std::string mode;
  Outcome outcome = Outcome::kPass;
  std::optional<int64_t> detection_latency;
  std::vector<Recovery> recoveries;
  json record;  // this run's entry of model["runs"]
};

json Nullable(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }
json Nullable(const std::optional<int>& v) { return v ? json(*v) : json(nullptr); }

std::string RelativeTo(const std::string& path, const std::string& base) {
  std::error_code ec;
  stdfs::path p = stdfs::absolute(path, ec).lexically_normal();
  stdfs::path b = stdfs::absolute(base.empty() ? "." : base, ec).lexically_normal();
  stdfs::path rel = p.lexically_relative(b);
  return rel.empty() ? p.string() : rel.string();
}

uint64_t SeedOf(const json& verdict) {
  const json& s = verdict["seed"];
  return s.is_number_unsigned() || s.is_number_integer() ? s.get<uint64_t>() : 0;
}

bool Landed(const json& verdict, const std::vector<std::string>& kinds) {
  for (const json& f : verdict.value("faults", json::array())) {
    if (!f.value("landed", false)) continue;
    if (kinds.empty() || std::count(kinds.begin(), kinds.end(), f.value("kind", ""))) return true;
  }
  return false;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

json PercentileStats(const std::vector<int64_t>& samples) {
  return {{"samples", samples.size()},
          {"p50", Nullable(Percentile(samples, 50))},
          {"p99", Nullable(Percentile(samples, 99))}};
}

// Loads, sorts and de-duplicates the run directories.
std::vector<RunSummary> LoadRuns(const std::vector<std::string>& paths,
                                 std::vector<std::string>* warnings) {
  std::vector<RunSummary> runs;
  for (const std::string& path : paths) {
    RunSummary r;
    std::string error;
    if (!LoadRunDir(path, &r.dir, &error)) {
      warnings->push_back(error);
      continue;
    }
    r.scenario = r.dir.verdict.value("scenario", "");
    r.seed = SeedOf(r.dir.verdict);
    r.mode = r.dir.verdict.value("mode", "");
    r.outcome = OutcomeOf(r.dir.verdict);
    runs.push_back(std::move(r));
  }
  auto sha = [](const RunSummary& r) { return r.dir.verdict.value("trace_sha256", ""); };
  std::sort(runs.begin(), runs.end(), [&](const RunSummary& a, const RunSummary& b) {
    return std::tie(a.scenario, a.seed, a.dir.id, a.mode) <
               std::tie(b.scenario, b.seed, b.dir.id, b.mode) ||
           (std::tie(a.scenario, a.seed, a.dir.id, a.mode) ==
                std::tie(b.scenario, b.seed, b.dir.id, b.mode) &&
            std::make_pair(sha(a), a.dir.path) < std::make_pair(sha(b), b.dir.path));
  });
  std::vector<RunSummary> unique;
  std::set<std::string> keys;
  for (RunSummary& r : runs) {
    if (!unique.empty() && unique.back().dir.id == r.dir.id && sha(unique.back()) == sha(r) &&
        unique.back().outcome == r.outcome) {
      warnings->push_back(fmt::format("run {} found twice with the same trace ({} and {}): "
                                      "counted once", r.dir.id, unique.back().dir.path, r.dir.path));
      continue;
    }
    r.key = r.dir.id;
    if (keys.count(r.key)) r.key += "@" + sha(r).substr(0, 12);
    for (int n = 2; keys.count(r.key); ++n) r.key = fmt::format("{}#{}", r.dir.id, n);
    keys.insert(r.key);
    unique.push_back(std::move(r));
  }
  return unique;
}

// Reads the trace of one run and fills in its record; returns its timeline.
std::string AnalyzeRun(RunSummary* r, const ReportOptions& options,
                       std::vector<std::string>* warnings) {
  const json& v = r->dir.verdict;
  const std::string trace_path = r->dir.path + "/trace.jsonl";
  // A FIFO or a device in place of the trace is never opened for reading.
  const base::Status regular = base::CheckRegularFile(trace_path);
  std::ifstream trace;
  if (regular.ok()) trace.open(trace_path);
  uint64_t bad_lines = 0;
  TraceFacts facts;
  const bool readable = trace.is_open();
  if (readable) {
    facts = AnalyzeTrace(trace, EvidenceOf(v), &bad_lines);
  } else {
    warnings->push_back(trace_path + ": " + (regular.ok() ? "unreadable" : regular.message()) +
                        "; the run counts, without latency, recovery or timeline");
  }
  if (bad_lines > 0) {
    warnings->push_back(fmt::format("{}/trace.jsonl: {} lines are not JSON objects and were "
                                    "skipped", r->dir.path, bad_lines));
  }
  r->detection_latency = facts.DetectionLatency();
  r->recoveries = facts.recoveries;

  json recoveries = json::array();
  for (const Recovery& rec : facts.recoveries) {
    recoveries.push_back({{"fault_seq", rec.fault_seq},
                          {"kind", rec.kind},
                          {"index", rec.index},
                          {"landed_us", rec.landed},
                          {"affected", rec.affected},
                          {"recovery_us", rec.recovery_us >= 0 ? json(rec.recovery_us) : json()},
                          {"unrecovered", rec.unrecovered}});
  }
  json faults = json::array();
  for (const json& f : v.value("faults", json::array())) {
    faults.push_back({{"kind", f.value("kind", "")},
                      {"index", f.value("index", 0)},
                      {"landed", f.value("landed", false)},
                      {"times", f.value("times", 0)}});
  }
  const json stats = v.value("stats", json::object());
  std::error_code ec;
  const bool has_timeline = stdfs::is_regular_file(r->dir.path + "/timeline.svg", ec);
  r->record = {
      {"run", r->key},
      {"scenario", r->scenario},
      {"seed", r->seed},
      {"mode", r->mode},
      {"outcome", std::string(OutcomeName(r->outcome))},
      {"end", v.value("end", "")},
      {"error", v.value("error", "")},
      {"vacuous", v.value("vacuous", false)},
      {"fmea", r->dir.fmea},
      {"faults", faults},
      {"invariants", v.value("invariants", json::array())},
      {"detection_latency_us", Nullable(r->detection_latency)},
      {"recoveries", recoveries},
      {"reproduce", v.value("reproduce", "")},
      {"trace_sha256", v.value("trace_sha256", "")},
      {"stats",
       {{"events", stats.value("events", 0)},
        {"sim_ms", stats.value("sim_ms", 0)},
        {"wall_ms", stats.value("wall_ms", 0)},
        {"agents", stats.value("agents", 0)},
        {"items", stats.value("items", 0)}}},
      {"paths",
       {{"dir", RelativeTo(r->dir.path, options.out_dir)},
        {"timeline", has_timeline ? json(RelativeTo(r->dir.path + "/timeline.svg", options.out_dir))
                                  : json()},
        {"minimal", r->dir.minimal.empty() ? json()
                                           : json(RelativeTo(r->dir.minimal, options.out_dir))}}},
  };
  return readable ? RenderTimelineSvg(facts, LabelOf(v, r->key)) : "";
}

bool Embed(const RunSummary& r, size_t total, Timelines mode, std::set<std::string>* seen) {
  const bool first_of_scenario = seen->insert(r.scenario).second;
  const bool notable = r.outcome != Outcome::kPass || r.dir.verdict.value("vacuous", false);
  switch (mode) {
    case Timelines::kAll: return true;
    case Timelines::kNone: return false;
    case Timelines::kFailing: return notable;
    case Timelines::kAuto: return total <= kAutoTimelines || notable || first_of_scenario;
  }
  return false;
}

// Everything the report says about one failure mode.
json ModeEvidence(const FailureMode& m, const std::vector<RunSummary>& runs,
                  const json& measured) {
  int total = 0, counted = 0, failed = 0, vacuous = 0, harness = 0, interrupted = 0;
  std::map<std::pair<std::string, std::string>, std::pair<std::vector<uint64_t>, int>> by_scenario;
  std::map<std::string, std::array<int, 3>> fault_stats;  // kind -> landings, runs landed, runs
  std::map<std::string, std::array<int, 3>> inv_stats;    // name -> checked, passed, failed
  std::vector<int64_t> latencies, recoveries;
  int unrecovered = 0, no_sample = 0;
  bool all_checked = true, some_checked = false, detected = false;
  json failing = json::array();

  for (const RunSummary& r : runs) {
    if (!Contains(r.dir.fmea, m.id) && !Contains(m.scenarios, r.scenario)) continue;
    // A planted defect's run is detection evidence (fmea_matrix.h), not
    // evidence about the product.
    if (r.dir.verdict.contains("mutant")) continue;
    ++total;
    if (r.outcome == Outcome::kHarnessError) ++harness;
    if (r.outcome == Outcome::kInterrupted) ++interrupted;
    if (r.outcome == Outcome::kHarnessError || r.outcome == Outcome::kInterrupted) continue;
    const json& v = r.dir.verdict;
    if (!Landed(v, m.faults) && r.outcome != Outcome::kViolation) {
      ++vacuous;
      continue;
    }
    ++counted;
    const bool run_failed = r.outcome == Outcome::kViolation;
    failed += run_failed;
    auto& sc = by_scenario[{r.scenario, r.mode}];
    sc.first.push_back(r.seed);
    sc.second += run_failed;
    for (const json& f : v.value("faults", json::array())) {
      auto& s = fault_stats[f.value("kind", "")];
      s[0] += f.value("times", 0);
      s[2] += 1;
      s[1] += f.value("landed", false) ? 1 : 0;
    }
    std::set<std::string> checked;
    json violations = json::array();
    for (const json& inv : v.value("invariants", json::array())) {
      const std::string name = inv.value("name", "");
      const json vs = inv.value("violations", json::array());
      checked.insert(name);
      auto& s = inv_stats[name];
      s[0] += 1;
      s[vs.empty() ? 1 : 2] += 1;
      if (!vs.empty() && Contains(m.invariants, name)) detected = true;
      for (const json& x : vs) {
        violations.push_back({{"invariant", name}, {"message", x.value("message", "")}});
      }
    }
    bool all = true, any = false;
    for (const std::string& name : m.invariants) {
      if (checked.count(name)) {
        any = true;
      } else {
        all = false;
      }
    }
    all_checked = all_checked && all;
    some_checked = some_checked || any;
    if (run_failed) {
      if (r.detection_latency) latencies.push_back(*r.detection_latency);
      failing.push_back({{"run", r.key},
                         {"violations", violations},
                         {"reproduce", v.value("reproduce", "")},
                         {"minimal", r.record["paths"]["minimal"]}});
    }
    for (const Recovery& rec : r.recoveries) {
      if (!m.faults.empty() && !Contains(m.faults, rec.kind)) continue;
      if (rec.recovery_us >= 0) {
        recoveries.push_back(rec.recovery_us);
      } else if (rec.unrecovered) {
        ++unrecovered;
      } else {
        ++no_sample;
      }
    }
  }

  json scenarios_run = json::array();
  for (auto& [key, value] : by_scenario) {
    std::sort(value.first.begin(), value.first.end());
    scenarios_run.push_back({{"scenario", key.first}, {"mode", key.second},
                             {"seeds", value.first}, {"runs", value.first.size()},
                             {"failed", value.second}});
  }
  json faults_landed = json::array();
  for (const auto& [kind, s] : fault_stats) {
    faults_landed.push_back({{"kind", kind}, {"landings", s[0]}, {"runs_landed", s[1]},
                             {"runs", s[2]}, {"triggers", Contains(m.faults, kind)}});
  }
  json invariants = json::array();
  for (const auto& [name, s] : inv_stats) {
    invariants.push_back({{"name", name}, {"runs", s[0]}, {"passed", s[1]}, {"failed", s[2]},
                          {"detects", Contains(m.invariants, name)}});
  }

  json occurrence = {{"failures", failed}, {"runs", counted}};
  json residual;
  if (counted > 0) {
    UpperBound ub = OccurrenceUpperBound(failed, counted);
    int o = OccurrenceScore(ub.value);
    Score s = SeverityScore(m.s, m.severity_label);
    Score d = DetectionScore({static_cast<int>(m.invariants.size()),
                              all_checked && some_checked, some_checked, detected});
    if (!measured.is_null()) d = {measured["D"].get<int>(), measured["basis"].get<std::string>()};
    occurrence["observed"] = static_cast<double>(failed) / counted;
    occurrence["upper95"] = ub.value;
    occurrence["method"] = ub.method;
    residual = {{"S", s.value}, {"S_basis", s.basis},
                {"O", o}, {"O_basis", fmt::format("AIAG occurrence scale at the 95 % upper bound "
                                                  "{:.4g} ({}, {} of {} runs failed)", ub.value,
                                                  ub.method, failed, counted)},
                {"D", d.value}, {"D_basis", d.basis},
                {"D_from", measured.is_null() ? "judged" : "measured"},
                {"RPN", s.value * o * d.value}, {"from", "evidence"},
                {"derivation", fmt::format("S x O' x D' = {} x {} x {} = {}", s.value, o, d.value,
                                           s.value * o * d.value)}};
  } else {
    occurrence["observed"] = nullptr;
    occurrence["upper95"] = nullptr;
    occurrence["method"] = nullptr;
    residual = {{"S", nullptr}, {"S_basis", "no evidence"},
                {"O", nullptr}, {"O_basis", "no run counted: no evidence"},
                {"D", measured.is_null() ? json() : measured["D"]},
                {"D_basis", measured.is_null() ? json("no run counted: no evidence")
                                               : measured["basis"]},
                {"D_from", measured.is_null() ? json() : json("measured")},
                {"RPN", Nullable(m.rpn)}, {"from", "declared"},
                {"derivation", m.rpn ? "no evidence: the published RPN stands"
                                     : "no evidence and nothing published: no RPN"}};
  }
  std::string status = total == 0     ? "not exercised"
                       : counted == 0 ? "vacuous"
                       : failed > 0   ? "failing"
                                      : "passing";
  json recovery = PercentileStats(recoveries);
  recovery["unrecovered"] = unrecovered;
  recovery["no_sample"] = no_sample;
  return {
      {"id", m.id},
      {"title", m.title},
      {"source", m.source},
      {"notes", m.notes},
      {"declared", {{"S", Nullable(m.s)}, {"O", Nullable(m.o)}, {"D", Nullable(m.d)},
                    {"RPN", Nullable(m.rpn)}, {"severity_label", m.severity_label}}},
      {"faults", m.faults},
      {"invariants", m.invariants},
      {"scenarios", m.scenarios},
      {"status", status},
      {"runs", {{"total", total}, {"counted", counted}, {"failed", failed},
                {"passed", counted - failed}, {"vacuous", vacuous},
                {"harness_errors", harness}, {"interrupted", interrupted}}},
      {"scenarios_run", scenarios_run},
      {"faults_landed", faults_landed},
      {"invariants_checked", invariants},
      {"detection_latency_us", PercentileStats(latencies)},
      {"recovery_us", recovery},
      {"occurrence", occurrence},
      {"residual", residual},
      {"failing_runs", failing},
  };
}

json Totals(const std::vector<RunSummary>& runs, const json& modes) {
  std::map<std::string, int> outcomes;
  int vacuous = 0;
  for (const RunSummary& r : runs) {
    outcomes[std::string(OutcomeName(r.outcome))]++;
    vacuous += r.dir.verdict.value("vacuous", false) ? 1 : 0;
  }
  int exercised = 0, failing = 0;
  for (const json& m : modes) {
    exercised += m["runs"]["counted"].get<int>() > 0;
    failing += m["status"] == "failing";
  }
  return {{"runs", runs.size()},
          {"passed", outcomes["pass"]},
          {"violations", outcomes["violation"]},
          {"harness_errors", outcomes["harness error"]},
          {"interrupted", outcomes["interrupted"]},
          {"vacuous", vacuous},
          {"modes", modes.size()},
          {"modes_exercised", exercised},
          {"modes_failing", failing}};
}

}  // namespace

Report BuildReport(const FmeaCatalog& catalog, const std::vector<std::string>& run_dirs,
                   const ReportOptions& options) {
  Report report;
  std::vector<RunSummary> runs = LoadRuns(run_dirs, &report.warnings);
  json run_records = json::array();
  std::set<std::string> seen_scenarios, unknown_ids;
  for (size_t i = 0; i < runs.size(); ++i) {
    RunSummary& r = runs[i];
    std::string svg = AnalyzeRun(&r, options, &report.warnings);
    if (!svg.empty() && Embed(r, runs.size(), options.timelines, &seen_scenarios)) {
      report.svgs[r.key] = std::move(svg);
    }
    for (const std::string& id : r.dir.fmea) {
      if (!catalog.Find(id)) unknown_ids.insert(id);
    }
    run_records.push_back(r.record);
    report.junit.push_back(JunitCaseFromVerdict(r.dir.verdict, r.key,
                                                r.record["paths"]["dir"].get<std::string>()));
    if (options.progress) options.progress(i + 1, runs.size());
  }
  for (const std::string& id : unknown_ids) {
    report.warnings.push_back(fmt::format("failure-mode id \"{}\" named by runs is not in {}; "
                                          "their evidence is not reported under any mode", id,
                                          catalog.file));
  }
  std::vector<RunEvidence> evidence;
  ProbeCoverage coverage;
  for (const RunSummary& r : runs) {
    evidence.push_back({r.scenario, &r.dir.fmea, &r.dir.verdict, &r.dir.resolved,
                        r.outcome != Outcome::kHarnessError && r.outcome != Outcome::kInterrupted});
    if (!r.dir.verdict.contains("mutant")) coverage.Add(r.dir.verdict, r.dir.resolved);
  }
  json modes = json::array();
  for (const FailureMode& m : catalog.modes) {
    const json measured = MeasuredDetection(m, evidence);
    json mode = ModeEvidence(m, runs, measured);
    mode["matrix"] = CoverageMatrix(m, evidence);
    mode["detection"] = measured.is_null()
                            ? json{{"from", "judged"}, {"D", mode["residual"]["D"]},
                                   {"basis", mode["residual"]["D_basis"]}}
                            : measured;
    if (!measured.is_null()) mode["detection"]["from"] = "measured";
    modes.push_back(std::move(mode));
  }
  std::vector<std::string> inputs;
  for (const std::string& in : options.inputs) inputs.push_back(RelativeTo(in, options.out_dir));
  report.model = {
      {"faultline_report", 1},
      {"generated", options.generated},
      {"catalogue", RelativeTo(catalog.file, options.out_dir)},
      {"inputs", inputs},
      {"totals", Totals(runs, modes)},
      {"probes", coverage.ToJson()},
      {"modes", modes},
      {"runs", run_records},
      {"warnings", report.warnings},
  };
  return report;
}

bool WriteReport(const Report& report, const std::string& out_dir, std::string* error) {
  std::error_code ec;
  stdfs::create_directories(out_dir, ec);
  if (ec) {
    *error = fmt::format("cannot create {}: {}", out_dir, ec.message());
    return false;
  }
  const std::pair<const char*, std::string> files[] = {
      {"fmea-report.json", report.model.dump(2) + "\n"},
      {"fmea-report.md", RenderMarkdown(report)},
      {"fmea-report.html", RenderHtml(report)},
      {"junit.xml", RenderJunit(report.junit)},
  };
  for (const auto& [name, text] : files) {
    const std::string path = out_dir + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      *error = "cannot write " + path + " (disk full? permissions?)";
      return false;
    }
  }
  return true;
}

}  // namespace faultline::reports
