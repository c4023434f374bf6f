// swarm: the reference coordinator's command-line tool. A table of
// subcommands; each one parses its flags and calls into the library.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include "base/install_layout.h"
#include "base/subcommand_table.h"
#include "coordinator/agent.h"
#include "coordinator/agent_command.h"
#include "coordinator/control_channel.h"
#include "coordinator/exit_codes.h"
#include "coordinator/store_open.h"
#include "coordinator/reaper.h"
#include "coordinator/status_report.h"
#include "coordinator/submit_command.h"
#include "coordinator/telemetry.h"
#include "sim/protocol/control_protocol.h"

namespace swarm {
namespace {

using base::Runner;

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a sleeping agent wakes up and stops
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &sa, nullptr);
}

int Fail(std::string_view cmd, const Status& s) {
  std::fprintf(stderr, "swarm %.*s: %s\n", static_cast<int>(cmd.size()), cmd.data(),
               s.message().c_str());
  return s.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailure;
}

// Opens DIR for a subcommand, on the backend DIR records (store_open.h),
// with the process's runtime (real, or the simulator's control channel).
struct Opened {
  Runtime runtime;
  std::unique_ptr<Store> store;
};
Result<Opened> OpenDir(const std::string& dir, std::string_view role, std::string_view id) {
  Opened o{MakeRuntimeFromEnvironment(role, id), nullptr};
  auto store = OpenStore(dir, o.runtime.clock, o.runtime.probe);
  if (!store.ok()) return store.status();
  o.store = std::move(*store);
  return o;
}

// The agent and the reaper are long-running: one started while its database
// server cannot be reached (the pool is full, "too many clients"; the server
// is down or restarting) waits for it instead of exiting, as it would wait
// once running: bounded exponential backoff with jitter (100 ms doubling to
// 2 s, a draw from [d/2, d] seeded by its id, so a lockstep run stays a
// function of its seed), one log line and one storage_error event per
// distinct problem, until it gets in or is told to stop. Only on the
// PostgreSQL backend and only for a lost connection (IOError): a shared
// directory that cannot be opened, or a missing schema, does not come back
// by waiting. The other subcommands fail at once.
Result<Opened> OpenDaemonDir(const std::string& dir, std::string_view role, std::string_view id) {
  Opened o{MakeRuntimeFromEnvironment(role, id), nullptr};
  const std::string who = id.empty() ? std::string(role) : std::string(id);
  uint64_t rng = 0x9e3779b97f4a7c15ULL;
  for (char c : who) rng = (rng ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  int64_t ceiling_us = 100'000;
  std::string last_error;
  while (true) {
    auto store = OpenStore(dir, o.runtime.clock, o.runtime.probe);
    if (store.ok()) {
      o.store = std::move(*store);
      return o;
    }
    auto backend = ReadBackend(dir);
    if (store.status().code() != Status::Code::kIOError || !backend.ok() ||
        backend->kind != Backend::Kind::kPostgres) {
      return store.status();
    }
    InstallStopHandlers();
    if (g_stop.load()) {
      return Status::IOError("stopped before the database could be reached: " +
                             store.status().message());
    }
    // Without the address, which names a port that differs run to run.
    const std::string& message = store.status().message();
    const size_t colon = message.rfind(": ");
    const std::string error = colon == std::string::npos ? message : message.substr(colon + 2);
    if (error != last_error) {
      std::fprintf(stderr, "swarm %s %s: %s; waiting for the database\n",
                   std::string(role).c_str(), who.c_str(), message.c_str());
      o.runtime.probe->Reached(faultline::protocol::probe::kStorageError);
      o.runtime.probe->Emit({{"type", "storage_error"},
                             {"agent", who},
                             {"code", store.status().CodeName()},
                             {"error", error}});
      last_error = error;
    }
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    const int64_t half = ceiling_us / 2;
    o.runtime.clock->SleepMicros(half + static_cast<int64_t>((rng >> 33) % (half + 1)));
    ceiling_us = std::min<int64_t>(ceiling_us * 2, 2'000'000);
  }
}


Runner SetupInit(CLI::App* app) {
  auto dir = std::make_shared<std::string>();
  auto config_file = std::make_shared<std::string>();
  auto store = std::make_shared<std::string>("fs");
  auto schema = std::make_shared<std::string>();
  app->add_option("DIR", *dir, "Directory to create (must be new or empty)")->required();
  app->add_option("--store", *store,
                  "Where the state lives: fs (in DIR, the default), postgres (a PostgreSQL "
                  "server named by the PG* variables of each process: PGHOST, PGPORT, PGUSER, "
                  "PGDATABASE, ...) or a postgres:// URL; DIR records it for every later command");
  app->add_option("--schema", *schema,
                  "With --store postgres: the schema holding the tables (default swarm), so that "
                  "several clusters can share one database");
  app->add_option("--config", *config_file,
                  "JSON file with settings: lease_ms, heartbeat_ms, reap_interval_ms, "
                  "agent_timeout_ms, max_attempts, clock_skew_ms, schema_version (defaults: "
                  "3000, 500, 1000, 3000, 5, 0, 1)");
  return [=] {
    ClusterConfig config;
    if (!config_file->empty()) {
      auto loaded = LoadConfigFile(*config_file);
      if (!loaded.ok()) return Fail("init", Status::InvalidArgument(loaded.status().message()));
      config = *loaded;
    }
    auto backend = ParseBackend(*store, *schema);
    if (!backend.ok()) return Fail("init", backend.status());
    if (Status s = InitStore(*dir, *backend, config); !s.ok()) return Fail("init", s);
    std::printf("initialised %s (fingerprint %s)\n", dir->c_str(), Fingerprint(config).c_str());
    return kExitOk;
  };
}

// The submit subcommand (coordinator/submit_command.h), over the reference store.
Runner SetupSubmit(CLI::App* app) {
  SubmitCommand command;
  command.program = "swarm";
  command.open = [](const std::string& dir) -> Result<SubmitStore> {
    auto opened = OpenDir(dir, "submit", "");
    if (!opened.ok()) return opened.status();
    return SubmitStore{std::move(opened->runtime), std::move(opened->store)};
  };
  return SetupSubmitCommand(app, std::move(command));
}

// The agent subcommand (coordinator/agent_command.h), over the reference store.
Runner SetupAgent(CLI::App* app) {
  AgentCommand command;
  command.program = "swarm";
  command.open = [](const std::string& dir, const std::string& id,
                    const std::optional<ClusterConfig>&) -> Result<AgentStore> {
    auto opened = OpenDaemonDir(dir, "agent", id);
    if (!opened.ok()) return opened.status();
    return AgentStore{std::move(opened->runtime), std::move(opened->store)};
  };
  command.stop = &g_stop;
  command.install_stop_handlers = InstallStopHandlers;
  return SetupAgentCommand(app, std::move(command));
}

Runner SetupReaper(CLI::App* app) {
  auto dir = std::make_shared<std::string>();
  auto once = std::make_shared<bool>(false);
  auto verbose = std::make_shared<bool>(false);
  app->add_option("DIR", *dir, "Coordination directory")->required();
  app->add_flag("--once", *once, "Run one pass and exit");
  app->add_flag("-v,--verbose", *verbose, "Log what each pass did");
  return [=] {
    auto opened = OpenDaemonDir(*dir, "reaper", "reaper");
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

Runner SetupStatus(CLI::App* app) {
  auto dir = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  app->add_option("DIR", *dir, "Coordination directory")->required();
  app->add_flag("--json", *json, "Machine-readable output");
  return [=] {
    auto opened = OpenDir(*dir, "status", "");
    if (!opened.ok()) return Fail("status", opened.status());
    auto snap = opened->store->Inspect();
    if (!snap.ok()) return Fail("status", snap.status());
    auto spools = telemetry::SpoolBacklog(*dir);
    if (!spools.ok()) return Fail("status", spools.status());
    std::string out = *json ? StatusJson(*snap, *spools).dump(2) + "\n"
                            : StatusText(*dir, *snap, *spools);
    std::fputs(out.c_str(), stdout);
    return kExitOk;
  };
}

Runner SetupCleanup(CLI::App* app) {
  auto dir = std::make_shared<std::string>();
  auto dry = std::make_shared<bool>(false);
  app->add_option("DIR", *dir, "Coordination directory")->required();
  app->add_flag("--dry-run", *dry, "Only report what would be cleaned up");
  return [=] {
    auto opened = OpenDir(*dir, "cleanup", "");
    if (!opened.ok()) return Fail("cleanup", opened.status());
    auto report = opened->store->Reap({.dry_run = *dry, .remove_dead_agents = true});
    if (!report.ok()) return Fail("cleanup", report.status());
    std::fputs(CleanupText(*report).c_str(), stdout);
    return kExitOk;
  };
}

Runner SetupConfigure(CLI::App* app) {
  auto dir = std::make_shared<std::string>();
  auto sets = std::make_shared<std::vector<std::string>>();
  app->add_option("DIR", *dir, "Coordination directory")->required();
  app->add_option("--set", *sets,
                  "KEY=VALUE to change (lease_ms, heartbeat_ms, reap_interval_ms, "
                  "agent_timeout_ms, max_attempts, clock_skew_ms, schema_version); repeatable")
      ->required();
  return [=] {
    auto opened = OpenDir(*dir, "configure", "");
    if (!opened.ok()) return Fail("configure", opened.status());
    auto current = opened->store->LoadCluster();
    if (!current.ok()) return Fail("configure", current.status());
    nlohmann::json j = ToJson(*current);
    for (const std::string& kv : *sets) {
      size_t eq = kv.find('=');
      char* end = nullptr;
      long long v = eq == std::string::npos ? 0 : std::strtoll(kv.c_str() + eq + 1, &end, 10);
      if (eq == std::string::npos || end == nullptr || *end != '\0' || eq + 1 == kv.size()) {
        return Fail("configure", Status::InvalidArgument("--set \"" + kv +
                                                         "\": expected KEY=INTEGER"));
      }
      j[kv.substr(0, eq)] = v;
    }
    auto config = ConfigFromJson(j, "--set");
    if (!config.ok()) return Fail("configure", Status::InvalidArgument(config.status().message()));
    if (Status s = opened->store->Reconfigure(*config); !s.ok()) return Fail("configure", s);
    std::printf("reconfigured %s (fingerprint %s): running agents stop at their next heartbeat "
                "(drift); agents started now adopt the new settings\n",
                dir->c_str(), Fingerprint(*config).c_str());
    return kExitOk;
  };
}

Runner SetupDump(CLI::App* app) {
  auto dir = std::make_shared<std::string>();
  app->add_option("DIR", *dir, "Coordination directory")->required();
  return [=] {
    auto opened = OpenDir(*dir, "dump", "");
    if (!opened.ok()) return Fail("dump", opened.status());
    auto state = opened->store->EndState();
    if (!state.ok()) return Fail("dump", state.status());
    std::printf("%s\n", state->dump().c_str());
    return kExitOk;
  };
}

Runner SetupHalt(CLI::App* app, bool halt) {
  auto dir = std::make_shared<std::string>();
  app->add_option("DIR", *dir, "Coordination directory")->required();
  return [=] {
    const char* cmd = halt ? "halt" : "resume";
    auto opened = OpenDir(*dir, cmd, "");
    if (!opened.ok()) return Fail(cmd, opened.status());
    if (Status s = opened->store->SetHalted(halt); !s.ok()) return Fail(cmd, s);
    std::printf(halt ? "HALT set: no agent claims new work until `swarm resume %s`\n"
                     : "HALT removed: agents claim again (%s)\n",
                dir->c_str());
    return kExitOk;
  };
}

const base::Subcommand kCommands[] = {
    {"init", "Create a coordination directory with cluster settings", SetupInit},
    {"submit", "Add work items (pending)", SetupSubmit},
    {"agent", "Run a worker: claim, work, renew, complete, heartbeat", SetupAgent},
    {"reaper", "Run the janitor: expire leases, declare dead agents, remove stale locks",
     SetupReaper},
    {"status", "Show items, live claims, locks, ledger and agents", SetupStatus},
    {"dump", "Print the end state as one JSON object: completed, locks, temps, ledger, items",
     SetupDump},
    {"cleanup", "One janitor pass plus removal of dead agents' records", SetupCleanup},
    {"configure", "Change cluster settings (running agents see drift and stop)", SetupConfigure},
    {"halt", "Emergency stop: create DIR/HALT so that nobody claims",
     [](CLI::App* a) { return SetupHalt(a, true); }},
    {"resume", "Remove DIR/HALT", [](CLI::App* a) { return SetupHalt(a, false); }},
};

}  // namespace
}  // namespace swarm

int main(int argc, char** argv) {
  using namespace swarm;
  CLI::App app{
      "swarm: a work-coordination service over a shared directory or a PostgreSQL server.\n"
      "Agents claim items with fenced, leased grants; a reaper returns expired claims; every\n"
      "change is atomic and durable.\n\n"
      "  swarm init DIR && swarm submit DIR --items 100\n"
      "  swarm init DIR --store postgres://HOST/DB   (or --store postgres and PG* variables)\n"
      "  swarm reaper DIR &  swarm agent DIR --work-ms 10:50 --exit-when-idle\n"
      "  swarm status DIR\n\n"
      "Exit codes: 0 ok, 1 operation failed, 2 bad usage or directory, 78 config mismatch."};
  app.set_version_flag("--version", base::VersionString("swarm"));
  return base::RunSubcommands(app, kCommands, argc, argv, "swarm", kExitUsage);
}
