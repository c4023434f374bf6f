// The `submit` subcommand, flags and run, shared by swarm and swarm-mutant
// (tests/mutants/), so that a mutant of the submission path runs behind the
// same command line. A binary plugs in how the coordination directory is
// opened.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

#include "base/subcommand_table.h"
#include "coordinator/control_channel.h"
#include "coordinator/store.h"
#include "coordinator/status.h"

namespace swarm {

// What a submission writes to: the store and the process's runtime (under
// the harness, its control channel: SubmitGenerated yields between steps).
struct SubmitStore {
  Runtime runtime;
  std::unique_ptr<Store> store;
};

struct SubmitCommand {
  std::string program;  // names the binary in messages: "swarm", "swarm-mutant"
  std::function<Result<SubmitStore>(const std::string& dir)> open;
};

// Adds submit's flags to `app`; the returned action submits and returns the
// exit code (exit_codes.h): 0 only when every item asked for was added.
base::Runner SetupSubmitCommand(CLI::App* app, SubmitCommand command);

}  // namespace swarm
