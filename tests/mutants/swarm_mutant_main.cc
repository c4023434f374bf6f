// swarm-mutant: the swarm command line over a coordinator with one known bug
// (tests/mutants/README.md). `agent` and `reaper` run the reference agent
// loop and janitor of the coordinator library over the mutant store named by
// $SWARM_MUTANT, and so does `submit`; every other subcommand (init, status, ...) is the
// reference one: it runs the swarm binary next to this one with the same
// arguments. `swarm-mutant --list` prints the mutants, one per line.
//
//   SWARM_MUTANT=no_fencing faultline run SCENARIO --swarm build/bin/swarm-mutant
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/subcommand_table.h"
#include "coordinator/agent_command.h"
#include "coordinator/control_channel.h"
#include "coordinator/exit_codes.h"
#include "coordinator/reaper.h"
#include "coordinator/store_open.h"
#include "coordinator/submit_command.h"
#include "coordinator/telemetry.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

using base::Runner;
using base::Subcommand;

constexpr const char* kMutantEnv = "SWARM_MUTANT";

std::atomic<bool> g_stop{false};
std::vector<std::string> g_argv;  // as given, for the subcommands run by swarm

void OnSignal(int) { g_stop.store(true); }

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a sleeping agent wakes up and stops
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &sa, nullptr);
}

int Fail(std::string_view cmd, const Status& s) {
  std::fprintf(stderr, "swarm-mutant %.*s: %s\n", static_cast<int>(cmd.size()), cmd.data(),
               s.message().c_str());
  return s.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailure;
}

std::string MutantNames() {
  std::string names;
  for (const Mutant& m : AllMutants()) names += std::string(names.empty() ? "" : ", ") + m.name;
  return names;
}

// The mutant $SWARM_MUTANT names; InvalidArgument (exit 2) listing the
// names when it is unset or unknown.
Result<const Mutant*> ChosenMutant() {
  const char* name = std::getenv(kMutantEnv);
  if (name == nullptr || *name == '\0') {
    return Status::InvalidArgument(fmt::format(
        "{} is not set; set it to the mutant to run, one of: {}", kMutantEnv, MutantNames()));
  }
  const Mutant* m = FindMutant(name);
  if (m == nullptr) {
    return Status::InvalidArgument(
        fmt::format("{}=\"{}\" names no mutant; known: {}", kMutantEnv, name, MutantNames()));
  }
  return m;
}

struct Opened {
  Runtime runtime;
  std::unique_ptr<Store> store;
  const Mutant* mutant = nullptr;
};

Result<Opened> OpenMutant(const std::string& dir, const MutantContext& context,
                          std::string_view id) {
  auto mutant = ChosenMutant();
  if (!mutant.ok()) return mutant.status();
  Opened o{MakeRuntimeFromEnvironment(context.role, id), nullptr, *mutant};
  auto store = (*mutant)->open(dir, o.runtime.clock, o.runtime.probe, context);
  if (!store.ok()) return store.status();
  o.store = std::move(*store);
  std::fprintf(stderr, "swarm-mutant %s: mutant %s: %s\n", context.role.c_str(), (*mutant)->name,
               (*mutant)->bug);
  return o;
}

// The agent subcommand of swarm (coordinator/agent_command.h), over the
// mutant store, with the mutant's exporter and model caller if it has them.
Runner SetupAgent(CLI::App* app) {
  AgentCommand command;
  command.program = "swarm-mutant";
  command.open = [](const std::string& dir, const std::string& id,
                    const std::optional<ClusterConfig>& config) -> Result<AgentStore> {
    auto opened = OpenMutant(dir, {"agent", config}, id);
    if (!opened.ok()) return opened.status();
    return AgentStore{std::move(opened->runtime), std::move(opened->store), opened->mutant->exporter,
                      opened->mutant->model_caller};
  };
  command.stop = &g_stop;
  command.install_stop_handlers = InstallStopHandlers;
  return SetupAgentCommand(app, std::move(command));
}

// The reaper subcommand, with the flags of `swarm reaper` (mutants_cli
// checks that the two agree).
Runner SetupReaper(CLI::App* app) {
  auto dir = std::make_shared<std::string>();
  auto once = std::make_shared<bool>(false);
  auto verbose = std::make_shared<bool>(false);
  app->add_option("DIR", *dir, "Coordination directory")->required();
  app->add_flag("--once", *once, "Run one pass and exit");
  app->add_flag("-v,--verbose", *verbose, "Log what each pass did");
  return [=] {
    auto opened = OpenMutant(*dir, {"reaper", std::nullopt}, "reaper");
    if (!opened.ok()) return Fail("reaper", opened.status());
    InstallStopHandlers();
    auto telemetry = telemetry::ReaperTelemetry::FromEnvironment(*dir, opened->runtime.clock,
                                                                 opened->runtime.probe);
    if (!telemetry.ok()) return Fail("reaper", telemetry.status());
    Reaper reaper(opened->store.get(), opened->runtime.clock, opened->runtime.probe, &g_stop,
                  *verbose, telemetry->get());
    return reaper.Run(*once);
  };
}

// The submit subcommand of swarm (coordinator/submit_command.h), over the
// mutant store: a mutant of the submission path (submit_from_count) runs
// behind swarm's own command line; every other mutant submits as the
// reference does, since it replaces no submission operation. Without
// $SWARM_MUTANT it is the reference submit (set-up scripts run it so).
Runner SetupSubmit(CLI::App* app) {
  SubmitCommand command;
  command.program = "swarm-mutant";
  command.open = [](const std::string& dir) -> Result<SubmitStore> {
    const char* name = std::getenv(kMutantEnv);
    if (name == nullptr || *name == '\0') {
      SubmitStore reference{MakeRuntimeFromEnvironment("submit", ""), nullptr};
      auto store = OpenStore(dir, reference.runtime.clock, reference.runtime.probe);
      if (!store.ok()) return store.status();
      reference.store = std::move(*store);
      return reference;
    }
    auto opened = OpenMutant(dir, {"submit", std::nullopt}, "");
    if (!opened.ok()) return opened.status();
    return SubmitStore{std::move(opened->runtime), std::move(opened->store)};
  };
  return SetupSubmitCommand(app, std::move(command));
}

// The swarm binary in this binary's directory.
std::string SiblingSwarm() {
  std::string self(4096, '\0');
  ssize_t n = readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (n <= 0) return "swarm";
  self.resize(static_cast<size_t>(n));
  return self.substr(0, self.find_last_of('/') + 1) + "swarm";
}

// A subcommand the reference swarm runs: its arguments go through untouched.
Runner SetupForward(CLI::App* app) {
  app->prefix_command();
  app->allow_extras();
  app->set_help_flag();
  return [] {
    const std::string swarm = SiblingSwarm();
    std::vector<char*> args;
    args.push_back(const_cast<char*>(swarm.c_str()));
    for (size_t i = 1; i < g_argv.size(); ++i) args.push_back(g_argv[i].data());
    args.push_back(nullptr);
    execv(swarm.c_str(), args.data());
    std::fprintf(stderr, "swarm-mutant: cannot run %s (%s); build the swarm target next to "
                         "swarm-mutant\n",
                 swarm.c_str(), std::strerror(errno));
    return kExitUsage;
  };
}

const Subcommand kCommands[] = {
    {"init", "Create a coordination directory (the reference swarm init)", SetupForward},
    {"submit", "Add work items over the mutant coordinator named by $SWARM_MUTANT", SetupSubmit},
    {"agent", "Run a worker over the mutant coordinator named by $SWARM_MUTANT", SetupAgent},
    {"reaper", "Run the janitor over the mutant coordinator named by $SWARM_MUTANT", SetupReaper},
    {"status", "Show the directory (the reference swarm status)", SetupForward},
    {"dump", "Print the end state (the reference swarm dump)", SetupForward},
    {"cleanup", "One janitor pass (the reference swarm cleanup)", SetupForward},
    {"configure", "Change cluster settings (the reference swarm configure)", SetupForward},
    {"halt", "Emergency stop (the reference swarm halt)", SetupForward},
    {"resume", "Remove DIR/HALT (the reference swarm resume)", SetupForward},
};

}  // namespace
}  // namespace swarm::mutants

int main(int argc, char** argv) {
  using namespace swarm::mutants;
  if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
    for (const Mutant& m : AllMutants()) std::printf("%s\n", m.name);
    return swarm::kExitOk;
  }
  if (argc == 2 && std::strcmp(argv[1], "--list-postgres") == 0) {
    for (const Mutant& m : PostgresMutants()) std::printf("%s\n", m.name);
    return swarm::kExitOk;
  }
  g_argv.assign(argv, argv + argc);
  CLI::App app{
      "swarm-mutant: the swarm coordinator with one known bug, chosen by $SWARM_MUTANT (for\n"
      "testing the harness; never for real work). `swarm-mutant --list` names the mutants.\n\n"
      "  SWARM_MUTANT=no_fencing faultline run SCENARIO --swarm PATH/swarm-mutant"};
  return base::RunSubcommands(app, kCommands, argc, argv, "swarm-mutant", swarm::kExitUsage);
}
