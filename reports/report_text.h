// Small formatting helpers both report renderers (Markdown, HTML) share, so
// the two show every figure the same way. Internal to reports/.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/markup.h"

namespace faultline::reports::text {

// An integer or string figure, "–" when null or absent.
inline std::string Value(const nlohmann::json& j) {
  if (j.is_null()) return "–";
  if (j.is_string()) return j.get<std::string>();
  return j.dump();
}

inline std::string Duration(const nlohmann::json& us) {
  return us.is_number_integer() ? FormatDuration(us.get<int64_t>()) : "–";
}

// "S/O/D/RPN" as declared, e.g. "10/4/5/200" or "–/–/–/225".
inline std::string Declared(const nlohmann::json& d) {
  return fmt::format("{}/{}/{}/{}", Value(d["S"]), Value(d["O"]), Value(d["D"]), Value(d["RPN"]));
}

// The residual RPN as the tables show it: "270", or "225 (declared)" when no
// run gave evidence.
inline std::string Residual(const nlohmann::json& r) {
  std::string out = Value(r["RPN"]);
  if (r.value("from", "") == "declared" && !r["RPN"].is_null()) out += " (declared)";
  return out;
}

// D' with where it comes from: "7 (measured)", "3 (judged)", "–".
inline std::string DetectionCell(const nlohmann::json& residual) {
  const nlohmann::json from = residual.value("D_from", nlohmann::json());
  return Value(residual["D"]) + (from.is_string() ? " (" + from.get<std::string>() + ")" : "");
}

// The detection block of a mode, one line.
inline std::string Detection(const nlohmann::json& d) {
  if (d.value("from", "") != "measured") {
    return "judged (no run of a planted defect names this mode): D' " + Value(d["D"]);
  }
  return Value(d["basis"]);
}

inline std::string Percent(const nlohmann::json& p) {
  if (!p.is_number()) return "–";
  return fmt::format("{:.3g} %", p.get<double>() * 100);
}

// "k of n failed, upper bound 27.3 % (Clopper-Pearson)" or "no runs counted".
inline std::string Occurrence(const nlohmann::json& o) {
  if (o["runs"].get<int>() == 0) return "no runs counted";
  return fmt::format("{} of {} failed; 95 % upper bound {} ({})", Value(o["failures"]),
                     Value(o["runs"]), Percent(o["upper95"]), Value(o["method"]));
}

inline std::string P50P99(const nlohmann::json& stats) {
  if (stats["samples"].get<size_t>() == 0) return "–";
  return fmt::format("{} / {}", Duration(stats["p50"]), Duration(stats["p99"]));
}

inline std::string Seeds(const nlohmann::json& seeds) {
  std::string out;
  size_t shown = 0;
  for (const auto& s : seeds) {
    if (shown++ == 12) {
      out += fmt::format(", … ({} in all)", seeds.size());
      break;
    }
    out += (out.empty() ? "" : ", ") + s.dump();
  }
  return out;
}

inline std::string Join(const nlohmann::json& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n.get<std::string>();
  return out.empty() ? "none" : out;
}

// The faults that landed in a run: "kill_agent x3, stall_agent x0".
inline std::string FaultsLanded(const nlohmann::json& faults) {
  std::string out;
  for (const auto& f : faults) {
    out += fmt::format("{}{} x{}", out.empty() ? "" : ", ", f.value("kind", "?"), f.value("times", 0));
  }
  return out.empty() ? "none" : out;
}

// p50 of a run's recovery samples, for the runs table.
inline std::string RunRecovery(const nlohmann::json& recoveries) {
  std::vector<int64_t> samples;
  int unrecovered = 0;
  for (const auto& r : recoveries) {
    if (r["recovery_us"].is_number_integer()) samples.push_back(r["recovery_us"].get<int64_t>());
    if (r.contains("unrecovered") && r["unrecovered"] == true) ++unrecovered;
  }
  std::string out = "–";
  if (!samples.empty()) {
    std::sort(samples.begin(), samples.end());
    out = fmt::format("{} (max {})", FormatDuration(samples[(samples.size() + 1) / 2 - 1]),
                      FormatDuration(samples.back()));
  }
  if (unrecovered > 0) out += fmt::format(", {} unrecovered", unrecovered);
  return out;
}

}  // namespace faultline::reports::text
