#include "sim/invariants/no_torn_state.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <utility>

#include "sim/invariants/checker_support.h"

namespace faultline {

using checker::IntField;
using checker::Seconds;
using checker::StrField;

namespace {

constexpr size_t kMaxNamed = 10;

// Paths are compared as the engine writes them, relative to the coordination
// directory; a leading "./" is tolerated.
std::string Normalize(std::string_view path) {
  while (path.starts_with("./")) path.remove_prefix(2);
  return std::string(path);
}

}  // namespace

void NoTornState::Observe(const TraceEvent& event) {
  const std::string& type = event.type;
  if (type == "state_check") {
    OnStateCheck(event);
  } else if (type == "fault") {
    if (StrField(event.fields, "kind") == "power_loss") {
      // The directory as the storage left it: the state check that follows
      // is judged as the recovery would see it.
      exit_ = Exit{event.seq, "the power loss"};
      return;
    }
    if (StrField(event.fields, "kind") != "corrupt_file") return;
    const std::string& file = StrField(event.fields, "file");
    if (!file.empty()) corrupted_[Normalize(file)] = event.seq;
  } else if (type == "quarantine") {
    // An item's quarantine moves the corrupt file aside and writes a fresh
    // state; an agent's moves it aside (the agent re-registers later).
    if (!event.item.empty()) {
      corrupted_.erase("items/" + event.item + ".json");
    } else if (!event.agent.empty()) {
      corrupted_.erase("agents/" + event.agent + ".json");
    }
  } else if (type == "exit") {
    auto signal = event.fields.find("signal");
    const bool killed =
        signal != event.fields.end() && signal->is_number_integer() && signal->get<int64_t>() != 0;
    exit_ =
        Exit{event.seq, killed ? fmt::format("{} killed by signal {}", event.agent, signal->dump())
                               : fmt::format("{} exited with code {}", event.agent,
                                             IntField(event.fields, "code"))};
  }
}

void NoTornState::OnStateCheck(const TraceEvent& event) {
  std::optional<Exit> cause = std::move(exit_);
  exit_.reset();
  // A pointer rather than an iterator: GCC cannot see that a checked
  // iterator is not null and warns under -Wnull-dereference.
  const nlohmann::json* list =
      event.fields.contains("unparsable") ? &event.fields.at("unparsable") : nullptr;
  std::unordered_set<std::string> torn;
  std::vector<std::string> fresh;  // torn now, not at the previous check; in listed order
  if (list != nullptr && list->is_array()) {
    for (const auto& entry : *list) {
      if (!entry.is_string()) continue;
      std::string path = Normalize(entry.get_ref<const std::string&>());
      if (corrupted_.count(path) || !torn.insert(path).second) continue;
      if (!torn_.count(path)) fresh.push_back(std::move(path));
    }
  }
  torn_ = std::move(torn);
  if (fresh.empty()) return;

  std::vector<std::string> named(
      fresh.begin(),
      fresh.begin() + static_cast<std::ptrdiff_t>(std::min(fresh.size(), kMaxNamed)));
  const int64_t files = IntField(event.fields, "files");
  std::vector<uint64_t> evidence;
  if (cause) evidence.push_back(cause->seq);
  evidence.push_back(event.seq);
  violations_.Report(
      fmt::format(
          "state check at {} (seq {}{}): {} state file{} not parse{}: {}{}", Seconds(event.t),
          event.seq, cause ? fmt::format(", after {} at seq {}", cause->what, cause->seq) : "",
          fresh.size(), fresh.size() == 1 ? " does" : "s do",
          files > 0 ? fmt::format(" (of {} read)", files) : "", fmt::join(named, ", "),
          fresh.size() > named.size() ? fmt::format(" and {} more", fresh.size() - named.size())
                                      : ""),
      std::move(evidence));
}

void NoTornState::Finish(std::vector<Violation>* out) { violations_.MoveTo(out); }

}  // namespace faultline
