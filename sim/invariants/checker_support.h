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
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/invariant.h"
#include "sim/settings.h"

namespace faultline::checker {

// j[key] when it is an integer, else 0 (missing, null, another type, or j not
// an object).
int64_t IntField(const nlohmann::json& j, const char* key);

// The scenario's SLO bound `field` (a "slo" setting of sim/settings.h, e.g.
// &ScenarioSettings::slo_max_rss_growth_kb) from run_start's "slo" object,
// else the table's default (no slo block, or an older trace without the key).
int64_t SloBound(const TraceEvent& run_start, int64_t ScenarioSettings::*field);

// The table's default of the SLO bound `field`: what a checker holds a run to
// before (or without) a run_start.
int64_t SloDefault(int64_t ScenarioSettings::*field);

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

// Each process's clock skew as the clock_skew fault recorded it: a "fault"
// event {kind: clock_skew, agent, offset_us, drift_ppm}, the drift counted
// from the process's latest "spawn". Checkers that compare clock readings of
// different processes (a lease end against another agent's now, a heartbeat
// against the reaper's now) first take each reading back to the unskewed
// clock, so "before" is judged as one clock shared by all would judge it.
// Without the fault this is the identity: the plain comparison of readings.
class ProcessClocks {
 public:
  // Call for every event.
  void Observe(const TraceEvent& event);
  // How far `proc`'s clock ran ahead of the unskewed clock at run time `t`.
  int64_t SkewAt(const std::string& proc, int64_t t) const;
  // A reading of `proc`'s clock taken at run time `t`, on the unskewed clock.
  int64_t Unskew(const std::string& proc, int64_t reading, int64_t t) const {
    return reading - SkewAt(proc, t);
  }
  // Whether `event`'s clock readings are its database server's, not its
  // process's ("clock": "server": a store that keeps leases on the server's
  // clock, docs/postgres.md): they carry no skew of the process.
  static bool OnServerClock(const TraceEvent& event);
  // A reading `event` carries from `proc`'s clock, on the unskewed clock;
  // as it is when the event says it is on the server's clock.
  int64_t Unskew(const TraceEvent& event, const std::string& proc, int64_t reading) const {
    return OnServerClock(event) ? reading : Unskew(proc, reading, event.t);
  }

 private:
  struct Skew {
    int64_t offset_us = 0;
    int64_t drift_ppm = 0;
  };
  std::unordered_map<std::string, Skew> skew_;        // by process id
  std::unordered_map<std::string, int64_t> started_;  // run time of its latest spawn
};

// Specializations (sim/skills.h) as the engine recorded them in the "submit"
// event, before any process ran: the skill each item needs ("skills":
// {skill: [item ids]}) and the skills of each agent ("agent_skills": {agent:
// [skills]}; a restart keeps them). An agent stays in the fleet until it
// dies (an "exit" by a signal or with a non-zero code) and rejoins at its
// next "spawn"; an agent that exited 0 (idle) or was
// stopped by the engine at the end still counts: it could have done the work.
// An item is unservable when the skill it needs is held by no agent of the
// fleet: nobody could ever be granted it. Without skills in the run every
// item needs none and nothing is unservable.
class SkillCoverage {
 public:
  // Call for every event.
  void Observe(const TraceEvent& event);
  bool any() const { return !item_skill_.empty(); }
  // The skill `item` needs; "" for none.
  const std::string& ItemSkill(const std::string& item) const;
  // Whether `agent` may do an item that needs `skill`.
  bool AgentHas(const std::string& agent, const std::string& skill) const;
  // The skills of `agent`: "gpu, rust", or "none".
  std::string AgentSkillsText(const std::string& agent) const;
  // The skills some agent of the fleet has now.
  std::set<std::string> FleetSkills() const;
  // Whether `item` needs a skill outside `fleet` (FleetSkills()).
  bool Unservable(const std::string& item, const std::set<std::string>& fleet) const {
    const std::string& skill = ItemSkill(item);
    return !skill.empty() && fleet.count(skill) == 0;
  }

 private:
  struct Agent {
    std::vector<std::string> skills;
    bool in_fleet = true;
  };
  void OnSubmit(const nlohmann::json& submit);
  std::unordered_map<std::string, std::string> item_skill_;
  std::unordered_map<std::string, Agent> agents_;
};

}  // namespace faultline::checker
