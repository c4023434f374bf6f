#include "sim/sut/sut_spec.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <regex>

#include "sim/settings.h"
#include "sim/sut/template.h"

namespace faultline::sut {
namespace {

using nlohmann::json;
using Check = std::optional<SutProblem>;

constexpr int64_t kMaxTimeoutMs = 3'600'000;

Check Fail(std::string pointer, std::string message) {
  return SutProblem{std::move(pointer), std::move(message)};
}

std::string Show(const json& j) {
  std::string s = j.dump();
  return s.size() <= 60 ? s : s.substr(0, 57) + "...";
}

// The placeholders every command has: the run's, then every coordinator
// setting of the table (sim/settings.h), then the harness's clock.
std::vector<std::string> BasePlaceholders() {
  std::vector<std::string> v = {"dir", "seed", "items"};
  for (const SettingSpec& spec : SettingTable()) {
    if (spec.group == SettingGroup::kCoordinator) v.emplace_back(spec.name);
  }
  v.insert(v.end(), {"now_ms", "now_us"});
  return v;
}

std::vector<std::string> With(std::initializer_list<const char*> more) {
  std::vector<std::string> v = BasePlaceholders();
  for (const char* m : more) v.emplace_back(m);
  return v;
}

Check UnknownKey(const json& object, const std::vector<std::string>& known,
                 const std::string& pointer) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Fail(pointer + "/" + key,
                  fmt::format("unknown key \"{}\"; known keys: {}", key, fmt::join(known, ", ")));
    }
  }
  return std::nullopt;
}

Check CheckCommandAt(const json& command, std::string_view context, const std::string& pointer) {
  std::string where;
  std::string problem = CheckCommand(command, PlaceholdersFor(context), &where);
  if (problem.empty()) return std::nullopt;
  if (problem.starts_with("expected")) problem = fmt::format("found {}, {}", Show(command), problem);
  return Fail(pointer + where, problem);
}

Check CheckTimeout(const json& v, const std::string& pointer) {
  if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > kMaxTimeoutMs) {
    return Fail(pointer, fmt::format("found {}, expected an integer from 1 to {} (milliseconds)",
                                     Show(v), kMaxTimeoutMs));
  }
  return std::nullopt;
}

// A regex; `groups`: it must capture at least one group.
Check CheckRegex(const json& v, const std::string& pointer, bool groups) {
  if (!v.is_string() || v.get_ref<const std::string&>().empty()) {
    return Fail(pointer, fmt::format("found {}, expected a regular expression (ECMAScript "
                                     "syntax, as a non-empty string)",
                                     Show(v)));
  }
  try {
    std::regex re(v.get<std::string>());
    if (groups && re.mark_count() < 1) {
      return Fail(pointer, fmt::format("{} has no group: put the part to extract in "
                                       "parentheses, e.g. \"^claimed (\\\\S+)\"",
                                       Show(v)));
    }
  } catch (const std::regex_error& e) {
    return Fail(pointer, fmt::format("{} is not a valid regular expression: {}", Show(v), e.what()));
  }
  return std::nullopt;
}

// An exit code or a list of them.
Check CheckExitCodes(const json& v, const std::string& pointer) {
  auto code_ok = [](const json& c) {
    return c.is_number_integer() && c.get<int64_t>() >= 0 && c.get<int64_t>() <= 255;
  };
  if (code_ok(v)) return std::nullopt;
  if (v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), code_ok)) return std::nullopt;
  return Fail(pointer, fmt::format("found {}, expected an exit code (0 to 255) or a non-empty "
                                   "list of them",
                                   Show(v)));
}

std::vector<int> ExitCodes(const json& v) {
  if (v.is_number_integer()) return {v.get<int>()};
  return v.get<std::vector<int>>();
}

Check CheckOperation(const json& op, const std::string& name, const std::string& pointer,
                     int64_t default_timeout, bool lockstep, int64_t step_timeout_ms) {
  const std::string context = name == "reap" ? "reap" : name;
  if (!op.is_object()) return CheckCommandAt(op, context, pointer);
  std::vector<std::string> known = {"run", "ok_exit", "ok_match", "timeout_ms"};
  if (name == "claim") {
    known.insert(known.end(), {"item", "token", "empty_exit", "empty_match", "conflict_match"});
  }
  if (Check p = UnknownKey(op, known, pointer)) return p;
  if (!op.contains("run")) {
    return Fail(pointer, fmt::format("missing \"run\": the command of the {} operation", name));
  }
  if (Check p = CheckCommandAt(op["run"], context, pointer + "/run")) return p;
  if (op.contains("ok_exit")) {
    if (Check p = CheckExitCodes(op["ok_exit"], pointer + "/ok_exit")) return p;
  }
  if (op.contains("empty_exit")) {
    if (Check p = CheckExitCodes(op["empty_exit"], pointer + "/empty_exit")) return p;
  }
  for (const char* key : {"ok_match", "empty_match", "conflict_match", "token"}) {
    if (op.contains(key)) {
      if (Check p = CheckRegex(op[key], pointer + "/" + key, std::string(key) == "token")) return p;
    }
  }
  if (op.contains("item")) {
    if (Check p = CheckRegex(op["item"], pointer + "/item", true)) return p;
  }
  if (op.contains("timeout_ms")) {
    if (Check p = CheckTimeout(op["timeout_ms"], pointer + "/timeout_ms")) return p;
  }
  // An operation without a timeout of its own is covered by the block's check.
  const int64_t timeout = op.value("timeout_ms", default_timeout);
  if (lockstep && op.contains("timeout_ms") && timeout >= step_timeout_ms) {
    return Fail(pointer + "/timeout_ms",
                fmt::format("the {} command's timeout {} ms must be below limits.step_timeout_ms "
                            "{} in lockstep, so that a hung command is reported as the SUT's "
                            "(impossible combination)",
                            name, timeout, step_timeout_ms));
  }
  return std::nullopt;
}

Check CheckAdapter(const json& adapter, int64_t default_timeout, bool lockstep,
                   int64_t step_timeout_ms) {
  const std::string pointer = "/adapter";
  if (!adapter.is_object()) {
    return Fail(pointer, fmt::format("found {}, expected an object of operations (\"claim\", "
                                     "\"complete\", ...)",
                                     Show(adapter)));
  }
  const std::vector<std::string> ops = {"register", "claim", "progress", "complete", "release",
                                        "reap"};
  std::vector<std::string> known = ops;
  known.push_back("idle_ms");
  if (Check p = UnknownKey(adapter, known, pointer)) return p;
  for (const char* required : {"claim", "complete"}) {
    if (!adapter.contains(required)) {
      return Fail(pointer, fmt::format("missing \"{}\": the adapter needs the command that {}",
                                       required,
                                       std::string(required) == "claim"
                                           ? "claims an item for {agent}"
                                           : "completes {item} for {agent}"));
    }
  }
  for (const std::string& name : ops) {
    if (!adapter.contains(name)) continue;
    const json& op = adapter[name];
    if (Check p = CheckOperation(op, name, pointer + "/" + name, default_timeout, lockstep,
                                 step_timeout_ms)) {
      return p;
    }
  }
  const json& claim = adapter["claim"];
  if (!claim.is_object() || !claim.contains("item")) {
    return Fail(pointer + "/claim",
                "missing \"item\": a regular expression whose first group is the item the claim "
                "command granted, e.g. {\"run\": [...], \"item\": \"^claimed (\\\\S+)\"}");
  }
  if (adapter.contains("idle_ms")) {
    const json& v = adapter["idle_ms"];
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 60'000) {
      return Fail(pointer + "/idle_ms",
                  fmt::format("found {}, expected an integer from 1 to 60000", Show(v)));
    }
  }
  return std::nullopt;
}

Check CheckGlobs(const json& v, const std::string& pointer) {
  if (!v.is_array()) {
    return Fail(pointer, fmt::format("found {}, expected an array of file patterns relative to "
                                     "the coordination directory, e.g. [\"locks/*.lock\"]",
                                     Show(v)));
  }
  for (size_t i = 0; i < v.size(); ++i) {
    const json& g = v[i];
    if (!g.is_string() || g.get_ref<const std::string&>().empty() ||
        g.get_ref<const std::string&>()[0] == '/') {
      return Fail(fmt::format("{}/{}", pointer, i),
                  fmt::format("found {}, expected a file pattern relative to the coordination "
                              "directory (no leading '/')",
                              Show(g)));
    }
  }
  return std::nullopt;
}

Check CheckState(const json& state) {
  const std::string pointer = "/state";
  if (!state.is_object()) {
    return Fail(pointer, fmt::format("found {}, expected an object with \"dump\", \"locks\", ...",
                                     Show(state)));
  }
  if (Check p = UnknownKey(state, {"dump", "locks", "temps", "claims", "json", "status_map"},
                           pointer)) {
    return p;
  }
  if (state.contains("dump")) {
    if (Check p = CheckCommandAt(state["dump"], "dump", pointer + "/dump")) return p;
  }
  for (const char* key : {"locks", "temps", "claims", "json"}) {
    if (state.contains(key)) {
      if (Check p = CheckGlobs(state[key], pointer + "/" + key)) return p;
    }
  }
  if (state.contains("status_map")) {
    const json& map = state["status_map"];
    if (!map.is_object()) {
      return Fail(pointer + "/status_map",
                  fmt::format("found {}, expected an object from the SUT's statuses to "
                              "faultline's, e.g. {{\"completed\": \"done\"}}",
                              Show(map)));
    }
    for (const auto& [key, value] : map.items()) {
      const bool known =
          value.is_string() && std::any_of(std::begin(kItemStatuses), std::end(kItemStatuses),
                                           [&](const char* s) { return value == s; });
      if (!known) {
        return Fail(pointer + "/status_map/" + key,
                    fmt::format("found {}, expected one of {}", Show(value),
                                fmt::join(kItemStatuses, ", ")));
      }
    }
  }
  return std::nullopt;
}

Check CheckEnv(const json& env) {
  if (!env.is_object()) {
    return Fail("/env", fmt::format("found {}, expected an object of environment variables, "
                                    "e.g. {{\"QUEUE_NOW_MS\": \"{{now_ms}}\"}}",
                                    Show(env)));
  }
  for (const auto& [key, value] : env.items()) {
    const bool name_ok = !key.empty() && key.find('=') == std::string::npos &&
                         key != "FAULTLINE_CTL_FD";
    if (!name_ok) {
      return Fail("/env/" + key, fmt::format("\"{}\" cannot be set: expected a variable name "
                                             "without '=' (FAULTLINE_CTL_FD is the harness's)",
                                             key));
    }
    if (!value.is_string()) {
      return Fail("/env/" + key, fmt::format("found {}, expected a string", Show(value)));
    }
    std::string problem = CheckPlaceholders(value.get<std::string>(), PlaceholdersFor("env"));
    if (!problem.empty()) return Fail("/env/" + key, problem);
  }
  return std::nullopt;
}

bool Uses(const json& command, const std::string& name) {
  auto in = [&](const json& s) {
    if (!s.is_string()) return false;
    auto names = Placeholders(s.get<std::string>());
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  if (command.is_string()) return in(command);
  return command.is_array() && std::any_of(command.begin(), command.end(), in);
}

Operation ParseOperation(const json& op) {
  Operation o;
  if (!op.is_object()) {
    o.run = op;
    return o;
  }
  o.run = op["run"];
  if (op.contains("ok_exit")) o.ok_exit = ExitCodes(op["ok_exit"]);
  if (op.contains("empty_exit")) o.empty_exit = ExitCodes(op["empty_exit"]);
  o.ok_match = op.value("ok_match", "");
  o.empty_match = op.value("empty_match", "");
  o.conflict_match = op.value("conflict_match", "");
  o.item = op.value("item", "");
  o.token = op.value("token", "");
  o.timeout_ms = op.value("timeout_ms", int64_t{0});
  return o;
}

}  // namespace

std::vector<std::string> PlaceholdersFor(std::string_view context) {
  if (context == "submit") return With({"item"});
  if (context == "agent") return With({"agent", "work_min_ms", "work_max_ms"});
  if (context == "register" || context == "claim" || context == "reap") {
    return With({"agent", "pid"});
  }
  if (context == "progress" || context == "complete" || context == "release") {
    return With({"agent", "pid", "item", "token"});
  }
  if (context == "env") {
    return With({"agent", "pid", "item", "token", "work_min_ms", "work_max_ms"});
  }
  return BasePlaceholders();  // init, reaper, dump
}

std::optional<SutProblem> CheckSut(const json& block, bool lockstep, int64_t step_timeout_ms) {
  if (!block.is_object()) {
    return Fail("", fmt::format("found {}, expected an object: the system under test (see "
                                "docs/external-sut.md)",
                                Show(block)));
  }
  if (Check p = UnknownKey(block, {"name", "observe", "interleave", "cwd", "env", "timeout_ms", "init", "submit",
                                   "agent", "reaper", "state", "adapter"},
                           "")) {
    return p;
  }
  if (!block.contains("observe")) {
    return Fail("", "missing \"observe\": \"protocol\" (the agent command speaks the control "
                    "protocol) or \"adapter\" (faultline drives per-operation commands)");
  }
  const json& observe = block["observe"];
  if (observe != "protocol" && observe != "adapter") {
    return Fail("/observe",
                fmt::format("found {}, expected \"protocol\" or \"adapter\"", Show(observe)));
  }
  const bool adapter = observe == "adapter";
  if (block.contains("interleave")) {
    const json& interleave = block["interleave"];
    if (interleave != "commands" && interleave != "syscalls") {
      return Fail("/interleave", fmt::format("found {}, expected \"commands\" (each command runs "
                                             "whole within one lockstep step) or \"syscalls\" "
                                             "(every file-system call of a command is a step)",
                                             Show(interleave)));
    }
    if (interleave == "syscalls" && !adapter) {
      return Fail("/interleave", "\"syscalls\" interleaves the commands of the command adapter; "
                                 "it needs \"observe\": \"adapter\"");
    }
  }
  if (block.contains("name") &&
      (!block["name"].is_string() || block["name"].get_ref<const std::string&>().empty())) {
    return Fail("/name", fmt::format("found {}, expected a non-empty string", Show(block["name"])));
  }
  if (block.contains("cwd") &&
      (!block["cwd"].is_string() || block["cwd"].get_ref<const std::string&>().empty())) {
    return Fail("/cwd", fmt::format("found {}, expected a directory (a non-empty string)",
                                    Show(block["cwd"])));
  }
  if (block.contains("env")) {
    if (Check p = CheckEnv(block["env"])) return p;
  }
  int64_t timeout = 5000;
  if (block.contains("timeout_ms")) {
    if (Check p = CheckTimeout(block["timeout_ms"], "/timeout_ms")) return p;
    timeout = block["timeout_ms"].get<int64_t>();
  }
  if (block.contains("init")) {
    if (Check p = CheckCommandAt(block["init"], "init", "/init")) return p;
  }
  if (!block.contains("submit")) {
    return Fail("", "missing \"submit\": the command that submits the work, with {items} (all "
                    "at once) or {item} (run once per item)");
  }
  if (Check p = CheckCommandAt(block["submit"], "submit", "/submit")) return p;
  if (!Uses(block["submit"], "items") && !Uses(block["submit"], "item")) {
    return Fail("/submit", "the submit command uses neither {items} (how many items to submit "
                           "at once) nor {item} (the id of one item, run once per item)");
  }
  if (adapter) {
    if (block.contains("agent")) {
      return Fail("/agent", "\"agent\" is for observe \"protocol\"; with the adapter, faultline "
                            "runs the agents and calls your commands under \"adapter\"");
    }
    if (block.contains("reaper")) {
      return Fail("/reaper", "\"reaper\" is for observe \"protocol\"; with the adapter, give the "
                             "janitor's command as \"adapter\": {\"reap\": ...}");
    }
    if (!block.contains("adapter")) {
      return Fail("", "missing \"adapter\": the per-operation commands (\"claim\", "
                      "\"complete\", ...) for observe \"adapter\"");
    }
    if (Check p = CheckAdapter(block["adapter"], timeout, lockstep, step_timeout_ms)) return p;
  } else {
    if (block.contains("adapter")) {
      return Fail("/adapter", "\"adapter\" is for observe \"adapter\"; with \"protocol\" the "
                              "agent command speaks the control protocol itself");
    }
    if (!block.contains("agent")) {
      return Fail("", "missing \"agent\": the command of one agent process, e.g. "
                      "[\"./my-agent\", \"{dir}\", \"--id\", \"{agent}\"]");
    }
    if (Check p = CheckCommandAt(block["agent"], "agent", "/agent")) return p;
    if (block.contains("reaper")) {
      if (Check p = CheckCommandAt(block["reaper"], "reaper", "/reaper")) return p;
    }
  }
  if (block.contains("state")) {
    if (Check p = CheckState(block["state"])) return p;
  }
  if (lockstep && timeout >= step_timeout_ms) {
    return Fail(block.contains("timeout_ms") ? "/timeout_ms" : "",
                fmt::format("timeout_ms {} must be below limits.step_timeout_ms {} in lockstep, "
                            "so that a hung command is reported as the SUT's (impossible "
                            "combination)",
                            timeout, step_timeout_ms));
  }
  return std::nullopt;
}

SutSpec ParseSut(const json& block) {
  SutSpec s;
  s.name = Label(block);
  s.observe = block["observe"] == "protocol" ? Observe::kProtocol : Observe::kAdapter;
  s.interleave = block.value("interleave", "commands") == "syscalls" ? Interleave::kSyscalls
                                                                      : Interleave::kCommands;
  s.cwd = block.value("cwd", "");
  if (block.contains("env")) {
    for (const auto& [key, value] : block["env"].items()) s.env.emplace_back(key, value);
  }
  s.timeout_ms = block.value("timeout_ms", int64_t{5000});
  for (auto [key, slot] : {std::pair{"init", &s.init}, std::pair{"submit", &s.submit},
                           std::pair{"agent", &s.agent}, std::pair{"reaper", &s.reaper}}) {
    if (block.contains(key)) *slot = block[key];
  }
  if (block.contains("state")) {
    const json& st = block["state"];
    if (st.contains("dump")) s.state.dump = st["dump"];
    for (auto [key, slot] : {std::pair{"locks", &s.state.locks}, std::pair{"temps", &s.state.temps},
                             std::pair{"claims", &s.state.claims},
                             std::pair{"json", &s.state.json_files}}) {
      if (st.contains(key)) *slot = st[key].get<std::vector<std::string>>();
    }
    if (st.contains("status_map")) {
      s.state.status_map = st["status_map"].get<std::map<std::string, std::string>>();
    }
  }
  if (block.contains("adapter")) {
    const json& a = block["adapter"];
    for (auto [key, slot] :
         {std::pair{"register", &s.adapter.register_op}, std::pair{"claim", &s.adapter.claim},
          std::pair{"progress", &s.adapter.progress}, std::pair{"complete", &s.adapter.complete},
          std::pair{"release", &s.adapter.release}, std::pair{"reap", &s.adapter.reap}}) {
      if (a.contains(key)) *slot = ParseOperation(a[key]);
    }
    s.adapter.idle_ms = a.value("idle_ms", int64_t{100});
  }
  return s;
}

void AnchorCwd(json* block, const std::string& base_dir) {
  if (!block->is_object()) return;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path base = fs::absolute(base_dir.empty() ? fs::path(".") : fs::path(base_dir), ec);
  fs::path cwd = block->contains("cwd") && (*block)["cwd"].is_string()
                     ? fs::path((*block)["cwd"].get<std::string>())
                     : fs::path();
  (*block)["cwd"] = (cwd.is_absolute() ? cwd : base / cwd).lexically_normal().string();
  std::string& text = (*block)["cwd"].get_ref<std::string&>();
  if (text.size() > 1 && text.back() == '/') text.pop_back();
}

std::string Label(const json& block) {
  if (!block.is_object()) return "external SUT";
  if (block.contains("name") && block["name"].is_string()) return block["name"].get<std::string>();
  const json* command = nullptr;
  if (block.contains("agent")) command = &block["agent"];
  else if (block.contains("adapter") && block["adapter"].is_object() &&
           block["adapter"].contains("claim")) {
    command = &block["adapter"]["claim"];
    if (command->is_object() && command->contains("run")) command = &(*command)["run"];
  }
  if (command == nullptr) return "external SUT";
  std::string first;
  if (command->is_array() && !command->empty() && (*command)[0].is_string()) {
    first = (*command)[0].get<std::string>();
    // "bash queue.sh ...": the script names it better than the shell.
    if ((first == "bash" || first == "sh" || first == "/bin/sh" || first == "/bin/bash") &&
        command->size() > 1 && (*command)[1].is_string()) {
      first = (*command)[1].get<std::string>();
    }
  } else if (command->is_string()) {
    const std::string& line = command->get_ref<const std::string&>();
    first = line.substr(0, line.find(' '));
  }
  const size_t slash = first.find_last_of('/');
  return first.empty() ? "external SUT" : first.substr(slash == std::string::npos ? 0 : slash + 1);
}

}  // namespace faultline::sut
