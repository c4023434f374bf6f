// The faultline subcommands: each adds its flags to a CLI11 sub-app and
// returns the action to run (coordinator/subcommand_table.h). One file each,
// cli/<name>_command.cc; faultline_main.cc lists them in its table.
#pragma once

#include <CLI/CLI.hpp>

#include "coordinator/subcommand_table.h"

namespace faultline::cli {

swarm::Runner SetupRun(CLI::App* app);
swarm::Runner SetupReplay(CLI::App* app);
swarm::Runner SetupExplore(CLI::App* app);
swarm::Runner SetupDiff(CLI::App* app);
swarm::Runner SetupValidate(CLI::App* app);
swarm::Runner SetupReport(CLI::App* app);
swarm::Runner SetupList(CLI::App* app);
swarm::Runner SetupSink(CLI::App* app);

}  // namespace faultline::cli
