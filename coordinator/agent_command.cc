#include "coordinator/agent_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "coordinator/agent.h"
#include "coordinator/exit_codes.h"
#include "coordinator/fs_store.h"
#include "coordinator/records.h"

namespace swarm {
namespace {

// The flags' values, parsed when the action runs.
struct AgentFlags {
  std::string dir;
  AgentOptions options;
  std::string config_file;
  std::string work = "0:0";
  std::string claim_order = "spread";
  std::string skills;
  model::Settings model;
  std::string model_backoff = "100:2000";
};

void AddFlags(CLI::App* app, AgentFlags* f) {
  app->add_option("DIR", f->dir, "Coordination directory")->required();
  app->add_option("--id", f->options.id, "Agent id (default: agent-PID)");
  app->add_option("--config", f->config_file,
                  "Settings this agent runs with; a fingerprint that differs from the cluster's "
                  "is refused with exit 78 (default: the cluster's own)");
  app->add_option("--work-ms", f->work, "Simulated work per item, A:B milliseconds (default 0:0)");
  app->add_flag("--exit-when-idle", f->options.exit_when_idle,
                "Exit 0 once every item is done/dead/quarantined, or when HALT is present");
  app->add_option("--seed", f->options.seed, "Seed of the work-time draws (with the id)");
  app->add_option("--claim-order", f->claim_order,
                  "Where each search for work starts: spread (at a place of this agent's own, "
                  "the default) or fifo (the oldest open item: every fifo agent races for the "
                  "same items)")
      ->check(CLI::IsMember({"spread", "fifo"}));
  app->add_option("--skills", f->skills,
                  "Comma-separated skills (gpu,rust): items that need skill S (swarm submit) go "
                  "only to agents with S; items without a skill go to anyone (default: no skills)");
  app->add_flag("-v,--verbose", f->options.verbose, "Log every claim and completion to stderr");
  app->add_option("--model-endpoint", f->model.endpoint,
                  "Do each item's work through a model API: POST URL/v1/model, http:// only "
                  "(env SWARM_MODEL_ENDPOINT; default: no model)")
      ->envname("SWARM_MODEL_ENDPOINT");
  app->add_option("--model-timeout-ms", f->model.timeout_ms,
                  "Deadline of one model call on the agent's clock (env SWARM_MODEL_TIMEOUT_MS; "
                  "default 2000)")
      ->envname("SWARM_MODEL_TIMEOUT_MS");
  app->add_option("--model-backoff-ms", f->model_backoff,
                  "After a failed model call the item is released and the agent waits, A:B ms: "
                  "A doubling per failure in a row up to B, jittered (env SWARM_MODEL_BACKOFF_MS; "
                  "default 100:2000)")
      ->envname("SWARM_MODEL_BACKOFF_MS");
}

// Turns the flags' text into options; InvalidArgument says which flag is wrong.
Status Resolve(AgentFlags* f) {
  AgentOptions& o = f->options;
  if (o.id.empty()) o.id = fmt::format("agent-{}", getpid());
  if (!f->model.endpoint.empty()) {
    if (Status s = model::ParseBackoff(f->model_backoff, &f->model); !s.ok()) return s;
    if (Status s = model::Validate(f->model); !s.ok()) return s;
  }
  if (!IsValidId(o.id)) {
    return Status::InvalidArgument("--id \"" + o.id +
                                   "\" is not valid (1-128 of A-Z a-z 0-9 . _ -)");
  }
  auto skills = ParseSkillList(f->skills);
  if (!skills.ok()) return skills.status();
  o.skills = *skills;
  int64_t lo = 0, hi = 0;
  char sep = 0;
  if (std::sscanf(f->work.c_str(), "%ld%c%ld", &lo, &sep, &hi) != 3 || sep != ':' || lo < 0 ||
      hi < lo) {
    return Status::InvalidArgument("--work-ms \"" + f->work + "\": expected A:B with 0 <= A <= B");
  }
  o.work_min_ms = lo;
  o.work_max_ms = hi;
  if (!f->config_file.empty()) {
    auto loaded = LoadConfigFile(f->config_file);
    if (!loaded.ok()) return Status::InvalidArgument(loaded.status().message());
    o.config = *loaded;
  }
  return Status::Ok();
}

int Run(const AgentCommand& command, AgentFlags* f) {
  auto fail = [&](const Status& s) {
    std::fprintf(stderr, "%s agent: %s\n", command.program.c_str(), s.message().c_str());
    return s.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailure;
  };
  if (Status s = Resolve(f); !s.ok()) return fail(s);
  const AgentOptions& o = f->options;
  auto opened = command.open(f->dir, o.id, o.config);
  if (!opened.ok()) return fail(opened.status());
  Clock* clock = opened->runtime.clock;
  Probe* probe = opened->runtime.probe;
  // The claim order is the fs backend's walk; the PostgreSQL backend's
  // claims skip locked rows, so its agents never race for one item.
  if (auto* fs_store = dynamic_cast<FsStore*>(opened->store.get())) {
    fs_store->set_claim_order(f->claim_order == "fifo" ? FsStore::ClaimOrder::kFifo
                                                       : FsStore::ClaimOrder::kSpread);
  }
  command.install_stop_handlers();
  auto telemetry = telemetry::AgentTelemetry::FromEnvironment(f->dir, o.id, o.seed, clock, probe,
                                                              opened->exporter);
  if (!telemetry.ok()) {
    if (telemetry.status().code() == Status::Code::kInvalidArgument) {
      return fail(telemetry.status());
    }
    // No spool (disk full, I/O error): run without spans rather than not at all.
    std::fprintf(stderr, "%s agent %s: telemetry off: %s\n", command.program.c_str(),
                 o.id.c_str(), telemetry.status().ToString().c_str());
  }
  Agent agent(opened->store.get(), clock, probe, o, command.stop,
              telemetry.ok() ? telemetry->get() : nullptr);
  std::unique_ptr<model::ModelCaller> caller;
  if (!f->model.endpoint.empty()) {
    caller = opened->model_caller ? opened->model_caller(f->model, clock, probe)
                                  : std::make_unique<model::ModelCaller>(f->model, clock, probe);
    agent.set_model(caller.get());
  }
  return agent.Run();
}

}  // namespace

base::Runner SetupAgentCommand(CLI::App* app, AgentCommand command) {
  auto flags = std::make_shared<AgentFlags>();
  AddFlags(app, flags.get());
  return [command = std::move(command), flags] { return Run(command, flags.get()); };
}

}  // namespace swarm
