// The timeline of one run as an SVG picture (DESIGN §8): one lane per agent
// (plus the reaper and the run itself), each grant a bar from its claim_ok to
// what ended it (coloured by how), the stretch a dead holder's grant still
// stood hatched, faults as marks (stalls as bands, heals dashed), deaths as
// crosses, and the events that violations cite circled in red. Self-contained:
// no scripts, no external references; every mark has a <title> tooltip.
// Deterministic: the same trace and verdict give the same bytes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "reports/trace_analysis.h"

namespace faultline::reports {

struct TimelineLabel {
  std::string run;      // "<scenario>-<seed>"
  std::string caption;  // "killed-worker · seed 1 · lockstep · VIOLATION"
};

// At most this many grants are drawn; the rest are counted in a note.
inline constexpr size_t kMaxTimelineBars = 4000;

std::string RenderTimelineSvg(const TraceFacts& facts, const TimelineLabel& label);

// The caption of a run from its verdict.json.
TimelineLabel LabelOf(const nlohmann::json& verdict, const std::string& run_id);

// Reads RUN_DIR/verdict.json and RUN_DIR/trace.jsonl and writes
// RUN_DIR/timeline.svg. False (and `error` says why) when they cannot be read
// or the picture cannot be written.
bool WriteTimelineSvg(const std::string& run_dir, std::string* error);

}  // namespace faultline::reports
