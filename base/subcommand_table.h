// The shape both command-line tools (swarm, faultline) share, after ninja:
// one table of subcommands, each adding its flags to a CLI11 sub-app and
// returning the action to run. Header-only; the tools link CLI11 themselves.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace base {

using Runner = std::function<int()>;

struct Subcommand {
  const char* name;
  const char* help;
  std::function<Runner(CLI::App*)> setup;  // adds flags, returns the action
};

// Registers `table` on `app`, parses argv and runs the chosen subcommand;
// `before_run` (if any) runs just before it. Exit 0 for --help; an unknown
// command word or bad flags print one message and return `usage_code`.
template <size_t N>
int RunSubcommands(CLI::App& app, const Subcommand (&table)[N], int argc, char** argv,
                   std::string_view tool, int usage_code,
                   const std::function<void()>& before_run = {}) {
  app.require_subcommand(1);
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const Subcommand& c : table) {
      known = known || std::string_view(argv[1]) == c.name;
      names += std::string(names.empty() ? "" : ", ") + c.name;
    }
    if (!known) {
      std::fprintf(stderr, "%.*s: unknown command \"%s\" (commands: %s; see %.*s --help)\n",
                   static_cast<int>(tool.size()), tool.data(), argv[1], names.c_str(),
                   static_cast<int>(tool.size()), tool.data());
      return usage_code;
    }
  }
  std::vector<std::pair<CLI::App*, Runner>> runners;
  for (const Subcommand& c : table) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    runners.emplace_back(sub, c.setup(sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : usage_code;
  }
  if (before_run) before_run();
  for (auto& [sub, run] : runners) {
    if (sub->parsed()) return run();
  }
  return usage_code;
}

}  // namespace base
