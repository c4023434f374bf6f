// A run's timeline around one step, as text for a terminal (`faultline show
// RUN_DIR --around SEQ`): the same data as timeline.svg (grants, faults,
// deaths, the events violations cite), narrowed to the turns around one
// trace line.
//
// A turn is a run of consecutive trace lines from one process: what it did
// between two yield points (two steps of the same process in a row show as
// one turn, the trace does not record the boundary). The engine's own lines
// ("proc": "sim") each make a turn; periodic snapshot lines are left out,
// and so are state checks that found every file readable.
//
// Each row is one trace line: its seq and run time, a strip with one column
// per process in the window, and what happened. In the strip:
//   *  this process wrote the line (or the engine wrote it about this process)
//   F  a fault landed on it          +  it was started
//   X  it died (killed, or exited non-zero)   x  it exited 0 or was stopped
//   s  a fault holds it stalled (a fault with until_us, till then)
//   |  it holds at least one grant   .  it is alive and holds nothing
//   :  it is dead and a grant it held still stands (until it expires or is taken)
// The row of SEQ is marked with '>', and lines a violation cites end with
// "<- invariant". After the rows: what each process holds at SEQ (from the
// history, reports/holdings.h) and the violations cited in the window.
//
// Deterministic: the same run directory gives the same text.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace faultline::reports {

// A violation of a verdict and its own seq: the last trace line of its
// evidence, the event with which the checker could tell (checkers read the
// history in order). Violations without evidence have none and are left out.
struct ViolationAt {
  std::string invariant;
  std::string message;
  uint64_t seq = 0;
};
// In seq order (then in the verdict's order).
std::vector<ViolationAt> ViolationsOf(const nlohmann::json& verdict);

// One trace line, briefly: "claim_ok w000017 token 2", "FAULT stall_agent
// until_us=...", "exit signal 9 by kill_agent".
std::string DescribeLine(const nlohmann::json& line);

struct AroundOptions {
  uint64_t seq = 0;
  int turns_before = 12;  // turns up to and including SEQ's
  int turns_after = 3;
};

// Reads RUN_DIR/trace.jsonl and RUN_DIR/verdict.json. False (and `error`
// says what is wrong and what to do) when they cannot be read or SEQ is not
// a line of the trace.
bool RenderAround(const std::string& run_dir, const AroundOptions& options, std::string* out,
                  std::string* error);

}  // namespace faultline::reports
