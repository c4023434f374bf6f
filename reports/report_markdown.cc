// fmea-report.md: the report model as Markdown, for reading in a terminal, a
// merge request or a wiki. Same content as the HTML, without the pictures
// (each run's timeline.svg is linked).
#include <fmt/format.h>

#include "reports/fmea_report.h"
#include "reports/report_text.h"

namespace faultline::reports {
namespace {

using nlohmann::json;
using text::Value;

void Header(const json& m, std::string* out) {
  const json& t = m["totals"];
  *out += "# FMEA evidence report\n\n";
  *out += fmt::format("generated: {}\n\n", Value(m["generated"]));
  std::string inputs;
  for (const json& in : m["inputs"]) inputs += fmt::format("{}`{}`", inputs.empty() ? "" : ", ",
                                                           in.get<std::string>());
  *out += fmt::format("Catalogue `{}`; runs from {}.\n\n", Value(m["catalogue"]),
                      inputs.empty() ? "(none given)" : inputs);
  *out += fmt::format(
      "**{} runs**: {} passed, {} with violations, {} harness errors, {} interrupted; {} vacuous "
      "(a fault never landed). **{} failure modes**: {} exercised, {} failing, {} not "
      "exercised.\n\n",
      Value(t["runs"]), Value(t["passed"]), Value(t["violations"]), Value(t["harness_errors"]),
      Value(t["interrupted"]), Value(t["vacuous"]), Value(t["modes"]), Value(t["modes_exercised"]),
      Value(t["modes_failing"]), t["modes"].get<int>() - t["modes_exercised"].get<int>());
  *out += "How each figure is computed and how to read it: docs/fmea-report.md.\n\n";
}

void ModeTable(const json& modes, std::string* out) {
  *out += "## Failure modes\n\n";
  *out += "| failure mode | declared S/O/D/RPN | status | runs (failed) | occurrence | O' | D' | "
          "residual RPN | detection p50 / p99 | recovery p50 / p99 |\n";
  *out += "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const json& m : modes) {
    const json& r = m["residual"];
    *out += fmt::format("| [{}](#{}) {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} | {} |\n",
                        m["id"].get<std::string>(), m["id"].get<std::string>(),
                        MdCell(m["title"].get<std::string>()), text::Declared(m["declared"]),
                        Value(m["status"]), Value(m["runs"]["counted"]), Value(m["runs"]["failed"]),
                        text::Percent(m["occurrence"]["upper95"]), Value(r["O"]),
                        text::DetectionCell(r),
                        text::Residual(r), text::P50P99(m["detection_latency_us"]),
                        text::P50P99(m["recovery_us"]));
  }
  *out += "\n";
}

// The coverage matrix (fmea_matrix.h): fault x invariant cells, then probes.
void MatrixTable(const json& x, std::string* out) {
  if (x["cells"].empty() && x["probes"].empty()) return;
  *out += "Coverage matrix (runs in which the fault landed and the invariant was checked; "
          "detected: of those, runs in which it fired):\n\n"
          "| fault | invariant | runs | detected |\n|---|---|---|---|\n";
  for (const json& c : x["cells"]) {
    *out += fmt::format("| {} | {} | {} | {} |\n", Value(c["fault"]), Value(c["invariant"]),
                        Value(c["runs"]), Value(c["detected"]));
  }
  *out += "\n| probe | reached in runs | detected in those | planted-defect runs reaching it "
          "|\n|---|---|---|---|\n";
  for (const json& p : x["probes"]) {
    *out += fmt::format("| {} | {} of {} | {} | {} |\n", Value(p["probe"]), Value(p["reached"]),
                        Value(p["runs"]), Value(p["detected"]), Value(p["planted_reached"]));
  }
  *out += "\n";
}

// Which probes the product runs reached, and which none did.
void ProbeSection(const json& p, std::string* out) {
  *out += fmt::format("## Probes\n\n{} probes known to this suite, {} reached in {} runs "
                      "(planted-defect runs not counted).\n\n",
                      Value(p["known"]), Value(p["reached"].size()), Value(p["runs"]));
  *out += "Never reached: " + (p["unreached"].empty() ? std::string("none") : text::Join(p["unreached"])) + "\n\n";
}

void ModeSection(const json& m, std::string* out) {
  const json& d = m["declared"];
  const json& runs = m["runs"];
  const json& r = m["residual"];
  *out += fmt::format("## {}\n\n{}\n\n", m["id"].get<std::string>(), MdCell(m["title"].get<std::string>()));
  *out += fmt::format("- Source: {}\n", Value(m["source"]));
  *out += fmt::format("- Declared: S {} · O {} · D {} · RPN {}{}\n", Value(d["S"]), Value(d["O"]),
                      Value(d["D"]), Value(d["RPN"]),
                      d["severity_label"].get<std::string>().empty()
                          ? ""
                          : " · severity \"" + d["severity_label"].get<std::string>() + "\"");
  *out += fmt::format("- Triggered by: {} · detected by: {} · scenarios: {}\n",
                      text::Join(m["faults"]), text::Join(m["invariants"]),
                      text::Join(m["scenarios"]));
  if (!m["notes"].get<std::string>().empty()) *out += fmt::format("- Notes: {}\n", Value(m["notes"]));
  *out += fmt::format("- Status: **{}**: {} runs counted ({} failed, {} passed); {} vacuous, {} "
                      "harness errors, {} interrupted\n",
                      Value(m["status"]), Value(runs["counted"]), Value(runs["failed"]),
                      Value(runs["passed"]), Value(runs["vacuous"]), Value(runs["harness_errors"]),
                      Value(runs["interrupted"]));
  *out += fmt::format("- Occurrence: {}\n", text::Occurrence(m["occurrence"]));
  *out += fmt::format("- Residual RPN: **{}** ({})\n  - S: {}\n  - O': {}\n  - D': {}\n",
                      Value(r["RPN"]), Value(r["derivation"]), Value(r["S_basis"]),
                      Value(r["O_basis"]), Value(r["D_basis"]));
  *out += fmt::format("- Detection: {}\n", text::Detection(m["detection"]));
  *out += fmt::format("- Detection latency (first fault landing to first evidence): {} ({} "
                      "failing runs measured)\n",
                      text::P50P99(m["detection_latency_us"]),
                      Value(m["detection_latency_us"]["samples"]));
  const json& rec = m["recovery_us"];
  *out += fmt::format("- Recovery time (fault landing to the affected items free or done): {} "
                      "({} landings measured, {} unrecovered, {} held nothing)\n\n",
                      text::P50P99(rec), Value(rec["samples"]), Value(rec["unrecovered"]),
                      Value(rec["no_sample"]));
  if (!m["scenarios_run"].empty()) {
    *out += "| scenario | mode | seeds | runs | failed |\n|---|---|---|---|---|\n";
    for (const json& s : m["scenarios_run"]) {
      *out += fmt::format("| {} | {} | {} | {} | {} |\n", Value(s["scenario"]), Value(s["mode"]),
                          text::Seeds(s["seeds"]), Value(s["runs"]), Value(s["failed"]));
    }
    *out += "\n| fault | triggers this mode | landings | runs landed / runs |\n|---|---|---|---|\n";
    for (const json& f : m["faults_landed"]) {
      *out += fmt::format("| {} | {} | {} | {} / {} |\n", Value(f["kind"]),
                          f["triggers"].get<bool>() ? "yes" : "no", Value(f["landings"]),
                          Value(f["runs_landed"]), Value(f["runs"]));
    }
    *out += "\n| invariant | detects this mode | runs | passed | failed |\n|---|---|---|---|---|\n";
    for (const json& i : m["invariants_checked"]) {
      *out += fmt::format("| {} | {} | {} | {} | {} |\n", Value(i["name"]),
                          i["detects"].get<bool>() ? "yes" : "no", Value(i["runs"]),
                          Value(i["passed"]), Value(i["failed"]));
    }
    *out += "\n";
  }
  MatrixTable(m["matrix"], out);
  if (!m["failing_runs"].empty()) {
    *out += "Failing runs:\n\n";
    for (const json& f : m["failing_runs"]) {
      *out += fmt::format("- `{}`\n", Value(f["run"]));
      for (const json& v : f["violations"]) {
        *out += fmt::format("  - {}: {}\n", Value(v["invariant"]), MdCell(Value(v["message"])));
      }
      *out += fmt::format("  - reproduce: `{}`\n", Value(f["reproduce"]));
      *out += f["minimal"].is_string()
                  ? fmt::format("  - minimal scenario: `{}`\n", f["minimal"].get<std::string>())
                  : "  - minimal scenario: none yet (`faultline explore` writes one)\n";
    }
    *out += "\n";
  }
}

void RunTable(const json& runs, std::string* out) {
  *out += "## Runs\n\n";
  *out += "| run | scenario | seed | mode | outcome | faults landed | detection latency | "
          "recovery p50 (max) | timeline |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const json& r : runs) {
    std::string outcome = r["outcome"].get<std::string>();
    if (r["vacuous"].get<bool>()) outcome += ", vacuous";
    const json& svg = r["paths"]["timeline"];
    *out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", Value(r["run"]),
                        Value(r["scenario"]), Value(r["seed"]), Value(r["mode"]), outcome,
                        text::FaultsLanded(r["faults"]), text::Duration(r["detection_latency_us"]),
                        text::RunRecovery(r["recoveries"]),
                        svg.is_string() ? fmt::format("[svg]({})", svg.get<std::string>()) : "–");
  }
  *out += "\n";
}

void Paths(const json& runs, const json& warnings, std::string* out) {
  *out += "## Where the runs are\n\n| run | directory |\n|---|---|\n";
  for (const json& r : runs) {
    *out += fmt::format("| {} | `{}` |\n", Value(r["run"]), Value(r["paths"]["dir"]));
  }
  *out += "\n";
  if (!warnings.empty()) {
    *out += "## Warnings\n\n";
    for (const json& w : warnings) *out += fmt::format("- {}\n", MdCell(w.get<std::string>()));
    *out += "\n";
  }
}

}  // namespace

std::string RenderMarkdown(const Report& report) {
  const json& m = report.model;
  std::string out;
  Header(m, &out);
  ModeTable(m["modes"], &out);
  ProbeSection(m["probes"], &out);
  for (const json& mode : m["modes"]) ModeSection(mode, &out);
  RunTable(m["runs"], &out);
  Paths(m["runs"], m["warnings"], &out);
  return out;
}

}  // namespace faultline::reports
