#include "sim/invariants/no_silent_span_loss.h"

#include <fmt/format.h>

#include <map>
#include <utility>

namespace faultline {

using checker::IntField;
using checker::Seconds;
using checker::StrField;

namespace {

constexpr size_t kNamedSpans = 5;
constexpr size_t kEvidence = 10;

template <typename Set>
void InsertIds(const nlohmann::json& fields, Set* into) {
  auto it = fields.find("spans");
  if (it == fields.end() || !it->is_array()) return;
  for (const auto& id : *it) {
    if (id.is_string()) into->insert(id.get<std::string>());
  }
}

}  // namespace

void NoSilentSpanLoss::Observe(const TraceEvent& event) {
  const std::string& type = event.type;
  if (type == "span_created") {
    const std::string& span = StrField(event.fields, "span");
    if (span.empty() || !created_ids_.insert(span).second) return;
    created_.push_back({event.seq, event.t, span, event.agent, StrField(event.fields, "name"),
                        event.item});
  } else if (type == "span_dropped") {
    const size_t before = dropped_.size();
    InsertIds(event.fields, &dropped_);
    const int64_t unnamed = IntField(event.fields, "count") -
                            static_cast<int64_t>(dropped_.size() - before);
    if (unnamed > 0 && StrField(event.fields, "reason") == "unreadable") {
      anonymous_drops_[event.agent] += unnamed;
    }
  } else if (type == "sink_received") {
    received_seen_ = true;
    if (const std::string& error = StrField(event.fields, "error"); !error.empty()) {
      received_error_ = error;
    }
    InsertIds(event.fields, &received_);
  } else if (type == "spool_left") {
    InsertIds(event.fields, &spooled_);
  }
}

void NoSilentSpanLoss::Finish(std::vector<Violation>* out) {
  counts_ = {};
  counts_.created = created_.size();
  if (!created_.empty() && (!received_seen_ || !received_error_.empty())) {
    violations_.Report(
        fmt::format("{} spans were created, but what the collector received never reached the "
                    "trace ({}): no span can be shown delivered",
                    created_.size(),
                    received_error_.empty() ? "no sink_received event" : received_error_),
        {created_.front().seq});
  }
  // Lost spans, by agent (in order of first loss, for a stable report).
  std::map<std::string, std::vector<const Created*>> lost;
  std::vector<std::string> order;
  for (const Created& c : created_) {
    if (received_.count(c.span)) {
      ++counts_.delivered;
    } else if (dropped_.count(c.span)) {
      ++counts_.dropped;
    } else if (spooled_.count(c.span)) {
      ++counts_.spooled;
    } else if (auto it = anonymous_drops_.find(c.agent);
               it != anonymous_drops_.end() && it->second > 0) {
      --it->second;
      ++counts_.dropped;
    } else {
      ++counts_.lost;
      auto& list = lost[c.agent];
      if (list.empty()) order.push_back(c.agent);
      list.push_back(&c);
    }
  }
  if (!received_seen_ || !received_error_.empty()) {
    violations_.MoveTo(out);
    return;
  }
  for (const std::string& agent : order) {
    const std::vector<const Created*>& spans = lost[agent];
    std::string named;
    std::vector<uint64_t> evidence;
    for (size_t i = 0; i < spans.size(); ++i) {
      if (i < kNamedSpans) {
        const Created& c = *spans[i];
        named += fmt::format("{}{} {}{} at {}", i ? ", " : "", c.span, c.name,
                             c.item.empty() ? "" : " " + c.item, Seconds(c.t));
      }
      if (i < kEvidence) evidence.push_back(spans[i]->seq);
    }
    violations_.Report(
        fmt::format("{} lost {} span{} silently: created, never received by the collector, "
                    "never counted in a span_dropped, and in no spool at the end ({}{})",
                    agent, spans.size(), spans.size() == 1 ? "" : "s", named,
                    spans.size() > kNamedSpans
                        ? fmt::format(", and {} more", spans.size() - kNamedSpans)
                        : ""),
        std::move(evidence));
  }
  violations_.MoveTo(out);
}

nlohmann::json NoSilentSpanLoss::Summary() const {
  if (counts_.created == 0) return nullptr;
  return {{"created", counts_.created},
          {"delivered", counts_.delivered},
          {"dropped", counts_.dropped},
          {"still_spooled", counts_.spooled},
          {"lost", counts_.lost}};
}

std::string NoSilentSpanLoss::SummaryText() const {
  if (counts_.created == 0) return "";
  return fmt::format(
      "{} spans created: {} delivered to the collector, {} dropped and counted, {} still "
      "spooled, {} lost",
      counts_.created, counts_.delivered, counts_.dropped, counts_.spooled, counts_.lost);
}

}  // namespace faultline
