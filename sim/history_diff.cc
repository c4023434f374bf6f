#include "sim/history_diff.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

namespace faultline {
namespace {

using nlohmann::json;

// Trace event type -> (operation, outcome). Types not listed are left out.
const std::map<std::string, std::pair<const char*, const char*>>& Projection() {
  static const auto* const table = new std::map<std::string, std::pair<const char*, const char*>>{
      {"claim_ok", {"claim", "ok"}},
      {"effect", {"effect", "written"}},
      {"effect_present", {"effect", "present"}},
      {"complete_ok", {"complete", "ok"}},
      {"complete_rejected", {"complete", "rejected"}},
      {"complete_recovered", {"complete", "recovered"}},
      {"release", {"release", "ok"}},
      {"lease_expired", {"expire", "pending"}},
      {"dead_letter", {"dead_letter", "dead"}},
  };
  return *table;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t Int(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// The operations of each item, as positions into the whole list.
std::map<std::string, std::vector<size_t>> ByItem(const std::vector<ProjectedOp>& ops) {
  std::map<std::string, std::vector<size_t>> by;
  for (size_t i = 0; i < ops.size(); ++i) by[ops[i].item].push_back(i);
  return by;
}

bool Same(const ProjectedOp& x, const ProjectedOp& y) {
  return x.op == y.op && x.outcome == y.outcome;
}

std::string Show(const ProjectedOp& op) {
  if (op.op == "end") return fmt::format("ends {} (run_end, trace seq {})", op.outcome, op.seq);
  return fmt::format("{} {}{} (trace seq {}, {:.3f} s)", op.op, op.outcome,
                     op.agent.empty() ? "" : " by " + op.agent, op.seq,
                     static_cast<double>(op.t) / 1e6);
}

}  // namespace

void HistoryProjector::Add(const json& e) {
  if (!e.is_object()) return;
  const std::string type = Str(e, "type");
  const uint64_t seq = static_cast<uint64_t>(Int(e, "seq"));
  const int64_t t = Int(e, "t");
  if (type == "run_end") {
    run_end_ = e;
    auto items = e.find("items");
    if (items == e.end() || !items->is_array()) return;
    for (const json& item : *items) {
      end_.push_back({Str(item, "id"), "end", Str(item, "status"), "", seq, t});
    }
    return;
  }
  auto p = Projection().find(type);
  if (p == Projection().end() || Str(e, "item").empty()) return;
  std::string agent = Str(e, "agent");
  if (agent.empty()) agent = Str(e, "by");
  ops_.push_back({Str(e, "item"), p->second.first, p->second.second, agent, seq, t});
}

std::vector<ProjectedOp> HistoryProjector::Ops() const {
  std::vector<ProjectedOp> ops = ops_, end = end_;
  std::sort(end.begin(), end.end(),
            [](const ProjectedOp& x, const ProjectedOp& y) { return x.item < y.item; });
  ops.insert(ops.end(), end.begin(), end.end());
  return ops;
}

std::vector<ProjectedOp> ProjectHistory(std::istream& trace) {
  HistoryProjector projector;
  std::string line;
  while (std::getline(trace, line)) {
    projector.Add(json::parse(line, nullptr, /*allow_exceptions=*/false));
  }
  return projector.Ops();
}

std::vector<ProjectedOp> ProjectOutcomes(const std::vector<ProjectedOp>& history,
                                         const json& run_end) {
  struct Outcome {
    std::string status = "unknown";
    std::string ledger;  // "" : the end state does not say
    int effects = 0, completions = 0;
    ProjectedOp last;  // where the item's history ends
  };
  std::map<std::string, Outcome> items;
  for (const ProjectedOp& op : history) {
    Outcome& o = items[op.item];
    if (op.op == "end") {
      o.status = op.outcome;
      if (o.last.item.empty()) o.last = op;
      continue;
    }
    o.last = op;
    if (op.op == "effect" && op.outcome == "written") ++o.effects;
    if (op.op == "complete" && (op.outcome == "ok" || op.outcome == "recovered")) ++o.completions;
  }
  if (auto list = run_end.find("items"); run_end.is_object() && list != run_end.end()) {
    for (const json& item : *list) {
      auto effect = item.find("effect");
      if (effect == item.end() || !effect->is_boolean()) continue;
      items[Str(item, "id")].ledger = effect->get<bool>() ? "yes" : "no";
    }
  }
  std::vector<ProjectedOp> out;
  for (const auto& [id, o] : items) {
    auto at = [&out, &id = id, &o = o](const char* op, std::string outcome) {
      out.push_back({id, op, std::move(outcome), o.last.agent, o.last.seq, o.last.t});
    };
    at("end", o.status);
    if (!o.ledger.empty()) at("ledger", o.ledger);
    at("effects", std::to_string(o.effects));
    at("completions", std::to_string(o.completions));
  }
  return out;
}

Divergence FirstDivergence(const std::vector<ProjectedOp>& a, const std::vector<ProjectedOp>& b) {
  const auto by_a = ByItem(a), by_b = ByItem(b);
  std::map<std::string, std::pair<const std::vector<size_t>*, const std::vector<size_t>*>> items;
  static const std::vector<size_t> kNone;
  for (const auto& [item, positions] : by_a) items[item] = {&positions, &kNone};
  for (const auto& [item, positions] : by_b) {
    auto [it, inserted] = items.try_emplace(item, &kNone, &positions);
    if (!inserted) it->second.second = &positions;
  }
  Divergence best;
  size_t best_position = SIZE_MAX;
  size_t agreed = 0;
  for (const auto& [item, lists] : items) {
    const std::vector<size_t>& pa = *lists.first;
    const std::vector<size_t>& pb = *lists.second;
    const size_t n = std::max(pa.size(), pb.size());
    for (size_t k = 0; k < n; ++k) {
      const ProjectedOp* x = k < pa.size() ? &a[pa[k]] : nullptr;
      const ProjectedOp* y = k < pb.size() ? &b[pb[k]] : nullptr;
      if (x != nullptr && y != nullptr && Same(*x, *y)) {
        ++agreed;
        continue;
      }
      // Where in the histories this is: the earlier of the two positions.
      const size_t position = std::min(x ? pa[k] : SIZE_MAX, y ? pb[k] : SIZE_MAX);
      best.items.push_back(item);
      if (position < best_position) {
        best_position = position;
        best.found = true;
        best.item = item;
        best.index = k;
        best.a = x ? std::optional<ProjectedOp>(*x) : std::nullopt;
        best.b = y ? std::optional<ProjectedOp>(*y) : std::nullopt;
      }
      break;
    }
  }
  if (!best.found) {
    best.agreed = agreed;
    return best;
  }
  // Every operation before that position, in the history where the
  // divergence shows first, belongs to an item whose operations agree so far.
  best.agreed = best_position;
  return best;
}

std::string DescribeDivergence(const Divergence& d, const std::string& label_a,
                               const std::string& label_b) {
  if (!d.found) return fmt::format("no divergence in {} operations\n", d.agreed);
  auto side = [&](const std::optional<ProjectedOp>& op) {
    return op ? Show(*op) : fmt::format("nothing: the item has no operation {} here", d.index + 1);
  };
  return fmt::format(
      "first divergence: item {}, operation {} of the item, after {} operations that agree\n"
      "  A ({}): {}\n"
      "  B ({}): {}\n",
      d.item, d.index + 1, d.agreed, label_a, side(d.a), label_b, side(d.b));
}

}  // namespace faultline
