// The text timeline: two passes over the trace. The first notes only which
// lane each line belongs to, so the window of turns around SEQ can be found
// without holding a long trace in memory; the second replays the holdings up
// to the window and renders its rows.
#include "reports/timeline_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "reports/holdings.h"
#include "reports/timeline_svg.h"
#include "reports/trace_analysis.h"
#include "sim/trace_event.h"

namespace faultline::reports {
namespace {

using nlohmann::json;

constexpr size_t kLaneWidth = 4;

// Lines that are bookkeeping, not something a process or fault did.
bool Skipped(const TraceEvent& e) {
  if (e.type == "snapshot") return true;
  if (e.type == "state_check") {
    auto bad = e.fields.find("unparsable");
    return bad == e.fields.end() || !bad->is_array() || bad->empty();
  }
  return false;
}

// The process a line is about: its sender, or for the engine's own lines the
// process they name ("run" when none).
std::string LaneOf(const TraceEvent& e) {
  if (e.proc != "sim") return e.proc;
  if (e.type == "spawn" || e.type == "exit" || e.type == "stop" || e.type == "spool_left" ||
      e.type == "fault") {
    if (!e.agent.empty()) return e.agent;
  }
  return "run";
}

bool Died(const TraceEvent& e) {
  return e.type == "exit" && (e.fields.contains("signal") || e.fields.value("code", 0) != 0);
}

char Marker(const TraceEvent& e) {
  if (e.type == "fault") return 'F';
  if (e.type == "spawn") return '+';
  if (Died(e)) return 'X';
  if (e.type == "exit" || e.type == "stop") return 'x';
  return '*';
}

std::string Seconds(int64_t us) { return fmt::format("{:.3f}", static_cast<double>(us) / 1e6); }

}  // namespace

// Its type, the item and token, and the fields that matter for its type.
std::string DescribeLine(const json& line) {
  const TraceEvent e = TraceEvent::FromJson(line);
  const json& f = e.fields;
  std::string out = e.type;
  if (e.type == "fault") {
    out = "FAULT " + f.value("kind", "?");
    for (const auto& [key, value] : f.items()) {
      if (key == "seq" || key == "t" || key == "proc" || key == "type" || key == "kind" ||
          key == "index" || key == "agent") {
        continue;
      }
      out +=
          fmt::format(" {}={}", key, value.is_string() ? value.get<std::string>() : value.dump());
    }
    return out;
  }
  if (e.type == "exit") {
    if (f.contains("signal")) out += fmt::format(" signal {}", f["signal"].dump());
    if (f.contains("code")) out += fmt::format(" code {}", f["code"].dump());
    if (f.contains("by")) out += " by " + f.value("by", "");
    return out;
  }
  if (e.type == "spawn") return f.value("restart", false) ? "spawn (restart)" : "spawn";
  if (e.type.rfind("sys_", 0) == 0) {
    // Inside a command: which process, and the call it was let go from.
    for (const char* key : {"process", "program", "at"}) {
      if (f.contains(key) && f[key].is_string()) out += " " + f[key].get<std::string>();
    }
    if (f.contains("by")) out += " by=" + f.value("by", "");
    return out;
  }
  if (!e.item.empty()) out += " " + e.item;
  if (e.token != 0) out += fmt::format(" token {}", e.token);
  for (const char* key : {"owner", "current_token", "status", "reason", "op", "code", "by"}) {
    auto it = f.find(key);
    if (it == f.end()) continue;
    out += fmt::format(" {}={}", key, it->is_string() ? it->get<std::string>() : it->dump());
  }
  return out;
}

namespace {

std::string LaneHeader(const std::string& lane) {
  // A process inside a command ("a0/5.5") by its own name: its agent's is the
  // same for all of the command's, and interposed names are unique in a run.
  const std::string own = lane.find('/') == std::string::npos ? lane : lane.substr(lane.find('/') + 1);
  std::string name = own.size() < kLaneWidth ? own : own.substr(0, kLaneWidth - 1);
  return name + std::string(kLaneWidth - name.size(), ' ');
}

}  // namespace

std::vector<ViolationAt> ViolationsOf(const json& verdict) {
  std::vector<ViolationAt> out;
  for (const json& inv : verdict.value("invariants", json::array())) {
    for (const json& v : inv.value("violations", json::array())) {
      uint64_t last = 0;
      bool any = false;
      for (const json& seq : v.value("evidence", json::array())) {
        if (!seq.is_number_integer() || seq.get<int64_t>() < 0) continue;
        last = std::max(last, seq.get<uint64_t>());
        any = true;
      }
      if (any) out.push_back({inv.value("name", "?"), v.value("message", ""), last});
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const ViolationAt& a, const ViolationAt& b) { return a.seq < b.seq; });
  return out;
}

bool RenderAround(const std::string& run_dir, const AroundOptions& o, std::string* out,
                  std::string* error) {
  std::ifstream vin(run_dir + "/verdict.json");
  const json verdict = json::parse(vin, nullptr, false);
  if (!verdict.is_object()) {
    *error = run_dir +
             "/verdict.json is missing or unreadable; pass a directory written by "
             "faultline run";
    return false;
  }
  const std::string trace_path = run_dir + "/trace.jsonl";
  // Pass 1: the turn each line starts or continues (skipped lines belong to none).
  std::vector<uint64_t> turn_start;  // seq of each turn's first line
  uint64_t lines = 0;
  {
    std::ifstream in(trace_path);
    if (!in) {
      *error = "cannot read " + trace_path;
      return false;
    }
    std::string text, previous_lane;
    for (; std::getline(in, text); ++lines) {
      const TraceEvent e = TraceEvent::FromJson(json::parse(text, nullptr, false));
      if (Skipped(e)) continue;
      const std::string lane = e.proc == "sim" ? "" : e.proc;  // each engine line is a turn
      if (lane.empty() || lane != previous_lane) turn_start.push_back(lines);
      previous_lane = lane;
    }
  }
  if (o.seq >= lines) {
    *error = fmt::format(
        "seq {} is not in {} (its lines are seq 0 to {}); pick a seq from the "
        "trace or the verdict",
        o.seq, trace_path, lines == 0 ? 0 : lines - 1);
    return false;
  }
  // The window: whole turns, `turns_before` of them up to SEQ's, `turns_after` after.
  auto at = std::upper_bound(turn_start.begin(), turn_start.end(), o.seq);
  const size_t seq_turn =
      at == turn_start.begin() ? 0 : static_cast<size_t>(at - turn_start.begin()) - 1;
  const size_t first_turn = seq_turn + 1 >= static_cast<size_t>(std::max(o.turns_before, 1))
                                ? seq_turn + 1 - static_cast<size_t>(std::max(o.turns_before, 1))
                                : 0;
  const size_t end_turn =
      std::min(turn_start.size(), seq_turn + 1 + static_cast<size_t>(std::max(o.turns_after, 0)));
  const uint64_t from = turn_start.empty() ? 0 : turn_start[first_turn];
  const uint64_t to = end_turn < turn_start.size() ? turn_start[end_turn] : lines;  // exclusive

  // Pass 2: the holdings before the window, then its rows.
  Holdings holdings;
  Holdings at_seq;
  std::vector<TraceEvent> window;
  std::set<std::string> alive;
  {
    std::ifstream in(trace_path);
    std::string text;
    for (uint64_t seq = 0; seq < to && std::getline(in, text); ++seq) {
      TraceEvent e = TraceEvent::FromJson(json::parse(text, nullptr, false));
      if (seq >= from) window.push_back(e);
      if (seq < from) {
        holdings.Observe(e);
        if (e.type == "spawn") alive.insert(e.agent);
        if (e.type == "exit" || e.type == "stop") alive.erase(e.agent);
      }
    }
  }
  // Lanes: every process that does something in the window or holds a grant
  // as it opens; agents in natural order, then the reaper, then the run.
  std::set<std::string> lane_set;
  for (const TraceEvent& e : window) {
    if (!Skipped(e)) lane_set.insert(LaneOf(e));
  }
  for (const std::string& holder : holdings.Holders()) lane_set.insert(holder);
  std::vector<std::string> lanes(lane_set.begin(), lane_set.end());
  auto rank = [](const std::string& lane) { return lane == "run" ? 2 : lane == "reaper" ? 1 : 0; };
  std::sort(lanes.begin(), lanes.end(), [&](const std::string& a, const std::string& b) {
    return rank(a) != rank(b) ? rank(a) < rank(b) : NaturalLess(a, b);
  });

  const std::string run_id = std::filesystem::path(run_dir).lexically_normal().filename().string();
  const EvidenceIndex evidence = EvidenceOf(verdict);
  std::string& s = *out;
  s += fmt::format("{}: {}\n", run_id.empty() ? run_dir : run_id, LabelOf(verdict, run_id).caption);
  s += fmt::format("around seq {}: {} turn(s) up to its own, {} after (seq {} to {} of {})\n\n",
                   o.seq, seq_turn - first_turn + 1, end_turn - seq_turn - 1, from, to - 1, lines);
  s += "    seq   time s  ";
  for (const std::string& lane : lanes) s += LaneHeader(lane);
  s += "\n";
  std::set<uint64_t> cited;
  std::map<std::string, int64_t> stalled_until;  // a stall fault's until_us, by process
  for (const TraceEvent& e : window) {
    holdings.Observe(e);
    if (e.type == "fault" && !e.agent.empty() && e.fields.contains("until_us")) {
      stalled_until[e.agent] = e.fields.value("until_us", int64_t{0});
    }
    if (e.type == "spawn") alive.insert(e.agent);
    if (e.seq == o.seq) at_seq = holdings;
    if (Skipped(e)) continue;
    const std::string lane = LaneOf(e);
    std::string strip;
    for (const std::string& l : lanes) {
      char c = ' ';
      auto stall = stalled_until.find(l);
      if (l == lane) {
        c = Marker(e);
      } else if (stall != stalled_until.end() && e.t < stall->second) {
        c = 's';
      } else if (!holdings.Of(l).empty()) {
        c = alive.count(l) > 0 ? '|' : ':';
      } else if (alive.count(l) > 0) {
        c = '.';
      }
      strip += c;
      strip += std::string(kLaneWidth - 1, ' ');
    }
    std::string note;
    if (auto it = evidence.find(e.seq); it != evidence.end()) {
      cited.insert(e.seq);
      for (const std::string& name : it->second) note += (note.empty() ? "  <- " : ", ") + name;
    }
    s += fmt::format("{}{:>6} {:>8}  {}{:<8} {}{}\n", e.seq == o.seq ? ">" : " ", e.seq,
                     Seconds(e.t), strip, lane, DescribeLine(e.fields), note);
    if (e.type == "exit" || e.type == "stop") alive.erase(e.agent);
  }
  s += fmt::format("\nheld at seq {} (from the history):\n", o.seq);
  if (at_seq.Holders().empty()) s += "  nothing\n";
  for (const std::string& holder : at_seq.Holders()) {
    for (const HeldClaim& c : at_seq.Of(holder))
      s += fmt::format("  {:<8} {}\n", holder, reports::Describe(c));
  }
  bool heading = false;
  for (const json& inv : verdict.value("invariants", json::array())) {
    for (const json& v : inv.value("violations", json::array())) {
      std::string seqs;
      bool shown = false;
      for (const json& seq : v.value("evidence", json::array())) {
        if (!seq.is_number_integer()) continue;
        shown = shown || cited.count(seq.get<uint64_t>()) > 0;
        seqs += (seqs.empty() ? "" : ", ") + seq.dump();
      }
      if (!shown) continue;
      if (!heading) s += "\nviolations citing these lines:\n";
      heading = true;
      s += fmt::format("  {}: {} (seq {})\n", inv.value("name", "?"), v.value("message", ""), seqs);
    }
  }
  return true;
}

}  // namespace faultline::reports
