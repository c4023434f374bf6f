// Work arrivals ("work"/"arrivals", docs/scenario-format.md): submitter
// processes that add items while the agents run, started at drawn run times.
// They are controlled processes like the agents: in lockstep the scheduler
// interleaves their steps with everyone else's, so a race between two
// submitters is a seed's schedule, found and replayed like any other.
#include <fmt/format.h>

#include "sim/engine_internal.h"

namespace faultline::engine_detail {

bool Engine::SetupArrivals() {
  const ResolvedScenario::Arrivals& a = s_.arrivals;
  for (int k = 0; k < a.submitters; ++k) {
    SutProcessSpec spec;
    const std::string id = fmt::format("s{}", k);
    if (!sut_->Submitter(host_, id, a.items, &spec, &result_.error)) return false;
    Proc p;
    p.id = std::move(spec.id);
    p.role = "submitter";
    p.argv = std::move(spec.argv);
    p.env = std::move(spec.env);
    p.cwd = std::move(spec.cwd);
    p.arrival_items = a.items;
    // Each submitter's own stream: one more submitter moves no other's start.
    p.arrival_at = Rng(s_.seed).Split(fmt::format("arrivals/{}", k)).Between(a.at_lo_ms,
                                                                            a.at_hi_ms) *
                   1000;
    procs_.push_back(std::move(p));
  }
  return true;
}

void Engine::StartArrivals() {
  for (const Proc& p : procs_) {
    if (p.role != "submitter") continue;
    const std::string id = p.id;
    AddTimer(p.arrival_at, [this, id] { Restart(id); });
  }
}

void Engine::OnSubmitterEnd() {
  last_submission_end_ = ++lifecycle_;
  WakeIdleAgents();
}

int Engine::WakeIdleAgents() {
  if (last_submission_end_ == 0) return 0;
  int woken = 0;
  for (Proc& p : procs_) {
    // An agent that exited 0 had found nothing left to do, possibly before
    // the items of the latest submission were there. One killed or failed
    // is the faults' business (restart_after_ms), never revived here.
    if (p.role != "agent" || p.alive || !p.clean_exit || p.start_order > last_submission_end_) {
      continue;
    }
    Restart(p.id);
    ++woken;
  }
  return woken;
}

}  // namespace faultline::engine_detail
