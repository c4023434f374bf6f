#include "sim/invariants/no_acknowledged_loss.h"

#include <fmt/format.h>

#include <utility>

namespace faultline {

using checker::Seconds;
using checker::StrField;

void NoAcknowledgedLoss::Observe(const TraceEvent& event) {
  const std::string& type = event.type;
  if (type == "complete_ok") {
    auto [it, fresh] = acks_.try_emplace(event.item);
    if (fresh) order_.push_back(event.item);
    it->second = Ack{event.seq, event.t, event.agent, event.token, 0, 0, false};
  } else if (type == "fault") {
    if (StrField(event.fields, "kind") != "power_loss") return;
    ++losses_;
    for (auto& [item, ack] : acks_) {
      if (ack.loss_seq == 0) ack.loss_seq = event.seq, ack.loss_t = event.t;
    }
  } else if (type == "claim_ok" || type == "takeover") {
    auto it = acks_.find(event.item);
    if (it == acks_.end() || it->second.loss_seq == 0) return;
    Lost(it->second, event.item,
         fmt::format("granted again to {} with token {} at {} (seq {})", event.agent, event.token,
                     Seconds(event.t), event.seq),
         event.seq);
  } else if (type == "run_end") {
    std::unordered_map<std::string, const nlohmann::json*> items;
    if (auto list = event.fields.find("items"); list != event.fields.end() && list->is_array()) {
      for (const auto& entry : *list) {
        if (entry.is_object()) items[StrField(entry, "id")] = &entry;
      }
    }
    for (const std::string& item : order_) {
      Ack& ack = acks_[item];
      if (ack.loss_seq == 0 || ack.reported) continue;
      auto it = items.find(item);
      if (it == items.end()) {
        Lost(ack, item, "missing from the end state", event.seq);
        continue;
      }
      const std::string& status = StrField(*it->second, "status");
      const bool effect = it->second->value("effect", false);
      if (status != "done") {
        Lost(ack, item, fmt::format("{} at the end", status.empty() ? "no status" : status),
             event.seq);
      } else if (!effect) {
        Lost(ack, item, "done at the end, but its effect is gone from the ledger", event.seq);
      }
    }
  }
}

void NoAcknowledgedLoss::Lost(Ack& ack, const std::string& item, const std::string& how,
                              uint64_t seq) {
  ack.reported = true;
  violations_.Report(
      fmt::format("{}: completion acknowledged to {} (token {}) at {} (seq {}) lost in the power "
                  "loss at {} (seq {}): {}",
                  item, ack.agent, ack.token, Seconds(ack.t), ack.seq, Seconds(ack.loss_t),
                  ack.loss_seq, how),
      {ack.seq, ack.loss_seq, seq});
}

void NoAcknowledgedLoss::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

}  // namespace faultline
