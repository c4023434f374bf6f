// The `agent` subcommand, flags and run, shared by swarm and swarm-mutant
// (tests/mutants/), so that the two command lines cannot drift apart. A
// binary plugs in how the coordination directory is opened and, optionally,
// its own span exporter and model caller.
#pragma once

#include <CLI/CLI.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/subcommand_table.h"
#include "coordinator/config.h"
#include "coordinator/control_channel.h"
#include "coordinator/store.h"
#include "coordinator/model_client.h"
#include "coordinator/status.h"
#include "coordinator/telemetry.h"

namespace swarm {

// What an agent works on: the store, the process's runtime, and the
// exporter and model caller to use (null: the reference ones).
struct AgentStore {
  Runtime runtime;
  std::unique_ptr<Store> store;
  telemetry::ExporterFactory exporter = nullptr;
  model::CallerFactory model_caller = nullptr;
};

struct AgentCommand {
  std::string program;  // names the binary in messages: "swarm", "swarm-mutant"
  // Opens DIR for agent `id`, which runs with `config` when given (--config).
  std::function<Result<AgentStore>(const std::string& dir, const std::string& id,
                                   const std::optional<ClusterConfig>& config)>
      open;
  const std::atomic<bool>* stop = nullptr;  // set by the binary's signal handlers
  std::function<void()> install_stop_handlers;
};

// Adds the agent's flags to `app`; the returned action runs the agent and
// returns its exit code (exit_codes.h).
base::Runner SetupAgentCommand(CLI::App* app, AgentCommand command);

}  // namespace swarm
