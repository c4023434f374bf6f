#include "sim/sut/external_sut.h"

#include <fmt/format.h>
#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "sim/invariant.h"
#include "sim/sut/command.h"
#include "sim/sut/telemetry_env.h"

namespace faultline::sut {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;

std::string ItemId(int n) { return fmt::format("w{:06}", n); }

bool Terminal(const std::string& status) {
  return status == "done" || status == "dead" || status == "quarantined";
}

// One entry of the dump's "items": a status string or an object.
json Normalize(const std::string& id, const json& entry,
               const std::map<std::string, std::string>& status_map, bool* counts_effects) {
  json out = {{"id", id}};
  std::string status, reason;
  if (entry.is_string()) {
    status = entry.get<std::string>();
  } else if (entry.is_object()) {
    status = entry.value("status", "");
    reason = entry.value("reason", "");
    auto effects = entry.find("effects");
    if (effects != entry.end() && effects->is_number_integer()) {
      out["effects"] = effects->get<int64_t>();
      out["effect"] = effects->get<int64_t>() > 0;
    } else {
      *counts_effects = false;
    }
  }
  if (!entry.is_object()) *counts_effects = false;
  auto mapped = status_map.find(status);
  out["status"] = mapped != status_map.end() ? mapped->second : (status.empty() ? "?" : status);
  out["reason"] = reason;
  return out;
}

}  // namespace

std::string FindProgram(const std::string& name, const std::string& cwd) {
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) {
    stdfs::path p = name[0] == '/' ? stdfs::path(name) : stdfs::path(cwd) / name;
    std::error_code ec;
    p = stdfs::absolute(p, ec).lexically_normal();
    return access(p.c_str(), X_OK) == 0 ? p.string() : "";
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t colon = dirs.find(':', start);
    if (colon == std::string::npos) colon = dirs.size();
    std::string dir = dirs.substr(start, colon - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0 && !stdfs::is_directory(candidate)) return candidate;
    start = colon + 1;
  }
  return "";
}

std::string MissingObservations(unsigned missing) {
  std::vector<std::string> why;
  if (missing & observes::kItemStates) {
    why.push_back("the SUT has no \"state\": {\"dump\": ...} command, so the final state of its "
                  "items is unknown");
  }
  if (missing & observes::kLockFiles) {
    why.push_back("the SUT names no lock files (\"state\": {\"locks\": [...]})");
  }
  if (missing & observes::kStateFiles) {
    why.push_back("the SUT names no state files that must parse (\"state\": {\"json\": [...]})");
  }
  if (missing & observes::kCoordinatorEvents) {
    why.push_back("the command adapter sees no config fingerprints, heartbeats, death "
                  "declarations or spans of the SUT");
  }
  if (missing & observes::kSutCommands) {
    why.push_back("faultline runs no commands of an external SUT in this run");
  }
  std::string out;
  for (const std::string& w : why) out += (out.empty() ? "" : "; ") + w;
  return out;
}

ExternalSut::ExternalSut(const json& block, RunSettings settings)
    : block_(block), spec_(ParseSut(block)), settings_(std::move(settings)) {}

Values ExternalSut::BaseValues(int64_t now_us) const {
  Values values = {{"dir", settings_.dir},
                   {"seed", std::to_string(settings_.seed)},
                   {"items", std::to_string(settings_.items)},
                   {"now_ms", std::to_string(now_us / 1000)},
                   {"now_us", std::to_string(now_us)}};
  for (const SettingSpec& spec : SettingTable()) {
    if (spec.group != SettingGroup::kCoordinator) continue;
    values[std::string(spec.name)] = std::to_string(settings_.settings.*spec.field);
  }
  return values;
}

std::vector<std::pair<std::string, std::string>> ExternalSut::Env(const Values& values) const {
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& [key, value] : spec_.env) env.emplace_back(key, Expand(value, values, false));
  // Commands read the harness's clock here; processes (no "now_ms") have their own.
  if (auto now = values.find("now_ms"); now != values.end()) {
    env.emplace_back("FAULTLINE_NOW_MS", now->second);
  }
  return env;
}

bool ExternalSut::RunLogged(SutHost* host, const std::string& op, const json& command, const Values& values,
                            std::string* out, std::string* error) {
  Command c;
  c.argv = ExpandCommand(command, values);
  c.env = Env(values);
  c.cwd = spec_.cwd;
  c.timeout_ms = spec_.timeout_ms;
  CommandResult r = RunCommand(c);
  const std::string log = settings_.log_dir + "/sut-" + op + ".log";
  {
    std::ofstream f(log, std::ios::app);
    f << "$";
    for (const std::string& a : c.argv) f << " " << a;
    f << "\n" << r.out << r.err << "(" << r.Describe(c.timeout_ms) << ")\n";
  }
  if (out != nullptr) *out = std::move(r.out);
  if (r.Ok()) return true;
  const std::string failure = r.end == CommandResult::End::kTimedOut ? "timeout"
                              : r.end == CommandResult::End::kSignaled ? "signal"
                              : r.end == CommandResult::End::kNotRun   ? "not_run"
                                                                       : "exit";
  // Only the dump runs once the history has begun; a failed init or submit
  // ends the run before it (a harness error naming the command).
  if (failure != "exit" && op == "dump" && host != nullptr) {
    host->Emit({{"type", "sut_command_failed"}, {"op", op}, {"failure", failure},
           {"how", r.Describe(c.timeout_ms)}, {"first_line", r.FirstLine()}});
  }
  *error = fmt::format("the SUT's {} command failed ({}): {} (output in {})", op,
                       r.Describe(c.timeout_ms), r.FirstLine(), log);
  return false;
}

bool ExternalSut::Prepare(SutHost& host, std::string* error) {
  std::error_code ec;
  stdfs::create_directories(settings_.dir, ec);
  if (ec) {
    *error = fmt::format("cannot create {}: {}", settings_.dir, ec.message());
    return false;
  }
  if (!spec_.cwd.empty() && !stdfs::is_directory(spec_.cwd, ec)) {
    *error = fmt::format("the SUT's working directory {} does not exist (\"sut\": \"cwd\")",
                         spec_.cwd);
    return false;
  }
  if (spec_.interleave == Interleave::kSyscalls) {
    if (!settings_.lockstep) {
      *error = "\"interleave\": \"syscalls\" schedules the SUT's processes one step at a time, "
               "which only a lockstep run does; use \"commands\" in freerun (\"sut\": "
               "\"interleave\")";
      return false;
    }
    if (settings_.interpose_lib.empty() || access(settings_.interpose_lib.c_str(), R_OK) != 0) {
      *error = fmt::format("\"interleave\": \"syscalls\" needs the interposition library {}; "
                           "build faultline_interpose (it belongs in lib/ next to bin/faultline) "
                           "or set FAULTLINE_INTERPOSE_LIB to its path",
                           settings_.interpose_lib.empty() ? "(none)" : settings_.interpose_lib);
      return false;
    }
  }
  Values values = BaseValues(host.SutClock());
  if (!spec_.init.is_null() && !RunLogged(&host, "init", spec_.init, values, nullptr, error)) return false;
  const json& submit = spec_.submit;
  bool per_item = false;
  for (const std::string& word : ExpandCommand(submit, {{"item", "\x01"}})) {
    per_item = per_item || word.find('\x01') != std::string::npos;
  }
  if (per_item) {
    for (int i = 1; i <= settings_.items; ++i) {
      values["item"] = ItemId(i);
      if (!RunLogged(&host, "submit", submit, values, nullptr, error)) return false;
    }
    values.erase("item");
  } else if (!RunLogged(&host, "submit", submit, values, nullptr, error)) {
    return false;
  }
  if (spec_.observe == Observe::kAdapter) {
    adapter_config_ = settings_.work_dir + "/adapter.json";
    json config = {{"sut", block_},
                   {"dir", settings_.dir},
                   {"seed", settings_.seed},
                   {"items", settings_.items},
                   {"work_ms", {settings_.work_min_ms, settings_.work_max_ms}}};
    config.update(GroupJson(settings_.settings, SettingGroup::kCoordinator));
    std::ofstream f(adapter_config_);
    f << config.dump(2) << "\n";
    if (!f) {
      *error = "cannot write the adapter's configuration " + adapter_config_;
      return false;
    }
  }
  return true;
}

bool ExternalSut::Processes(SutHost& host, std::vector<SutProcessSpec>* out,
                            std::string* error) {
  const bool adapter = spec_.observe == Observe::kAdapter;
  std::string program;
  if (adapter) {
    program = settings_.adapter_bin;
    if (program.empty() || access(program.c_str(), X_OK) != 0) {
      *error = fmt::format("the command adapter {} does not exist; build faultline-adapter (it "
                           "belongs next to faultline) or set FAULTLINE_ADAPTER to its path",
                           program.empty() ? "(none)" : program);
      return false;
    }
  }
  auto resolve = [&](std::vector<std::string> argv, std::string* fail) {
    std::string found = FindProgram(argv[0], spec_.cwd);
    if (found.empty()) {
      *fail = fmt::format("the SUT's program {} was not found (relative to {} or in PATH)",
                          argv[0], spec_.cwd);
    }
    argv[0] = found;
    return argv;
  };
  Values values = BaseValues(0);
  values.erase("now_ms");
  values.erase("now_us");
  const bool with_reaper =
      settings_.reaper && (adapter ? spec_.adapter.reap.has_value() : !spec_.reaper.is_null());
  if (with_reaper) {
    SutProcessSpec r{"reaper", "reaper", {}, Env(values), spec_.cwd};
    if (adapter) {
      r.argv = {program, "--config", adapter_config_, "--role", "reaper", "--id", "reaper"};
    } else {
      r.argv = resolve(ExpandCommand(spec_.reaper, values), error);
      if (!error->empty()) return false;
    }
    out->push_back(std::move(r));
  }
  for (int i = 0; i < settings_.agents; ++i) {
    const std::string id = fmt::format("a{}", i);
    Values v = values;
    v["agent"] = id;
    v["seed"] = std::to_string(host.AgentSeed(id));
    v["work_min_ms"] = std::to_string(settings_.work_min_ms);
    v["work_max_ms"] = std::to_string(settings_.work_max_ms);
    SutProcessSpec a{id, "agent", {}, Env(v), spec_.cwd};
    if (adapter) {
      a.argv = {program, "--config", adapter_config_, "--role", "agent", "--id", id,
                "--seed", v["seed"]};
    } else {
      a.argv = resolve(ExpandCommand(spec_.agent, v), error);
      if (!error->empty()) return false;
    }
    out->push_back(std::move(a));
  }
  return true;
}

size_t ExternalSut::CountGlobs(const std::vector<std::string>& globs) const {
  size_t n = 0;
  for (const std::string& g : globs) {
    glob_t found{};
    if (glob((settings_.dir + "/" + g).c_str(), GLOB_NOSORT, nullptr, &found) == 0) {
      n += found.gl_pathc;
    }
    globfree(&found);
  }
  return n;
}

json ExternalSut::Snapshot() const {
  return {{"locks", CountGlobs(spec_.state.locks)},
          {"temps", CountGlobs(spec_.state.temps)},
          {"claims", CountGlobs(spec_.state.claims)}};
}

json ExternalSut::StateCheck() const {
  std::vector<std::string> files;
  for (const std::string& g : spec_.state.json_files) {
    glob_t found{};
    if (glob((settings_.dir + "/" + g).c_str(), 0, nullptr, &found) == 0) {
      for (size_t i = 0; i < found.gl_pathc; ++i) files.emplace_back(found.gl_pathv[i]);
    }
    globfree(&found);
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  json unparsable = json::array();
  for (const std::string& path : files) {
    std::ifstream in(path);
    json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) unparsable.push_back(path.substr(settings_.dir.size() + 1));
  }
  return {{"files", files.size()}, {"unparsable", std::move(unparsable)}};
}

json ExternalSut::EndState(SutHost& host) {
  json end = {{"locks", CountGlobs(spec_.state.locks)}, {"temps", CountGlobs(spec_.state.temps)}};
  if (spec_.state.dump.is_null()) {
    end["completed"] = false;
    return end;
  }
  std::string out, error;
  if (!RunLogged(&host, "dump", spec_.state.dump, BaseValues(host.SutClock()), &out, &error)) {
    end["completed"] = false;
    end["state_error"] = error;
    return end;
  }
  json dump = json::parse(out, nullptr, /*allow_exceptions=*/false);
  const json* items = dump.is_object() && dump.contains("items") ? &dump["items"] : nullptr;
  if (items == nullptr || !(items->is_array() || items->is_object())) {
    end["completed"] = false;
    end["state_error"] = fmt::format(
        "the SUT's dump command did not print {{\"items\": ...}} as JSON (output in {}/sut-dump.log)",
        settings_.log_dir);
    return end;
  }
  bool counts_effects = true;
  std::vector<json> list;
  if (items->is_object()) {
    for (const auto& [id, entry] : items->items()) {
      list.push_back(Normalize(id, entry, spec_.state.status_map, &counts_effects));
    }
  } else {
    for (const json& entry : *items) {
      const std::string id = entry.is_object() ? entry.value("id", "") : "";
      list.push_back(Normalize(id, entry, spec_.state.status_map, &counts_effects));
    }
  }
  std::sort(list.begin(), list.end(),
            [](const json& a, const json& b) { return a["id"] < b["id"]; });
  bool completed = true;
  int64_t ledger = 0;
  for (const json& item : list) {
    completed = completed && Terminal(item["status"].get<std::string>());
    ledger += item.value("effect", false) ? 1 : 0;
  }
  end["items"] = list;
  end["completed"] = completed;
  if (counts_effects) end["ledger"] = ledger;
  for (const char* key : {"locks", "temps"}) {
    if (dump.contains(key) && dump[key].is_number_integer()) end[key] = dump[key];
  }
  return end;
}

unsigned Observations(const SutSpec& spec) {
  unsigned o = observes::kSutCommands;
  if (spec.observe == Observe::kProtocol) o |= observes::kCoordinatorEvents;
  if (!spec.state.dump.is_null()) o |= observes::kItemStates;
  if (!spec.state.locks.empty()) o |= observes::kLockFiles;
  if (!spec.state.json_files.empty()) o |= observes::kStateFiles;
  return o;
}

unsigned ExternalSut::Observations() const { return sut::Observations(spec_); }

EnvList ExternalSut::CollectorEnv(const std::string& endpoint,
                                  const ResolvedScenario::Telemetry& telemetry) const {
  return CollectorEnvFor(endpoint, telemetry);
}

EnvList ExternalSut::ModelEnv(const std::string& endpoint) const { return ModelEnvFor(endpoint); }

bool ExternalSut::RunTool(SutHost& host, const std::vector<std::string>& args,
                          std::string* error) {
  (void)host, (void)args;
  *error = fmt::format("the external SUT {} has no coordinator tool", spec_.name);
  return false;
}

json ExternalSut::Describe() const {
  json d = {{"name", spec_.name},
            {"observe", spec_.observe == Observe::kProtocol ? "protocol" : "adapter"}};
  if (spec_.observe == Observe::kAdapter) {
    d["interleave"] = spec_.interleave == Interleave::kSyscalls ? "syscalls" : "commands";
  }
  return d;
}

std::string ExternalSut::InterposeLibrary() const {
  return spec_.interleave == Interleave::kSyscalls ? settings_.interpose_lib : "";
}

}  // namespace faultline::sut
