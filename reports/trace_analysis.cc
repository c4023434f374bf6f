// One pass over a trace: grants opened and closed per item, faults, deaths,
// evidence positions, and the recovery bookkeeping of every landing.
#include "reports/trace_analysis.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "sim/json_diagnostics.h"

namespace faultline::reports {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t Int(const json& j, const char* key, int64_t fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

// "items/w000061.json" -> "w000061" when the file lives in `folder`.
std::string IdInFile(const std::string& file, const std::string& folder) {
  const std::string prefix = folder + "/", suffix = ".json";
  if (file.rfind(prefix, 0) != 0 || file.size() <= prefix.size() + suffix.size()) return "";
  if (file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0) return "";
  return file.substr(prefix.size(), file.size() - prefix.size() - suffix.size());
}

bool IsHeal(const json& line) {
  for (const char* key : {"healed", "restored", "heal"}) {
    auto it = line.find(key);
    if (it != line.end() && !(it->is_boolean() && !it->get<bool>())) return true;
  }
  return false;
}

// What ends a grant, by event type; claim_ok ends the previous grant too.
const std::map<std::string, std::string> kEnders = {
    {"complete_ok", "done"},          {"complete_recovered", "done (recovered)"},
    {"release", "released"},          {"lease_expired", "expired"},
    {"takeover", "taken over"},       {"dead_letter", "dead-lettered"},
    {"quarantine", "quarantined"},
};

std::string FaultDetail(const json& line) {
  std::string out;
  for (const auto& [key, value] : line.items()) {
    if (key == "seq" || key == "t" || key == "proc" || key == "type" || key == "index" ||
        key == "kind" || key == "at_us") {
      continue;
    }
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", key,
                       value.is_string() ? value.get<std::string>() : value.dump());
  }
  return out;
}

class Analyzer {
 public:
  explicit Analyzer(const EvidenceIndex& evidence) : evidence_(evidence) {}

  void Observe(const TraceEvent& e) {
    facts_.events++;
    facts_.end_t = std::max(facts_.end_t, e.t);
    NoteEvidence(e);
    if (e.type == "spawn") {
      AddLane(e.agent);
    } else if (e.type == "exit") {
      OnExit(e);
    } else if (e.type == "fault") {
      OnFault(e);
    } else if (e.type == "claim_ok") {
      Free(e, "superseded");
      Open(e);
    } else if (e.type == "reaper_start") {
      Resolve("", /*reaper=*/true, e.t);
    } else if (auto it = kEnders.find(e.type); it != kEnders.end()) {
      if (e.type == "quarantine" && e.item.empty()) return;  // an agent record
      Free(e, it->second);
    }
  }

  TraceFacts Finish() {
    for (auto& [item, index] : open_) {
      ClaimBar& bar = facts_.claims[index];
      bar.end = facts_.end_t;
      bar.ended_by = "open";
    }
    for (const Pending& p : pending_) facts_.recoveries[p.recovery].unrecovered = true;
    std::vector<std::string> agents(agent_lanes_.begin(), agent_lanes_.end());
    std::sort(agents.begin(), agents.end(), NaturalLess);
    facts_.lanes = {"run", "reaper"};
    facts_.lanes.insert(facts_.lanes.end(), agents.begin(), agents.end());
    return std::move(facts_);
  }

 private:
  struct Pending {
    size_t recovery;
    std::set<std::string> items;
    bool reaper = false;
  };

  void AddLane(const std::string& agent) {
    if (!agent.empty() && agent != "reaper" && agent != "sim") agent_lanes_.insert(agent);
  }

  std::string LaneOf(const TraceEvent& e) const {
    std::string lane = !e.agent.empty() ? e.agent : e.proc;
    if (lane == "reaper" || agent_lanes_.count(lane)) return lane;
    return "run";
  }

  void NoteEvidence(const TraceEvent& e) {
    auto it = evidence_.find(e.seq);
    if (it == evidence_.end()) return;
    facts_.evidence.push_back({e.seq, e.t, LaneOf(e), e.type, it->second});
    if (!facts_.first_evidence || e.t < *facts_.first_evidence) facts_.first_evidence = e.t;
  }

  void Open(const TraceEvent& e) {
    AddLane(e.agent);
    ClaimBar bar;
    bar.agent = e.agent;
    bar.item = e.item;
    bar.token = e.token;
    bar.seq = e.seq;
    bar.start = bar.end = e.t;
    open_[e.item] = facts_.claims.size();
    facts_.claims.push_back(std::move(bar));
  }

  // The item of `e` is free (or done) again: end its open grant, and count it
  // for every landing waiting on it.
  void Free(const TraceEvent& e, const std::string& how) {
    if (e.item.empty()) return;
    if (auto it = open_.find(e.item); it != open_.end()) {
      ClaimBar& bar = facts_.claims[it->second];
      bar.end = e.t;
      bar.ended_by = how;
      open_.erase(it);
    }
    Resolve(e.item, /*reaper=*/false, e.t);
  }

  void Resolve(const std::string& item, bool reaper, int64_t t) {
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (reaper ? it->reaper : it->items.erase(item) > 0) {
        if (reaper || it->items.empty()) {
          Recovery& r = facts_.recoveries[it->recovery];
          r.recovery_us = t - r.landed;
          it = pending_.erase(it);
          continue;
        }
      }
      ++it;
    }
  }

  void OnExit(const TraceEvent& e) {
    const json& f = e.fields;
    std::string how = f.contains("signal")
                          ? fmt::format("signal {}", Int(f, "signal", 0))
                          : fmt::format("exit {}", Int(f, "code", 0));
    if (std::string by = Str(f, "by"); !by.empty()) how += " by " + by;
    facts_.deaths.push_back({e.seq, e.t, e.agent, how});
    for (auto& [item, index] : open_) {
      ClaimBar& bar = facts_.claims[index];
      if (bar.agent == e.agent && bar.holder_died < 0) bar.holder_died = e.t;
    }
  }

  void OnFault(const TraceEvent& e) {
    const json& f = e.fields;
    FaultMark mark;
    mark.seq = e.seq;
    mark.t = e.t;
    mark.kind = Str(f, "kind");
    mark.index = static_cast<int>(Int(f, "index", 0));
    mark.agent = e.agent;
    mark.item = e.item;
    const std::string file = Str(f, "file");
    if (mark.item.empty()) mark.item = IdInFile(file, "items");
    if (mark.agent.empty()) mark.agent = IdInFile(file, "agents");
    mark.heal = IsHeal(f);
    mark.until = Int(f, "until_us", -1);
    mark.detail = FaultDetail(f);
    facts_.faults.push_back(mark);
    if (mark.heal) return;
    if (!facts_.first_landing || e.t < *facts_.first_landing) facts_.first_landing = e.t;
    StartRecovery(mark);
  }

  void StartRecovery(const FaultMark& mark) {
    Recovery r;
    r.fault_seq = mark.seq;
    r.kind = mark.kind;
    r.index = mark.index;
    r.landed = mark.t;
    Pending p{facts_.recoveries.size(), {}, false};
    if (mark.agent == "reaper") {
      p.reaper = true;
    } else if (!mark.item.empty()) {
      p.items.insert(mark.item);
    } else {
      for (const auto& [item, index] : open_) {
        if (mark.agent.empty() || facts_.claims[index].agent == mark.agent) p.items.insert(item);
      }
    }
    r.affected = p.reaper ? 1 : static_cast<int>(p.items.size());
    facts_.recoveries.push_back(r);
    if (r.affected > 0) pending_.push_back(std::move(p));
  }

  const EvidenceIndex& evidence_;
  TraceFacts facts_;
  std::set<std::string> agent_lanes_;
  std::map<std::string, size_t> open_;  // item -> index of its open grant in claims
  std::vector<Pending> pending_;
};

}  // namespace

std::optional<int64_t> TraceFacts::DetectionLatency() const {
  if (!first_landing || !first_evidence) return std::nullopt;
  return std::max<int64_t>(0, *first_evidence - *first_landing);
}

EvidenceIndex EvidenceOf(const nlohmann::json& verdict) {
  EvidenceIndex out;
  for (const json& inv : verdict.value("invariants", json::array())) {
    const std::string name = inv.value("name", "");
    for (const json& v : inv.value("violations", json::array())) {
      for (const json& seq : v.value("evidence", json::array())) {
        if (!seq.is_number_unsigned() && !seq.is_number_integer()) continue;
        std::vector<std::string>& names = out[seq.get<uint64_t>()];
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
      }
    }
  }
  return out;
}

TraceFacts AnalyzeTrace(std::istream& lines, const EvidenceIndex& evidence, uint64_t* bad_lines) {
  Analyzer analyzer(evidence);
  std::string line;
  uint64_t bad = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (diag::NestingDepth(line) > diag::kMaxDocumentDepth) {
      ++bad;
      continue;
    }
    json j = json::parse(line, nullptr, false);
    if (!j.is_object()) {
      ++bad;
      continue;
    }
    analyzer.Observe(TraceEvent::FromJson(std::move(j)));
  }
  if (bad_lines) *bad_lines = bad;
  return analyzer.Finish();
}

bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && std::isdigit(static_cast<unsigned char>(a[i2]))) ++i2;
      while (j2 < b.size() && std::isdigit(static_cast<unsigned char>(b[j2]))) ++j2;
      std::string na = a.substr(i, i2 - i), nb = b.substr(j, j2 - j);
      na.erase(0, std::min(na.find_first_not_of('0'), na.size()));
      nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size()));
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = i2, j = j2;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i, ++j;
  }
  if (a.size() - i != b.size() - j) return a.size() - i < b.size() - j;
  return a < b;
}

}  // namespace faultline::reports
