// The command adapter (docs/external-sut.md): a faultline-owned agent process
// that drives an unmodified command-line coordinator. It speaks the control
// protocol itself (sim/protocol/faultline_agent.h) and, per operation, runs
// the SUT's shell command, reads the outcome from exit code and output, and
// records the history events the invariants read.
//
// Agent role, in a loop until the claim command says no work is left:
//   yield op.claim    -> claim      -> claim_ok (item from the "item" pattern)
//   sleep the item's work time; every lease/2:
//   yield op.progress -> progress   -> renew_ok, or renew_rejected (item lost)
//   yield op.complete -> complete   -> effect + complete_ok, or complete_rejected
// (register runs once first; release gives an item back when progress
// failed). Reaper role: every reap_interval_ms, yield op.reap -> reap.
//
// Tokens: when the claim's "token" pattern yields an integer, that is the
// grant's token (a real fencing token, checked by single_owner). Otherwise
// the adapter makes one up, increasing with the clock and unique per grant
// (now_us * 1024 + agent number), and passes the SUT's own token, if any,
// as {token}; single_owner then still judges overlapping grants.
//
// Every command runs under a timeout (command.h). A command that hangs, dies
// by a signal or cannot start is recorded as sut_command_failed; after
// kMaxFailures in a row the agent gives up (exit 4).
//
// Lockstep: the adapter yields before every operation, so the harness orders
// operations of different agents and can kill an agent between them; each
// command runs whole within one step. With "interleave": "syscalls" the
// command runs under libfaultline_interpose.so instead: the adapter sends
// {"spawned": PID} in the middle of its step, the engine schedules the
// command's processes at their file-system calls, and the adapter waits for
// a go once the command has ended. Freerun: commands of different agents
// overlap in real time.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace faultline::sut {

inline constexpr int kMaxFailures = 3;
// The wall-time bound of an interposed command: a backstop only.
inline constexpr int64_t kInterposedTimeoutMs = 3'600'000;
inline constexpr int kExitGaveUp = 4;

struct AdapterOptions {
  nlohmann::json config;  // written by ExternalSut::Prepare
  std::string role;       // "agent" | "reaper"
  std::string id;
  uint64_t seed = 0;
};

// Runs the adapter; returns the process's exit code.
int RunAdapter(const AdapterOptions& options);

}  // namespace faultline::sut
