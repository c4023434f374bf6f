// The scenario's "sut" block (docs/external-sut.md): an external system under
// test in place of the reference coordinator, how to start it, how to
// observe it, and how to read its state.
//
//   "sut": {
//     "observe": "adapter" | "protocol",
//     "interleave": "commands" | "syscalls",      // observe "adapter", lockstep
//     "cwd": "..", "env": {"QUEUE_NOW_MS": "{now_ms}"}, "timeout_ms": 5000,
//     "init": CMD, "submit": CMD,
//     "agent": CMD, "reaper": CMD,               // observe "protocol"
//     "adapter": {"claim": OP, "complete": OP, ...},   // observe "adapter"
//     "state": {"dump": CMD, "locks": [GLOB], "temps": [GLOB], "claims": [GLOB],
//               "json": [GLOB], "status_map": {"completed": "done"}}
//   }
//
// CMD is a command template (template.h). OP is a CMD, or an object with "run"
// and how to read the outcome (exit codes, output patterns).
//
// Validation names the JSON pointer of every mistake, relative to the block
// ("/adapter/claim/item"); the scenario loader prefixes "/sut". Pure
// functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace faultline::sut {

enum class Observe { kProtocol, kAdapter };

// How finely lockstep interleaves the adapter's commands: each command whole
// within one step ("commands", the default), or every process a command
// starts scheduled at each of its file-system calls on the coordination
// directory ("syscalls": libfaultline_interpose.so, docs/interposition.md).
enum class Interleave { kCommands, kSyscalls };

// One operation of the command adapter.
struct Operation {
  nlohmann::json run;                 // the command template
  std::vector<int> ok_exit = {0};     // exit codes that can mean success
  std::string ok_match;               // "" or a regex the output must match for success
  int64_t timeout_ms = 0;             // 0: the block's timeout_ms
  // claim only
  std::string item;                   // regex; its first group is the granted item
  std::string token;                  // "" or a regex; its first group is the SUT's token
  std::vector<int> empty_exit;        // exit codes meaning "no work left at all"
  std::string empty_match;            // "" or a regex meaning the same
  std::string conflict_match;         // "" or a regex meaning "lost a race"
};

struct AdapterSpec {
  std::optional<Operation> register_op, claim, progress, complete, release, reap;
  int64_t idle_ms = 100;  // sleep after a claim that got nothing
};

struct StateSpec {
  nlohmann::json dump;  // null: none
  std::vector<std::string> locks, temps, claims, json_files;  // globs relative to {dir}
  std::map<std::string, std::string> status_map;              // SUT status -> faultline's
};

struct SutSpec {
  std::string name;
  Observe observe = Observe::kAdapter;
  Interleave interleave = Interleave::kCommands;
  std::string cwd;  // absolute once anchored; "" : the harness's
  std::vector<std::pair<std::string, std::string>> env;  // value templates, by key
  int64_t timeout_ms = 5000;
  nlohmann::json init, submit, agent, reaper;  // null when absent
  StateSpec state;
  AdapterSpec adapter;
};

// Statuses of the final state the invariants understand.
inline constexpr const char* kItemStatuses[] = {"pending", "claimed", "done", "dead",
                                                "quarantined"};

struct SutProblem {
  std::string pointer;  // relative to the block
  std::string message;
};

// Checks a "sut" block. `lockstep` and `step_timeout_ms` come from the
// scenario: in lockstep every command timeout must stay below the step
// watchdog, so that a hung command is reported as the SUT's, not as ours.
std::optional<SutProblem> CheckSut(const nlohmann::json& block, bool lockstep,
                                   int64_t step_timeout_ms);

// REQUIRES: CheckSut passed.
SutSpec ParseSut(const nlohmann::json& block);

// Makes the block's "cwd" absolute: relative to `base_dir` (the directory of
// the file the block was read from); without "cwd", `base_dir` itself.
void AnchorCwd(nlohmann::json* block, const std::string& base_dir);

// A short label for messages: the block's "name", else its agent command's
// program, else "external SUT".
std::string Label(const nlohmann::json& block);

// Placeholders each template may use (template.h).
std::vector<std::string> PlaceholdersFor(std::string_view context);

}  // namespace faultline::sut
