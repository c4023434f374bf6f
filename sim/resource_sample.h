// One measurement of a controlled process's resources, as a line of the run
// directory's resources.jsonl (docs/determinism.md, "Resource measurements"):
//
//   {"kind": "sample", "proc": "reaper", "role": "reaper", "start": 1, "t": 2400000,
//    "sleeps": 12, "trace_lines": 3110, "rss_kb": 4212, "cpu_us": 18342}
//   {"kind": "exit", "proc": "a0", "role": "agent", "start": 1, "t": 9000000,
//    "max_rss_kb": 5120, "cpu_us": 90210, "user_us": 70100, "sys_us": 20110}
//
// "sample": taken by the engine while the process could not run (lockstep:
// parked in a sleep; freerun: on a wall-time cadence, running). rss_kb is the
// resident set (/proc/PID/statm), cpu_us the process's CPU time so far, user
// plus system, from its CPU-time clock (clock_getcpuclockid: nanosecond
// resolution, where /proc/PID/stat counts 10 ms ticks). "sleeps" counts the
// sleeps this incarnation parked in up to this one (lockstep; -1 in freerun):
// the reaper sleeps once per pass, so for it this is the number of passes done.
// "exit": the kernel's final figures from wait4() (ru_maxrss, ru_utime,
// ru_stime) once the process is reaped, whether it exited or was killed.
//
// "start" numbers the incarnations of one process (1, then 2 after a
// restart); "t" is run time as in the trace; "trace_lines" how many trace
// lines were written when the sample was taken (lockstep only).
//
// Measured values are not deterministic: they never enter trace.jsonl, and
// checkers that judge them (sim/invariant.h, ObserveResources) judge the
// machine's measurements of a run, not its trace.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace faultline {

struct ResourceSample {
  enum class Kind { kSample, kExit };
  Kind kind = Kind::kSample;
  std::string proc;
  std::string role;  // "agent" | "reaper" (or an external SUT's role)
  int start = 1;
  int64_t t = 0;
  int64_t sleeps = -1;
  int64_t trace_lines = -1;
  int64_t rss_kb = -1;      // kSample; -1: unreadable
  int64_t max_rss_kb = -1;  // kExit
  int64_t cpu_us = -1;      // both kinds; -1: unreadable
  int64_t user_us = -1, sys_us = -1;  // kExit

  nlohmann::json ToJson() const {
    nlohmann::json j = {{"kind", kind == Kind::kSample ? "sample" : "exit"},
                        {"proc", proc}, {"role", role}, {"start", start}, {"t", t},
                        {"cpu_us", cpu_us}};
    if (kind == Kind::kSample) {
      j["rss_kb"] = rss_kb;
      j["sleeps"] = sleeps;
      j["trace_lines"] = trace_lines;
    } else {
      j["max_rss_kb"] = max_rss_kb;
      j["user_us"] = user_us;
      j["sys_us"] = sys_us;
    }
    return j;
  }

  // Missing fields keep their defaults.
  static ResourceSample FromJson(const nlohmann::json& j) {
    ResourceSample s;
    if (!j.is_object()) return s;
    s.kind = j.value("kind", "sample") == "exit" ? Kind::kExit : Kind::kSample;
    s.proc = j.value("proc", "");
    s.role = j.value("role", "");
    s.start = j.value("start", 1);
    s.t = j.value("t", int64_t{0});
    s.sleeps = j.value("sleeps", int64_t{-1});
    s.trace_lines = j.value("trace_lines", int64_t{-1});
    s.rss_kb = j.value("rss_kb", int64_t{-1});
    s.max_rss_kb = j.value("max_rss_kb", int64_t{-1});
    s.cpu_us = j.value("cpu_us", int64_t{-1});
    s.user_us = j.value("user_us", int64_t{-1});
    s.sys_us = j.value("sys_us", int64_t{-1});
    return s;
  }
};

}  // namespace faultline
