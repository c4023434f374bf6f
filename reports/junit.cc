// Writing JUnit XML (the Ant/Jenkins schema most CI systems read).
#include "reports/junit.h"

#include <fmt/format.h>

#include <map>

#include "reports/markup.h"

namespace faultline::reports {
namespace {

using nlohmann::json;

struct Counts {
  int tests = 0, failures = 0, errors = 0;
  double seconds = 0;
  void Add(const JunitCase& c) {
    ++tests;
    failures += c.outcome == Outcome::kViolation;
    errors += c.outcome == Outcome::kHarnessError || c.outcome == Outcome::kInterrupted;
    seconds += c.seconds;
  }
  std::string Attributes() const {
    return fmt::format("tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{:.3f}\"",
                       tests, failures, errors, seconds);
  }
};

std::string Details(const JunitCase& c) {
  std::string text;
  for (const std::string& v : c.violations) text += v + "\n";
  if (!c.error.empty()) text += c.error + "\n";
  if (!c.reproduce.empty()) text += "reproduce: " + c.reproduce + "\n";
  if (!c.run_dir.empty()) text += "run directory: " + c.run_dir + "\n";
  return text;
}

void Case(const JunitCase& c, std::string* out) {
  *out += fmt::format("    <testcase classname=\"faultline.{}\" name=\"{}\" time=\"{:.3f}\"",
                      XmlEscape(c.suite), XmlEscape(c.name), c.seconds);
  std::string body;
  if (c.outcome == Outcome::kViolation) {
    std::string message = c.violations.empty() ? "violation" : c.violations.front();
    if (c.violations.size() > 1) message += fmt::format(" (and {} more)", c.violations.size() - 1);
    body += fmt::format("      <failure type=\"violation\" message=\"{}\">{}</failure>\n",
                        XmlEscape(message), XmlEscape(Details(c)));
  } else if (c.outcome != Outcome::kPass) {
    const char* type = c.outcome == Outcome::kInterrupted ? "interrupted" : "harness error";
    body += fmt::format("      <error type=\"{}\" message=\"{}\">{}</error>\n", type,
                        XmlEscape(c.error.empty() ? type : c.error), XmlEscape(Details(c)));
  }
  std::string system_out = c.outcome == Outcome::kPass ? Details(c) : "";
  if (c.vacuous) system_out = "vacuous: a fault never landed, so this run proves less\n" + system_out;
  if (!system_out.empty()) {
    body += fmt::format("      <system-out>{}</system-out>\n", XmlEscape(system_out));
  }
  *out += body.empty() ? "/>\n" : ">\n" + body + "    </testcase>\n";
}

}  // namespace

JunitCase JunitCaseFromVerdict(const json& verdict, const std::string& run_id,
                               const std::string& run_dir) {
  JunitCase c;
  c.suite = verdict.value("scenario", "unknown");
  c.name = run_id;
  c.outcome = OutcomeOf(verdict);
  const json stats = verdict.value("stats", json::object());
  c.seconds = static_cast<double>(stats.value("wall_ms", int64_t{0})) / 1000.0;
  for (const json& inv : verdict.value("invariants", json::array())) {
    for (const json& v : inv.value("violations", json::array())) {
      c.violations.push_back(inv.value("name", "?") + ": " + v.value("message", ""));
    }
  }
  if (c.outcome == Outcome::kHarnessError || c.outcome == Outcome::kInterrupted) {
    c.error = verdict.value("error", "");
    if (c.error.empty()) c.error = "run ended: " + verdict.value("end", "unknown");
  }
  c.reproduce = verdict.value("reproduce", "");
  c.run_dir = run_dir;
  c.vacuous = verdict.value("vacuous", false);
  return c;
}

JunitCase JunitErrorCase(const std::string& suite, const std::string& name,
                         const std::string& message, Outcome outcome) {
  JunitCase c;
  c.suite = suite;
  c.name = name;
  c.outcome = outcome;
  c.error = message;
  return c;
}

std::string RenderJunit(const std::vector<JunitCase>& cases) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const JunitCase*>> suites;
  Counts all;
  for (const JunitCase& c : cases) {
    if (!suites.count(c.suite)) order.push_back(c.suite);
    suites[c.suite].push_back(&c);
    all.Add(c);
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"faultline\" {}>\n", all.Attributes());
  for (const std::string& name : order) {
    Counts counts;
    for (const JunitCase* c : suites[name]) counts.Add(*c);
    out += fmt::format("  <testsuite name=\"{}\" {}>\n", XmlEscape(name), counts.Attributes());
    for (const JunitCase* c : suites[name]) Case(*c, &out);
    out += "  </testsuite>\n";
  }
  out += "</testsuites>\n";
  return out;
}

}  // namespace faultline::reports
