// Drawing a run's timeline. Coordinates are printed with one decimal so the
// output is byte-for-byte stable; marks are drawn in a fixed order (lanes,
// stalls, grants, faults, deaths, evidence) so later ones stay on top.
#include "reports/timeline_svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "reports/markup.h"
#include "reports/run_record.h"

namespace faultline::reports {
namespace {

using nlohmann::json;

constexpr double kWidth = 1000, kLeft = 72, kRight = 30, kTop = 40, kLane = 14, kBar = 9;
constexpr double kLegend = 44;

// One style sheet per picture; class names are prefixed so several pictures
// inline in one HTML page do not disturb anything else.
constexpr const char* kStyle =
    ".tl-bg{fill:#f4f5f7}.tl-lane{font:10px sans-serif;fill:#333}"
    ".tl-axis{stroke:#999;stroke-width:.5}.tl-tick{font:9px sans-serif;fill:#555}"
    ".tl-title{font:bold 11px sans-serif;fill:#222}.tl-note{font:9px sans-serif;fill:#555}"
    ".tl-done{fill:#4c9a5b}.tl-released{fill:#8c8c8c}.tl-lost{fill:#e08a1e}"
    ".tl-dead{fill:#7b3294}.tl-open{fill:#3f74c0}.tl-orphan{fill:#d6604d;fill-opacity:.35}"
    ".tl-stall{fill:#999;fill-opacity:.28}.tl-fault{stroke:#b2182b;stroke-width:1.2}"
    ".tl-faultmark{fill:#b2182b}.tl-heal{stroke:#1a9850;stroke-width:1;stroke-dasharray:3 2}"
    ".tl-death{stroke:#111;stroke-width:1.4}.tl-ev{fill:none;stroke:#e41a1c;stroke-width:2}"
    ".tl-evline{stroke:#e41a1c;stroke-width:.6;stroke-dasharray:2 2}";

std::string ClassOf(const ClaimBar& bar) {
  if (bar.ended_by.rfind("done", 0) == 0) return "tl-done";
  if (bar.ended_by == "released") return "tl-released";
  if (bar.ended_by == "dead-lettered" || bar.ended_by == "quarantined") return "tl-dead";
  if (bar.ended_by == "open") return "tl-open";
  return "tl-lost";  // taken over, expired, superseded
}

// Axis ticks at 1, 2 or 5 x 10^k µs, at most ten of them.
int64_t TickStep(int64_t span) {
  int64_t step = 1;
  while (true) {
    for (int64_t m : {1, 2, 5}) {
      if (span / (step * m) <= 10) return step * m;
    }
    step *= 10;
  }
}

class Canvas {
 public:
  Canvas(const TraceFacts& facts) : facts_(facts) {
    span_ = std::max<int64_t>(facts.end_t, 1);
    for (size_t i = 0; i < facts.lanes.size(); ++i) lane_index_[facts.lanes[i]] = i;
    height_ = kTop + kLane * static_cast<double>(facts.lanes.size()) + kLegend;
  }

  double X(int64_t t) const {
    return kLeft + (kWidth - kLeft - kRight) * static_cast<double>(std::clamp<int64_t>(t, 0, span_)) /
                       static_cast<double>(span_);
  }
  double Y(const std::string& lane) const {
    auto it = lane_index_.find(lane);
    size_t i = it == lane_index_.end() ? 0 : it->second;
    return kTop + kLane * static_cast<double>(i);
  }
  double Bottom() const { return kTop + kLane * static_cast<double>(facts_.lanes.size()); }
  double Height() const { return height_; }
  int64_t Span() const { return span_; }
  bool HasLane(const std::string& lane) const { return lane_index_.count(lane) > 0; }

 private:
  const TraceFacts& facts_;
  int64_t span_;
  double height_;
  std::map<std::string, size_t> lane_index_;
};

// Round tick values in one unit for the whole axis: "0", "2 s", "2.5 s", "500 ms".
std::string TickLabel(int64_t t, int64_t span) {
  if (t == 0) return "0";
  if (span >= 1'000'000) return fmt::format("{:g} s", static_cast<double>(t) / 1e6);
  if (span >= 1'000) return fmt::format("{:g} ms", static_cast<double>(t) / 1e3);
  return fmt::format("{} µs", t);
}

void Lanes(const TraceFacts& f, const Canvas& c, std::string* out) {
  for (size_t i = 0; i < f.lanes.size(); ++i) {
    double y = c.Y(f.lanes[i]);
    if (i % 2 == 0) {
      *out += fmt::format("<rect class=\"tl-bg\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
                          "height=\"{:.1f}\"/>", kLeft, y, kWidth - kLeft - kRight, kLane);
    }
    *out += fmt::format("<text class=\"tl-lane\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">"
                        "{}</text>", kLeft - 6, y + kLane - 4, XmlEscape(f.lanes[i]));
  }
  int64_t step = TickStep(c.Span());
  for (int64_t t = 0; t <= c.Span(); t += step) {
    double x = c.X(t);
    *out += fmt::format("<line class=\"tl-axis\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" "
                        "y2=\"{:.1f}\"/><text class=\"tl-tick\" x=\"{:.1f}\" y=\"{:.1f}\" "
                        "text-anchor=\"middle\">{}</text>",
                        x, kTop - 3, x, c.Bottom(), x, kTop - 6, TickLabel(t, c.Span()));
  }
}

void Stalls(const TraceFacts& f, const Canvas& c, std::string* out) {
  for (const FaultMark& m : f.faults) {
    if (m.heal || m.until < 0 || !c.HasLane(m.agent)) continue;
    double x1 = c.X(m.t), x2 = std::max(c.X(m.until), x1 + 1);
    *out += fmt::format("<rect class=\"tl-stall\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
                        "height=\"{:.1f}\"><title>{} {} until {}</title></rect>",
                        x1, c.Y(m.agent), x2 - x1, kLane, XmlEscape(m.kind), XmlEscape(m.agent),
                        XmlEscape(FormatDuration(m.until)));
  }
}

void Grants(const TraceFacts& f, const Canvas& c, std::string* out) {
  size_t drawn = 0;
  for (const ClaimBar& bar : f.claims) {
    if (drawn++ >= kMaxTimelineBars) break;
    double y = c.Y(bar.agent) + (kLane - kBar) / 2;
    int64_t solid_end = bar.holder_died >= 0 ? std::min(bar.holder_died, bar.end) : bar.end;
    double x1 = c.X(bar.start), x2 = std::max(c.X(solid_end), x1 + 1);
    *out += fmt::format("<rect class=\"{}\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
                        "height=\"{:.1f}\"><title>{} token {} by {}: {} to {}, {}</title></rect>",
                        ClassOf(bar), x1, y, x2 - x1, kBar, XmlEscape(bar.item), bar.token,
                        XmlEscape(bar.agent), XmlEscape(FormatDuration(bar.start)),
                        XmlEscape(FormatDuration(bar.end)), XmlEscape(bar.ended_by));
    if (bar.holder_died >= 0 && bar.end > bar.holder_died) {
      double o1 = c.X(bar.holder_died), o2 = std::max(c.X(bar.end), o1 + 1);
      *out += fmt::format("<rect class=\"tl-orphan\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
                          "height=\"{:.1f}\"><title>{} token {}: holder {} dead, grant stood "
                          "until {} ({})</title></rect>",
                          o1, y, o2 - o1, kBar, XmlEscape(bar.item), bar.token,
                          XmlEscape(bar.agent), XmlEscape(FormatDuration(bar.end)),
                          XmlEscape(bar.ended_by));
    }
  }
  if (f.claims.size() > kMaxTimelineBars) {
    *out += fmt::format("<text class=\"tl-note\" x=\"{:.1f}\" y=\"{:.1f}\">{} more grants not "
                        "drawn (the first {} are)</text>", kLeft, c.Height() - 4,
                        f.claims.size() - kMaxTimelineBars, kMaxTimelineBars);
  }
}

void Faults(const TraceFacts& f, const Canvas& c, std::string* out) {
  for (const FaultMark& m : f.faults) {
    double x = c.X(m.t);
    std::string title = fmt::format("{} {} (#{}) at {}{}", m.heal ? "heal of" : "fault",
                                    m.kind, m.index, FormatDuration(m.t),
                                    m.detail.empty() ? "" : ": " + m.detail);
    bool one_lane = !m.agent.empty() && c.HasLane(m.agent);
    double y1 = one_lane ? c.Y(m.agent) : kTop, y2 = one_lane ? y1 + kLane : c.Bottom();
    *out += fmt::format("<g><title>{}</title><line class=\"{}\" x1=\"{:.1f}\" y1=\"{:.1f}\" "
                        "x2=\"{:.1f}\" y2=\"{:.1f}\"/>",
                        XmlEscape(title), m.heal ? "tl-heal" : "tl-fault", x, y1, x, y2);
    if (!m.heal) {
      *out += fmt::format("<path class=\"tl-faultmark\" d=\"M{:.1f} {:.1f}h8l-4 6z\"/>", x - 4, y1);
    }
    *out += "</g>";
  }
}

void Deaths(const TraceFacts& f, const Canvas& c, std::string* out) {
  for (const DeathMark& d : f.deaths) {
    if (d.how.rfind("signal", 0) != 0 || !c.HasLane(d.agent)) continue;
    double x = c.X(d.t), y = c.Y(d.agent) + kLane / 2;
    *out += fmt::format("<g class=\"tl-death\"><title>{} died at {}: {}</title>"
                        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>"
                        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/></g>",
                        XmlEscape(d.agent), XmlEscape(FormatDuration(d.t)), XmlEscape(d.how),
                        x - 3, y - 3, x + 3, y + 3, x - 3, y + 3, x + 3, y - 3);
  }
}

void Evidence(const TraceFacts& f, const Canvas& c, std::string* out) {
  for (const EvidenceMark& e : f.evidence) {
    double x = c.X(e.t), y = c.Y(e.lane) + kLane / 2;
    std::string names;
    for (const std::string& n : e.invariants) names += (names.empty() ? "" : ", ") + n;
    *out += fmt::format("<g class=\"tl-evidence\"><title>evidence of {}: seq {} {} at {} ({})"
                        "</title><line class=\"tl-evline\" x1=\"{:.1f}\" y1=\"{:.1f}\" "
                        "x2=\"{:.1f}\" y2=\"{:.1f}\"/><circle class=\"tl-ev\" cx=\"{:.1f}\" "
                        "cy=\"{:.1f}\" r=\"5\"/></g>",
                        XmlEscape(names), e.seq, XmlEscape(e.type), XmlEscape(FormatDuration(e.t)),
                        XmlEscape(e.lane), x, kTop, x, c.Bottom(), x, y);
  }
}

void Legend(const Canvas& c, std::string* out) {
  double y = c.Bottom() + 16;
  struct Key {
    const char* cls;
    const char* text;
  };
  const Key keys[] = {{"tl-done", "done"},          {"tl-lost", "taken over / expired"},
                      {"tl-released", "released"},  {"tl-dead", "dead-lettered / quarantined"},
                      {"tl-open", "open at end"},   {"tl-orphan", "holder dead, grant stands"},
                      {"tl-stall", "stalled"}};
  double x = kLeft;
  for (const Key& k : keys) {
    *out += fmt::format("<rect class=\"{}\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"10\" height=\"8\"/>"
                        "<text class=\"tl-note\" x=\"{:.1f}\" y=\"{:.1f}\">{}</text>",
                        k.cls, x, y - 7, x + 13, y, k.text);
    x += 13 + 5.2 * static_cast<double>(std::string_view(k.text).size()) + 12;
  }
  *out += fmt::format("<text class=\"tl-note\" x=\"{:.1f}\" y=\"{:.1f}\">red triangle: fault "
                      "lands · dashed green: heal · ×: process killed · red circle: evidence of a "
                      "violation</text>", kLeft, y + 13);
}

}  // namespace

std::string RenderTimelineSvg(const TraceFacts& facts, const TimelineLabel& label) {
  Canvas c(facts);
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" data-run=\"{}\" "
      "width=\"{:.0f}\" height=\"{:.0f}\" viewBox=\"0 0 {:.0f} {:.0f}\" role=\"img\" "
      "aria-label=\"timeline of {}\"><style>{}</style>"
      "<text class=\"tl-title\" x=\"{:.1f}\" y=\"14\">{}</text>",
      XmlEscape(label.run), kWidth, c.Height(), kWidth, c.Height(), XmlEscape(label.run), kStyle,
      kLeft, XmlEscape(label.caption));
  Lanes(facts, c, &out);
  Stalls(facts, c, &out);
  Grants(facts, c, &out);
  Faults(facts, c, &out);
  Deaths(facts, c, &out);
  Evidence(facts, c, &out);
  Legend(c, &out);
  out += "</svg>\n";
  return out;
}

TimelineLabel LabelOf(const json& verdict, const std::string& run_id) {
  std::string outcome(OutcomeName(OutcomeOf(verdict)));
  if (verdict.value("vacuous", false)) outcome += ", vacuous";
  std::string seed = verdict.contains("seed") ? verdict["seed"].dump() : "?";
  return {run_id, fmt::format("{} · seed {} · {} · {}", verdict.value("scenario", "?"), seed,
                              verdict.value("mode", "?"), outcome)};
}

bool WriteTimelineSvg(const std::string& run_dir, std::string* error) {
  namespace stdfs = std::filesystem;
  std::ifstream vin(run_dir + "/verdict.json");
  json verdict = json::parse(vin, nullptr, false);
  if (!verdict.is_object()) {
    *error = run_dir + "/verdict.json is missing or unreadable";
    return false;
  }
  std::ifstream trace(run_dir + "/trace.jsonl");
  if (!trace) {
    *error = run_dir + "/trace.jsonl is missing or unreadable";
    return false;
  }
  TraceFacts facts = AnalyzeTrace(trace, EvidenceOf(verdict));
  std::string id = stdfs::path(run_dir).filename().string();
  std::ofstream out(run_dir + "/timeline.svg");
  out << RenderTimelineSvg(facts, LabelOf(verdict, id));
  out.close();
  if (!out) {
    *error = "cannot write " + run_dir + "/timeline.svg";
    return false;
  }
  return true;
}

}  // namespace faultline::reports
