#include "sim/invariants/no_semantic_drift.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "sim/invariants/checker_support.h"

namespace faultline {
namespace {

using checker::IntField;
using checker::StrField;
using nlohmann::json;

constexpr size_t kItemsNamed = 5;

// One item's outcome in words: "ends done, in the ledger, 1 effect written,
// 1 completion accepted (last: complete ok by a2, trace seq 40)".
std::string DescribeOutcome(const std::vector<ProjectedOp>& outcomes, const std::string& item) {
  std::map<std::string, const ProjectedOp*> by_op;
  for (const ProjectedOp& op : outcomes) {
    if (op.item == item) by_op[op.op] = &op;
  }
  if (by_op.empty()) return "never saw the item";
  auto value = [&](const char* op) { return by_op.count(op) ? by_op[op]->outcome : ""; };
  auto count = [&](const char* op, const char* noun) {
    const std::string n = value(op);
    return fmt::format("{} {}{}", n, noun, n == "1" ? "" : "s");
  };
  const std::string ledger = value("ledger");
  const char* in_ledger = ledger.empty()    ? ""
                          : ledger == "yes" ? ", in the ledger"
                                            : ", not in the ledger";
  const ProjectedOp& last = *by_op.begin()->second;
  return fmt::format("ends {}{}, {} written, {} accepted (trace seq {}{})", value("end"), in_ledger,
                     count("effects", "effect"), count("completions", "completion"), last.seq,
                     last.agent.empty() ? "" : ", last by " + last.agent);
}

std::string DescribeOp(const std::optional<ProjectedOp>& op, size_t index) {
  if (!op) return fmt::format("has no operation {} on the item", index + 1);
  if (op->op == "end") return fmt::format("ends {} (run_end, trace seq {})", op->outcome, op->seq);
  return fmt::format("{} {}{} (trace seq {}, {})", op->op, op->outcome,
                     op->agent.empty() ? "" : " by " + op->agent, op->seq,
                     checker::Seconds(op->t));
}

std::string Names(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < kItemsNamed; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > kItemsNamed) out += ", ...";
  return out;
}

}  // namespace

void NoSemanticDrift::Observe(const TraceEvent& event) { mine_.Add(event.fields); }

void NoSemanticDrift::ObserveCounterpart(const TraceEvent& event) {
  if (event.type == "differential_start") {
    start_ = event.fields;
    return;
  }
  theirs_.Add(event.fields);
}

std::string NoSemanticDrift::Label() const {
  const std::string& label = StrField(start_, "label");
  return label.empty() ? "the system under test" : label;
}

std::string NoSemanticDrift::Against() const {
  const std::string& against = StrField(start_, "against");
  return against.empty() ? "the counterpart" : against;
}

std::string NoSemanticDrift::Reproduce() const {
  const std::string& reproduce = StrField(start_, "reproduce");
  const std::string& dir = StrField(start_, "run_dir");
  return fmt::format("reproduce: {} (both runs; the counterpart's in {})",
                     reproduce.empty() ? "the run's reproduce command" : reproduce,
                     dir.empty() ? "?" : dir);
}

void NoSemanticDrift::CompareEnds(std::vector<Violation>* out) const {
  const json& a = mine_.run_end();
  const json& b = theirs_.run_end();
  const uint64_t seq = static_cast<uint64_t>(IntField(a, "seq"));
  if (a.is_null() || b.is_null()) {
    out->push_back({kName,
                    fmt::format("{} has no run_end: nothing to compare; {}",
                                a.is_null() ? Label() : Against(), Reproduce()),
                    {}});
    return;
  }
  if (StrField(a, "end") != StrField(b, "end")) {
    out->push_back({kName,
                    fmt::format("the runs end differently: {} ends \"{}\", {} ends \"{}\"; {}",
                                Label(), StrField(a, "end"), Against(), StrField(b, "end"),
                                Reproduce()),
                    {seq}});
  }
  for (const char* key : {"locks", "temps"}) {
    const auto x = a.find(key), y = b.find(key);
    if (x == a.end() || y == b.end() || !x->is_number_integer() || !y->is_number_integer()) {
      continue;
    }
    if (*x != *y) {
      out->push_back({kName,
                      fmt::format("{} files left at the end: {} {}, {} {}; {}",
                                  std::string(key) == "locks" ? "lock" : "temp", Label(),
                                  x->get<int64_t>(), Against(), y->get<int64_t>(), Reproduce()),
                      {seq}});
    }
  }
}

void NoSemanticDrift::CompareItems(std::vector<Violation>* out) {
  const bool histories = StrField(start_, "compare") == "histories";
  std::vector<ProjectedOp> a = mine_.Ops(), b = theirs_.Ops();
  if (!histories) {
    a = ProjectOutcomes(a, mine_.run_end());
    b = ProjectOutcomes(b, theirs_.run_end());
  }
  std::set<std::string> items;
  for (const ProjectedOp& op : a) items.insert(op.item);
  for (const ProjectedOp& op : b) items.insert(op.item);
  items_ = items.size();
  const Divergence d = FirstDivergence(a, b);
  diverging_ = d.items.size();
  if (!d.found) return;
  std::string what;
  if (histories) {
    what = fmt::format("operation {} of the item, after {} operations that agree: {} {}; {} {}",
                       d.index + 1, d.agreed, Label(), DescribeOp(d.a, d.index), Against(),
                       DescribeOp(d.b, d.index));
  } else {
    what = fmt::format("{} {}; {} {}", Label(), DescribeOutcome(a, d.item), Against(),
                       DescribeOutcome(b, d.item));
  }
  std::vector<uint64_t> evidence;
  if (d.a) evidence.push_back(d.a->seq);
  out->push_back({kName,
                  fmt::format("item {} diverges from {}: {} ({} of {} items diverge: {}); {}",
                              d.item, Against(), what, d.items.size(), items_, Names(d.items),
                              Reproduce()),
                  evidence});
}

void NoSemanticDrift::Finish(std::vector<Violation>* out) {
  finished_ = true;
  if (start_.is_null()) {
    out->push_back({kName,
                    "no counterpart history to compare with: the run has no \"differential\" "
                    "block (docs/external-sut.md, section 8)",
                    {}});
    return;
  }
  CompareEnds(out);
  CompareItems(out);
}

json NoSemanticDrift::Summary() const {
  if (!finished_ || start_.is_null()) return nullptr;
  return {{"against", Against()},
          {"compare", StrField(start_, "compare")},
          {"items", items_},
          {"diverging_items", diverging_},
          {"counterpart_run", StrField(start_, "run_dir")}};
}

std::string NoSemanticDrift::SummaryText() const {
  if (!finished_ || start_.is_null()) return "";
  return fmt::format("{} items compared with {} ({}): {}; its run: {}", items_, Against(),
                     StrField(start_, "compare"),
                     diverging_ == 0 ? "all agree"
                     : diverging_ == 1 ? "1 diverges"
                                       : fmt::format("{} diverge", diverging_),
                     StrField(start_, "run_dir"));
}

}  // namespace faultline
