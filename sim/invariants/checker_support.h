// What the invariant checkers (DESIGN §6) share: lenient accessors for the
// extra fields of a trace event, the one way times are written in messages,
// and the capped list of violations a checker reports into.
//
// Everything here is deterministic and free of global state apart from one
// immutable empty string; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/invariant.h"

namespace faultline::checker {

// j[key] when it is an integer, else 0 (missing, null, another type, or j not
// an object).
int64_t IntField(const nlohmann::json& j, const char* key);

// j[key] when it is a string, else "". The reference points into `j` (or at a
// static empty string): valid while `j` lives and is not modified.
const std::string& StrField(const nlohmann::json& j, const char* key);

// Microseconds as seconds with three decimals: 1250000 -> "1.250 s".
std::string Seconds(int64_t us);

// The violations one checker has found, listed up to a cap. Past the cap they
// are only counted, so a badly broken run yields a readable report rather
// than one line per bad event.
class ViolationList {
 public:
  static constexpr size_t kDefaultCap = 20;

  // `invariant` (the checker's name) and `noun` (what the summary line calls
  // the unlisted ones, plural) must outlive the list; string literals and
  // kName constants do.
  explicit ViolationList(const char* invariant, const char* noun = "violations",
                         size_t cap = kDefaultCap)
      : invariant_(invariant), noun_(noun), cap_(cap) {}

  // Lists the violation if fewer than `cap` have been reported, else only
  // counts it.
  void Report(std::string message, std::vector<uint64_t> evidence);

  // Appends the listed violations to *out in the order reported, then, if any
  // went unlisted, one summary "N more <noun> not listed (M in all)" with no
  // evidence. Empties the list; the count stays, so call it once, at Finish.
  void MoveTo(std::vector<Violation>* out);

 private:
  const char* invariant_;
  const char* noun_;
  size_t cap_;
  std::vector<Violation> listed_;
  uint64_t reported_ = 0;  // listed or not
};

// Where each process's clock stands against run time ("t"), from the events
// of that process carrying a clock reading (now_us, or at_us of a
// heartbeat). Without clock skew every process has the same offset; with it
// (the clock_skew fault) a reading of one process's clock can still be put
// on the run-time axis, which is where checkers judge "at the same time".
//
// Lockstep: the offset of the latest reading (exact: "t" is the simulated
// time the reading was taken at). Freerun: "t" is stamped when the event is
// sent, a little after the reading, so each reading understates the offset by
// that delay; the largest offset seen is the closest to the truth.
class ProcessClocks {
 public:
  // In freerun, readings and "t" are taken a few µs (or, on a busy machine,
  // ms) apart: checkers judging "before" across processes allow this much.
  static constexpr int64_t kFreerunToleranceUs = 2000;
  // Call for every event; remembers the offset of the event's process.
  void Observe(const TraceEvent& event);
  // Records that `proc`'s clock read `reading` at run time `t`.
  void Note(const std::string& proc, int64_t reading, int64_t t);
  // The run time at which `proc`'s clock read `reading`; `reading` minus the
  // common offset when `proc` has not been seen; nullopt before any reading.
  std::optional<int64_t> ToRunTime(const std::string& proc, int64_t reading) const;

 private:
  std::unordered_map<std::string, int64_t> offset_;  // proc -> clock minus t
  std::optional<int64_t> first_offset_;
  bool freerun_ = false;  // from run_start
};

}  // namespace faultline::checker
