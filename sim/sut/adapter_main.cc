// faultline-adapter: the command adapter's process (adapter.h). Started by
// the engine in place of an agent (or the reaper) of an external SUT whose
// scenario says "observe": "adapter"; not meant to be run by hand.
//
//   faultline-adapter --config WORK/adapter.json --role agent|reaper --id ID [--seed S]
//
// Exit codes: 0 no work left, 1 the register command refused the agent,
// 2 bad usage, 3 control channel lost, 4 gave up after repeated command
// failures (kExitGaveUp).
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "sim/sut/adapter.h"
#include "sim/sut/sut_spec.h"

namespace {

int Usage(const char* why) {
  std::fprintf(stderr,
               "faultline-adapter: %s\nusage: faultline-adapter --config FILE --role agent|reaper "
               "--id ID [--seed N]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  faultline::sut::AdapterOptions o;
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage(("missing the value of " + flag).c_str());
    const std::string value = argv[++i];
    if (flag == "--config") {
      config_path = value;
    } else if (flag == "--role") {
      o.role = value;
    } else if (flag == "--id") {
      o.id = value;
    } else if (flag == "--seed") {
      o.seed = std::strtoull(value.c_str(), nullptr, 10);
    } else {
      return Usage(("unknown flag " + flag).c_str());
    }
  }
  if (config_path.empty() || o.id.empty() || (o.role != "agent" && o.role != "reaper")) {
    return Usage("--config, --id and --role agent|reaper are required");
  }
  std::ifstream in(config_path);
  o.config = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!o.config.is_object() || !o.config.contains("sut") ||
      faultline::sut::CheckSut(o.config["sut"], false, 0)) {
    std::fprintf(stderr, "faultline-adapter: %s is not an adapter configuration\n",
                 config_path.c_str());
    return 2;
  }
  // What a command leaves behind when it exits is re-parented here, so that
  // the process-group kill after each command can reap it.
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  const int code = faultline::sut::RunAdapter(o);
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  return code;
}
