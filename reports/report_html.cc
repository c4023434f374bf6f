// fmea-report.html: the report model as one self-contained page — inline CSS,
// inline SVG timelines, no scripts, no network — so it can be archived as a CI
// artifact and opened anywhere, and a reviewer can sign it.
#include <fmt/format.h>

#include <cctype>

#include "reports/fmea_report.h"
#include "reports/report_text.h"

namespace faultline::reports {
namespace {

using nlohmann::json;
using text::Value;

constexpr const char* kCss = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d1f23;margin:0 auto;
max-width:1180px;padding:20px 28px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:16px;margin:22px 0 6px}.meta{color:#555}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}
th,td{border:1px solid #d4d7dc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef0f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,Menlo,Consolas,monospace;background:#f3f4f6;padding:1px 3px}
.st{display:inline-block;white-space:nowrap;border-radius:3px;padding:0 6px;font-size:12px;color:#fff}
.st-failing{background:#c62828}.st-passing{background:#2e7d32}.st-vacuous{background:#b26a00}
.st-not-exercised{background:#757575}.o-violation{color:#c62828;font-weight:600}
.o-harness-error,.o-interrupted{color:#b26a00;font-weight:600}
ul.facts{margin:4px 0 8px;padding-left:20px}figure{margin:10px 0 22px}
figcaption{font-size:12px;color:#555;margin-bottom:2px}svg.timeline{max-width:100%;height:auto}
.warn{color:#b26a00}
)";

std::string E(const std::string& s) { return XmlEscape(s); }
std::string E(const json& j) { return XmlEscape(Value(j)); }

std::string Anchor(const std::string& prefix, const std::string& key) {
  std::string out = prefix;
  for (char c : key) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  return out;
}

std::string Status(const json& status) {
  std::string s = status.get<std::string>();
  std::string cls = s;
  for (char& c : cls) c = c == ' ' ? '-' : c;
  return fmt::format("<span class=\"st st-{}\">{}</span>", cls, E(s));
}

void Header(const json& m, std::string* out) {
  const json& t = m["totals"];
  std::string inputs;
  for (const json& in : m["inputs"]) {
    inputs += fmt::format("{}<code>{}</code>", inputs.empty() ? "" : ", ", E(in));
  }
  *out += fmt::format(
      "<h1>FMEA evidence report</h1>\n<p class=\"meta\">generated: {}<br>catalogue <code>{}</code>;"
      " runs from {}</p>\n<p><b>{} runs</b>: {} passed, {} with violations, {} harness errors, {} "
      "interrupted; {} vacuous (a fault never landed). <b>{} failure modes</b>: {} exercised, {} "
      "failing, {} not exercised. How each figure is computed: <code>docs/fmea-report.md</code>."
      "</p>\n",
      E(m["generated"]), E(m["catalogue"]), inputs.empty() ? "(none given)" : inputs,
      E(t["runs"]), E(t["passed"]), E(t["violations"]), E(t["harness_errors"]),
      E(t["interrupted"]), E(t["vacuous"]), E(t["modes"]), E(t["modes_exercised"]),
      E(t["modes_failing"]), t["modes"].get<int>() - t["modes_exercised"].get<int>());
}

void ModeTable(const json& modes, std::string* out) {
  *out += "<h2>Failure modes</h2>\n<table id=\"failure-modes\"><thead><tr><th>failure mode</th>"
          "<th>declared S/O/D/RPN</th><th>status</th><th>runs (failed)</th><th>occurrence, 95 % "
          "upper bound</th><th>O'</th><th>D'</th><th>residual RPN</th><th>detection p50 / p99</th>"
          "<th>recovery p50 / p99</th></tr></thead><tbody>\n";
  for (const json& m : modes) {
    const json& r = m["residual"];
    *out += fmt::format(
        "<tr data-mode=\"{0}\"><td><a href=\"#{1}\">{0}</a><br>{2}</td><td class=\"n\">{3}</td>"
        "<td>{4}</td><td class=\"n\">{5} ({6})</td><td class=\"n\">{7}</td><td class=\"n\">{8}</td>"
        "<td class=\"n\">{9}</td><td class=\"n\"><b>{10}</b></td><td class=\"n\">{11}</td>"
        "<td class=\"n\">{12}</td></tr>\n",
        E(m["id"]), Anchor("mode-", m["id"].get<std::string>()), E(m["title"]),
        E(text::Declared(m["declared"])), Status(m["status"]), E(m["runs"]["counted"]),
        E(m["runs"]["failed"]), E(text::Percent(m["occurrence"]["upper95"])), E(r["O"]), E(text::DetectionCell(r)),
        E(text::Residual(r)), E(text::P50P99(m["detection_latency_us"])),
        E(text::P50P99(m["recovery_us"])));
  }
  *out += "</tbody></table>\n";
}

void Table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows,
           std::string* out) {
  *out += "<table><thead><tr>";
  for (const std::string& h : head) *out += "<th>" + E(h) + "</th>";
  *out += "</tr></thead><tbody>\n";
  for (const auto& row : rows) {
    *out += "<tr>";
    for (const std::string& cell : row) *out += "<td>" + cell + "</td>";
    *out += "</tr>\n";
  }
  *out += "</tbody></table>\n";
}

// The coverage matrix (fmea_matrix.h): fault x invariant cells, then probes.
void MatrixTables(const json& x, std::string* out) {
  if (x["cells"].empty() && x["probes"].empty()) return;
  *out += "<h4>Coverage matrix</h4>\n";
  std::vector<std::vector<std::string>> cells, probes;
  for (const json& c : x["cells"]) {
    cells.push_back({E(c["fault"]), E(c["invariant"]), E(c["runs"]), E(c["detected"])});
  }
  Table({"fault", "invariant", "runs (landed, checked)", "detected"}, cells, out);
  for (const json& p : x["probes"]) {
    probes.push_back({E(p["probe"]), E(p["reached"]) + " of " + E(p["runs"]), E(p["detected"]),
                      E(p["planted_reached"])});
  }
  Table({"probe", "reached in runs", "detected in those", "planted-defect runs reaching it"},
        probes, out);
}

void ProbeSection(const json& p, std::string* out) {
  *out += fmt::format("<h2>Probes</h2>\n<p>{} probes known to this suite, {} reached in {} runs "
                      "(planted-defect runs not counted). Never reached: {}.</p>\n",
                      E(p["known"]), p["reached"].size(), E(p["runs"]),
                      p["unreached"].empty() ? std::string("none") : E(text::Join(p["unreached"])));
}

void ModeSection(const json& m, const std::map<std::string, std::string>& svgs, std::string* out) {
  const json& d = m["declared"];
  const json& runs = m["runs"];
  const json& r = m["residual"];
  const json& rec = m["recovery_us"];
  *out += fmt::format("<section id=\"{}\"><h3>{} — {} {}</h3>\n<ul class=\"facts\">",
                      Anchor("mode-", m["id"].get<std::string>()), E(m["id"]), E(m["title"]),
                      Status(m["status"]));
  *out += fmt::format("<li>Source: {}</li>", E(m["source"]));
  *out += fmt::format("<li>Declared: S {} · O {} · D {} · RPN {}{}</li>", E(d["S"]), E(d["O"]),
                      E(d["D"]), E(d["RPN"]),
                      d["severity_label"].get<std::string>().empty()
                          ? ""
                          : " · severity “" + E(d["severity_label"]) + "”");
  *out += fmt::format("<li>Triggered by: {} · detected by: {} · scenarios: {}</li>",
                      E(text::Join(m["faults"])), E(text::Join(m["invariants"])),
                      E(text::Join(m["scenarios"])));
  if (!m["notes"].get<std::string>().empty()) *out += "<li>Notes: " + E(m["notes"]) + "</li>";
  *out += fmt::format("<li>Runs counted: {} ({} failed, {} passed); {} vacuous, {} harness errors, "
                      "{} interrupted</li>", E(runs["counted"]), E(runs["failed"]),
                      E(runs["passed"]), E(runs["vacuous"]), E(runs["harness_errors"]),
                      E(runs["interrupted"]));
  *out += "<li>Occurrence: " + E(text::Occurrence(m["occurrence"])) + "</li>";
  *out += fmt::format("<li>Residual RPN <b>{}</b> ({})<br>S: {}<br>O': {}<br>D': {}</li>",
                      E(r["RPN"]), E(r["derivation"]), E(r["S_basis"]), E(r["O_basis"]),
                      E(r["D_basis"]));
  *out += "<li>Detection: " + E(text::Detection(m["detection"])) + "</li>";
  *out += fmt::format("<li>Detection latency: {} ({} failing runs measured)</li>",
                      E(text::P50P99(m["detection_latency_us"])),
                      E(m["detection_latency_us"]["samples"]));
  *out += fmt::format("<li>Recovery time: {} ({} landings measured, {} unrecovered, {} held "
                      "nothing)</li></ul>\n", E(text::P50P99(rec)), E(rec["samples"]),
                      E(rec["unrecovered"]), E(rec["no_sample"]));
  if (!m["scenarios_run"].empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const json& s : m["scenarios_run"]) {
      rows.push_back({E(s["scenario"]), E(s["mode"]), E(text::Seeds(s["seeds"])), E(s["runs"]),
                      E(s["failed"])});
    }
    Table({"scenario", "mode", "seeds", "runs", "failed"}, rows, out);
    rows.clear();
    for (const json& f : m["faults_landed"]) {
      rows.push_back({E(f["kind"]), f["triggers"].get<bool>() ? "yes" : "no", E(f["landings"]),
                      E(f["runs_landed"]) + " / " + E(f["runs"])});
    }
    Table({"fault", "triggers this mode", "landings", "runs landed / runs"}, rows, out);
    rows.clear();
    for (const json& i : m["invariants_checked"]) {
      rows.push_back({E(i["name"]), i["detects"].get<bool>() ? "yes" : "no", E(i["runs"]),
                      E(i["passed"]), E(i["failed"])});
    }
    Table({"invariant", "detects this mode", "runs", "passed", "failed"}, rows, out);
  }
  MatrixTables(m["matrix"], out);
  if (!m["failing_runs"].empty()) {
    *out += "<p>Failing runs:</p><ul>";
    for (const json& f : m["failing_runs"]) {
      const std::string key = f["run"].get<std::string>();
      std::string link = svgs.count(key) ? fmt::format(" (<a href=\"#{}\">timeline</a>)",
                                                       Anchor("timeline-", key))
                                         : "";
      *out += fmt::format("<li><code>{}</code>{}<ul>", E(key), link);
      for (const json& v : f["violations"]) {
        *out += fmt::format("<li>{}: {}</li>", E(v["invariant"]), E(v["message"]));
      }
      *out += fmt::format("<li>reproduce: <code>{}</code></li>", E(f["reproduce"]));
      *out += f["minimal"].is_string()
                  ? fmt::format("<li>minimal scenario: <a href=\"{0}\"><code>{0}</code></a></li>",
                                E(f["minimal"]))
                  : "<li>minimal scenario: none yet (<code>faultline explore</code> writes one)</li>";
      *out += "</ul></li>";
    }
    *out += "</ul>\n";
  }
  *out += "</section>\n";
}

void RunTable(const json& runs, const std::map<std::string, std::string>& svgs, std::string* out) {
  *out += "<h2>Runs</h2>\n<table id=\"runs\"><thead><tr><th>run</th><th>scenario</th><th>seed</th>"
          "<th>mode</th><th>outcome</th><th>faults landed</th><th>detection latency</th>"
          "<th>recovery p50 (max)</th><th>timeline</th><th>directory</th></tr></thead><tbody>\n";
  for (const json& r : runs) {
    const std::string key = r["run"].get<std::string>();
    std::string outcome = r["outcome"].get<std::string>(), cls = outcome;
    for (char& c : cls) c = c == ' ' ? '-' : c;
    if (r["vacuous"].get<bool>()) outcome += ", vacuous";
    std::string timeline = "–";
    if (svgs.count(key)) {
      timeline = fmt::format("<a href=\"#{}\">shown</a>", Anchor("timeline-", key));
    } else if (r["paths"]["timeline"].is_string()) {
      timeline = fmt::format("<a href=\"{}\">svg</a>", E(r["paths"]["timeline"]));
    }
    *out += fmt::format(
        "<tr data-run=\"{0}\"><td>{0}</td><td>{1}</td><td class=\"n\">{2}</td><td>{3}</td>"
        "<td class=\"o-{4}\">{5}</td><td>{6}</td><td class=\"n\">{7}</td><td class=\"n\">{8}</td>"
        "<td>{9}</td><td><code>{10}</code></td></tr>\n",
        E(key), E(r["scenario"]), E(r["seed"]), E(r["mode"]), cls, E(outcome),
        E(text::FaultsLanded(r["faults"])), E(text::Duration(r["detection_latency_us"])),
        E(text::RunRecovery(r["recoveries"])), timeline, E(r["paths"]["dir"]));
  }
  *out += "</tbody></table>\n";
}

void TimelineSection(const json& runs, const std::map<std::string, std::string>& svgs, std::string* out) {
  *out += fmt::format("<h2 id=\"timelines\">Timelines</h2>\n<p class=\"meta\">{} of {} runs drawn "
                      "here; every run directory holds its <code>timeline.svg</code>. Lanes are "
                      "processes, bars are grants from claim to what ended them.</p>\n",
                      svgs.size(), runs.size());
  for (const json& r : runs) {
    const std::string key = r["run"].get<std::string>();
    auto it = svgs.find(key);
    if (it == svgs.end()) continue;
    *out += fmt::format("<figure id=\"{}\"><figcaption>{} — reproduce: <code>{}</code></figcaption>"
                        "{}</figure>\n",
                        Anchor("timeline-", key), E(key), E(r["reproduce"]), it->second);
  }
}

}  // namespace

std::string RenderHtml(const Report& report) {
  const json& m = report.model;
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>FMEA evidence report</title><style>";
  out += kCss;
  out += "</style></head><body>\n";
  Header(m, &out);
  ModeTable(m["modes"], &out);
  ProbeSection(m["probes"], &out);
  out += "<h2>Evidence per failure mode</h2>\n";
  for (const json& mode : m["modes"]) ModeSection(mode, report.svgs, &out);
  RunTable(m["runs"], report.svgs, &out);
  TimelineSection(m["runs"], report.svgs, &out);
  if (!m["warnings"].empty()) {
    out += "<h2>Warnings</h2>\n<ul class=\"warn\">";
    for (const json& w : m["warnings"]) out += "<li>" + E(w) + "</li>";
    out += "</ul>\n";
  }
  out += "</body></html>\n";
  return out;
}

}  // namespace faultline::reports
