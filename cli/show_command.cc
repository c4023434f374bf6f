// faultline show: a run's timeline around one step, as text
// (reports/timeline_text.h); reads the run directory only.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "cli/cli_support.h"
#include "cli/commands.h"
#include "reports/timeline_text.h"

namespace faultline::cli {
namespace {

struct ShowFlags {
  std::string dir;
  std::string around;  // a seq, or "violation"
  int steps = 12;
  int after = 3;
};

int Show(const ShowFlags& f) {
  reports::AroundOptions options;
  options.turns_before = f.steps;
  options.turns_after = f.after;
  std::ifstream vin(f.dir + "/verdict.json");
  const nlohmann::json verdict = nlohmann::json::parse(vin, nullptr, false);
  if (!verdict.is_object()) {
    std::fprintf(stderr,
                 "faultline show: %s/verdict.json is missing or unreadable; pass a directory "
                 "written by faultline run\n",
                 f.dir.c_str());
    return kExitUsage;
  }
  if (f.around.empty() || f.around == "violation") {
    const std::vector<reports::ViolationAt> violations = reports::ViolationsOf(verdict);
    if (violations.empty()) {
      std::fprintf(stderr,
                   "faultline show: %s records no violation with evidence; name a step with "
                   "--around SEQ (a trace seq)\n",
                   f.dir.c_str());
      return kExitUsage;
    }
    options.seq = violations.front().seq;
    std::printf("first violation: %s at seq %llu: %s\n", violations.front().invariant.c_str(),
                static_cast<unsigned long long>(options.seq), violations.front().message.c_str());
  } else {
    char* end = nullptr;
    const unsigned long long seq = std::strtoull(f.around.c_str(), &end, 10);
    if (f.around.empty() || *end != '\0' || f.around[0] == '-') {
      std::fprintf(stderr,
                   "faultline show: --around %s is neither a trace seq (a number) nor "
                   "\"violation\"\n",
                   f.around.c_str());
      return kExitUsage;
    }
    options.seq = seq;
  }
  std::string text, error;
  if (!reports::RenderAround(f.dir, options, &text, &error)) {
    std::fprintf(stderr, "faultline show: %s\n", error.c_str());
    return kExitUsage;
  }
  std::fputs(text.c_str(), stdout);
  return kExitPass;
}

}  // namespace

base::Runner SetupShow(CLI::App* app) {
  auto f = std::make_shared<ShowFlags>();
  app->footer(
      "\nEach row is one trace line: '>' marks SEQ, then its seq, run time, a strip with a\n"
      "column per process, the process and what happened. In the strip: * wrote this line,\n"
      "F a fault landed on it, + started, X died, x exited 0 or stopped, s a fault holds it\n"
      "stalled, | holds a grant, : dead but a grant it held still stands, . alive and\n"
      "holding nothing. Lines a violation cites end\n"
      "with '<- invariant'. A turn is a run of lines from one process (what it did between\n"
      "yield points); snapshot lines are left out. After the rows: what each process holds\n"
      "at SEQ, from the history, and the violations cited.\n\n"
      "  faultline show out/mutant-no-fencing-2 --around 45     # a seq from the verdict\n"
      "  faultline show out/mutant-no-fencing-2                 # around the first violation\n"
      "  faultline show RUN_DIR --around 300 --steps 40 --after 0\n\n"
      "To stop the run itself at that step, with its processes alive: faultline replay\n"
      "RUN_DIR --stop-at SEQ (docs/debugging.md).");
  app->add_option("RUN_DIR", f->dir, "A run directory written by faultline run")->required();
  app->add_option("--around", f->around,
                  "The trace seq to look at (a violation's seqs are in verdict.json and the run's "
                  "summary), or \"violation\": the first violation's own seq, the last of its "
                  "evidence (the default)");
  app->add_option("--steps", f->steps, "Turns to show up to and including SEQ's")
      ->check(CLI::Range(1, 100000));
  app->add_option("--after", f->after, "Turns to show after SEQ's")->check(CLI::Range(0, 100000));
  return [f] { return Show(*f); };
}

}  // namespace faultline::cli
