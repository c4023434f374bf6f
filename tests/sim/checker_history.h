// Hand-built histories for the invariant checkers' tests: trace lines as the
// engine and the coordinator write them, a checker run over them, and the
// violations' messages. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "sim/invariant.h"
#include "sim/trace_event.h"

namespace faultline::checker_test {

using nlohmann::json;
using Evidence = std::vector<uint64_t>;

inline constexpr int64_t kMs = 1000;  // µs per ms

// One trace line: seq, run time t (ms), type, plus `extra` fields.
inline json Ev(uint64_t seq, int64_t t_ms, const char* type, json extra = json::object()) {
  json line = {{"seq", seq}, {"t", t_ms * kMs}, {"proc", "sim"}, {"type", type}};
  line.update(extra);
  return line;
}

// A claim_ok at process time now_ms (also its run time) with a lease until until_ms.
inline json Claim(uint64_t seq, const char* item, const char* agent, int64_t token, int64_t now_ms,
                  int64_t until_ms) {
  return Ev(seq, now_ms, "claim_ok",
            {{"proc", agent},
             {"item", item},
             {"agent", agent},
             {"token", token},
             {"now_us", now_ms * kMs},
             {"lease_until_us", until_ms * kMs},
             {"attempt", token}});
}

inline json Op(uint64_t seq, int64_t t_ms, const char* type, const char* item, const char* agent,
               int64_t token, json extra = json::object()) {
  json line = Ev(seq, t_ms, type,
                 {{"proc", agent},
                  {"item", item},
                  {"agent", agent},
                  {"token", token},
                  {"now_us", t_ms * kMs}});
  line.update(extra);
  return line;
}

inline json RunStart(const char* mode, int64_t lease_ms = 3000, int64_t reap_ms = 1000,
                     int items = 0) {
  return Ev(0, 0, "run_start",
            {{"scenario", "test"},
             {"seed", 1},
             {"mode", mode},
             {"lease_ms", lease_ms},
             {"heartbeat_ms", 500},
             {"reap_interval_ms", reap_ms},
             {"agent_timeout_ms", 3000},
             {"max_attempts", 5},
             {"agents", 2},
             {"items", items}});
}

inline json Item(const char* id, const char* status, const char* reason = "", bool effect = false) {
  return {{"id", id}, {"status", status}, {"reason", reason}, {"effect", effect}};
}

inline json RunEnd(uint64_t seq, int64_t t_ms, json items, int64_t ledger = 0,
                   bool completed = true, int64_t locks = 0, const char* deadlock = "") {
  return Ev(seq, t_ms, "run_end",
            {{"completed", completed},
             {"locks", locks},
             {"ledger", ledger},
             {"items", std::move(items)},
             {"deadlock", deadlock}});
}

template <typename Checker>
inline std::vector<Violation> Check(const std::vector<json>& lines) {
  Checker checker;
  uint64_t previous = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    TraceEvent e = TraceEvent::FromJson(lines[i]);
    if (i > 0) {
      EXPECT_GT(e.seq, previous) << "test history out of order at line " << i;
    }
    previous = e.seq;
    checker.Observe(e);
  }
  std::vector<Violation> out;
  checker.Finish(&out);
  for (const Violation& v : out) EXPECT_EQ(v.invariant, Checker::kName);
  return out;
}

inline std::string Messages(const std::vector<Violation>& vs) {
  std::string all;
  for (const Violation& v : vs) all += v.invariant + ": " + v.message + "\n";
  return all;
}

inline bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// An agent killed (SIGKILL) at `t_ms`.
inline json Kill(uint64_t seq, int64_t t_ms, const char* agent) {
  return Ev(seq, t_ms, "exit", {{"agent", agent}, {"signal", 9}});
}

// An agent quarantining a torn item file.
inline json QuarantineItem(uint64_t seq, int64_t t_ms, const char* item) {
  return Ev(seq, t_ms, "quarantine",
            {{"proc", "a2"},
             {"item", item},
             {"file", std::string("quarantine/items.") + item + ".json.123"},
             {"status", "quarantined"},
             {"reason", "not JSON"}});
}

inline json Register(uint64_t seq, int64_t t_ms, const char* agent, const char* fingerprint) {
  return Ev(seq, t_ms, "register",
            {{"proc", agent}, {"agent", agent}, {"fingerprint", fingerprint}});
}

// A heartbeat whose clock reads run time; `holding`: the items it lists.
inline json Heartbeat(uint64_t seq, int64_t at_ms, const char* agent, json holding = nullptr) {
  json line =
      Ev(seq, at_ms, "heartbeat", {{"proc", agent}, {"agent", agent}, {"at_us", at_ms * kMs}});
  if (!holding.is_null()) line["holding"] = std::move(holding);
  return line;
}

}  // namespace faultline::checker_test
