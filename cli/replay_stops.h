// The stops of `faultline replay --stop-at SEQ | --until violation | --step`
// (docs/debugging.md): a StopController (sim/stop_controller.h) that lets a
// lockstep replay run to a step, tells what every process is and holds, and
// waits for a person or a test to resume it.
//
// At a stop it prints, per process, its role, pid, where it is parked, the
// grants the history says it holds (reports/holdings.h), the locks the
// kernel says it holds (/proc/PID/fdinfo), and `gdb -p PID`; then the
// coordination directory and how to resume. With a report path it also
// writes the same as JSON (the schema is in docs/debugging.md), replacing
// the file atomically at every stop; "-" writes the JSON to stdout, one
// object per line, instead of the text.
//
// Resuming: SIGUSR1 resumes (to the next stop: the next decision when
// stepping); SIGUSR2 runs to the end without stopping again. On a terminal,
// Enter and "c" Enter do the same, "s" Enter prints the stop again. A
// process that a debugger holds stopped (ptrace or SIGSTOP) would make the
// engine's watchdog fail the run, so a resume waits until none is.
//
// Construct it before the run starts: it blocks SIGUSR1 and SIGUSR2 in this
// process (children get them unblocked at exec) and reads them from a
// signalfd. Thread-compatible.
#pragma once

#include <cstdint>
#include <deque>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "reports/holdings.h"
#include "sim/stop_controller.h"

namespace faultline::cli {

struct StopPlan {
  std::optional<uint64_t> stop_at;  // stop once the trace line with this seq is written
  std::string why;                  // what asked for it: "--stop-at 45", "--until violation ..."
  bool step = false;                // then stop at every decision (from the start without stop_at)
  std::string report_path;          // JSON stop reports; "-" stdout; "" none
  std::string recorded_trace;       // the recorded trace.jsonl, to notice a divergence
};

class ReplayStops final : public StopController {
 public:
  explicit ReplayStops(StopPlan plan);
  ~ReplayStops() override;
  ReplayStops(const ReplayStops&) = delete;
  ReplayStops& operator=(const ReplayStops&) = delete;

  void Observe(const nlohmann::json& line) override;
  void Between(const StopView& view) override;

  int stops() const { return stops_; }
  bool reached() const { return reached_; }
  // The first seq at which the replay wrote another line than the recording.
  std::optional<uint64_t> diverged_at() const { return diverged_at_; }

 private:
  nlohmann::json Report(const StopView& view, const std::string& why) const;
  // `full`: every process even at a --step stop (which is brief otherwise).
  std::string Text(const nlohmann::json& report, bool full = false) const;
  void Publish(const nlohmann::json& report) const;
  void Wait(const StopView& view, const nlohmann::json& report);
  // A process a debugger holds stopped, or "" when none.
  std::string HeldByDebugger(const StopView& view) const;

  StopPlan plan_;
  int signal_fd_ = -1;
  bool stepping_ = false;
  bool reached_ = false;
  int stops_ = 0;
  reports::Holdings holdings_;
  std::deque<nlohmann::json> recent_;  // the latest lines written
  std::optional<nlohmann::json> target_line_;
  std::ifstream recorded_;
  std::optional<uint64_t> diverged_at_;
  // The previous stop point: how many lines there were, who was picked and from where.
  uint64_t previous_lines_ = 0;
  nlohmann::json previous_next_;
};

}  // namespace faultline::cli
