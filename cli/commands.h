// The faultline subcommands: each adds its flags to a CLI11 sub-app and
// returns the action to run (base/subcommand_table.h). One file each,
// cli/<name>_command.cc; faultline_main.cc lists them in its table.
#pragma once

#include <CLI/CLI.hpp>

#include "base/subcommand_table.h"

namespace faultline::cli {

base::Runner SetupRun(CLI::App* app);
base::Runner SetupReplay(CLI::App* app);
base::Runner SetupShow(CLI::App* app);
base::Runner SetupExplore(CLI::App* app);
base::Runner SetupDiff(CLI::App* app);
base::Runner SetupValidate(CLI::App* app);
base::Runner SetupReport(CLI::App* app);
base::Runner SetupList(CLI::App* app);
base::Runner SetupSink(CLI::App* app);

}  // namespace faultline::cli
