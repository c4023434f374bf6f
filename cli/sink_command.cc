// faultline sink: the collector and stub model as a process of its own
// (sim/sink_main.h); the engine starts one per run that needs it.
#include <memory>
#include <string>

#include "cli/cli_support.h"
#include "cli/commands.h"
#include "sim/sink_main.h"

namespace faultline::cli {

base::Runner SetupSink(CLI::App* app) {
  auto o = std::make_shared<SinkOptions>();
  auto mode = std::make_shared<std::string>("up");
  o->record = "collector-spans.jsonl";
  app->add_option("--port", o->port, "Port to listen on; 0: any free one (default: 4318)")
      ->check(CLI::Range(0, 65535));
  app->add_option("--host", o->host, "Address to listen on (default: 127.0.0.1)");
  app->add_option("--record", o->record,
                  "Append every span received for the first time here, one JSON line each "
                  "(default: collector-spans.jsonl)");
  app->add_option("--mode", *mode,
                  "up, 503 (answer 503 Service Unavailable) or blackhole "
                  "(accept, never answer); default: up")
      ->check(CLI::IsMember({"up", "503", "blackhole"}));
  return [o, mode] {
    o->mode = *ParseCollectorMode(*mode);
    o->interrupted = &g_interrupted;
    return RunSink(*o);
  };
}

}  // namespace faultline::cli
