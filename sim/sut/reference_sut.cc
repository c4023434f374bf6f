#include "sim/sut/reference_sut.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "sim/invariant.h"
#include "sim/process_set.h"
#include "sim/skills.h"
#include "sim/sut/telemetry_env.h"

namespace faultline::sut {
namespace {

namespace stdfs = std::filesystem;

std::vector<std::string> SortedNames(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (auto it = stdfs::directory_iterator(dir, ec); !ec && it != stdfs::directory_iterator();
       it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

size_t CountEntries(const std::string& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = stdfs::directory_iterator(dir, ec); !ec && it != stdfs::directory_iterator();
       it.increment(ec)) {
    ++n;
  }
  return n;
}

}  // namespace

ReferenceSut::ReferenceSut(const ResolvedScenario& scenario, SutPaths paths)
    : s_(scenario), paths_(std::move(paths)) {}

nlohmann::json ReferenceSut::Describe() const {
  return {{"name", "reference (swarm)"}, {"observe", "protocol"}};
}

unsigned ReferenceSut::Observations() const { return observes::kReference; }

bool ReferenceSut::RunSwarm(SutHost& host, const std::vector<std::string>& args,
                            const std::string& log, std::string* error) {
  std::vector<std::string> argv = {paths_.reference_bin};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string log_path = paths_.log_dir + "/" + log;
  ExitStatus st;
  std::string why;
  if (!host.RunProgram(argv, log_path, &st, &why)) {
    *error = "cannot start " + paths_.reference_bin + ": " + why;
    return false;
  }
  if (!st.exited || st.code != 0) {
    std::ifstream in(log_path);
    std::string first;
    std::getline(in, first);
    *error = fmt::format("`swarm {}` failed ({}): {}", args.front(), st.ToString(), first);
    return false;
  }
  return true;
}

bool ReferenceSut::Prepare(SutHost& host, std::string* error) {
  const std::string config = paths_.work_dir + "/cluster-config.json";
  std::ofstream(config) << host.Settings().dump();
  std::vector<std::string> init = {"init", paths_.dir, "--config", config};
  // On a database server (docs/postgres.md) swarm reaches it through the
  // PG* variables the harness gives every program it runs.
  if (s_.store == "postgres") init.insert(init.end(), {"--store", "postgres"});
  if (!RunSwarm(host, init, "init.log", error)) return false;
  return SubmitItems(host, error);
}

bool ReferenceSut::SubmitItems(SutHost& host, std::string* error) {
  if (s_.item_skills.is_null()) {
    return RunSwarm(host, {"submit", paths_.dir, "--items", std::to_string(s_.items)},
                    "submit.log", error);
  }
  // The ids and payloads `submit --items` would give, grouped by skill.
  std::map<std::string, std::string> files;  // skill ("" = none) -> lines
  for (int i = 1; i <= s_.items; ++i) {
    const std::string id = fmt::format("w{:06}", i);
    const std::string skill = skills::ItemSkill(s_.item_skills, s_.seed, i);
    files[skill] += fmt::format("{}\tpayload of {}\n", id, id);
    if (!skill.empty()) item_skills_[skill].push_back(id);
  }
  int part = 0;
  for (const auto& [skill, lines] : files) {
    const std::string path = fmt::format("{}/items-{}.tsv", paths_.work_dir, part++);
    std::ofstream(path) << lines;
    std::vector<std::string> args = {"submit", paths_.dir, "--file", path};
    if (!skill.empty()) args.insert(args.end(), {"--skill", skill});
    if (!RunSwarm(host, args, fmt::format("submit-{}.log", part), error)) return false;
  }
  return true;
}

bool ReferenceSut::Processes(SutHost& host, std::vector<SutProcessSpec>* out,
                             std::string* error) {
  (void)error;
  if (s_.reaper) {
    out->push_back({"reaper", "reaper", {paths_.reference_bin, "reaper", paths_.dir}, {}, ""});
  }
  for (int i = 0; i < s_.agents; ++i) {
    SutProcessSpec a;
    a.id = fmt::format("a{}", i);
    a.role = "agent";
    a.argv = {paths_.reference_bin,
              "agent",
              paths_.dir,
              "--id",
              a.id,
              "--exit-when-idle",
              "--work-ms",
              fmt::format("{}:{}", s_.work_min_ms, s_.work_max_ms),
              "--seed",
              std::to_string(host.AgentSeed(a.id))};
    if (!s_.agent_skills.is_null()) {
      const std::vector<std::string> skills = skills::AgentSkills(s_.agent_skills, s_.seed, i);
      if (!skills.empty()) a.argv.insert(a.argv.end(), {"--skills", skills::Joined(skills)});
      agent_skills_[a.id] = skills;
    }
    out->push_back(std::move(a));
  }
  return true;
}

bool ReferenceSut::Submitter(SutHost& host, const std::string& id, int64_t items,
                             SutProcessSpec* out, std::string* error) {
  (void)host, (void)error;
  out->id = id;
  out->role = "submitter";
  out->argv = {paths_.reference_bin, "submit", paths_.dir, "--items", std::to_string(items)};
  return true;
}

nlohmann::json ReferenceSut::Submitted() const {
  nlohmann::json fields = nlohmann::json::object();
  if (!s_.item_skills.is_null()) fields["skills"] = item_skills_;
  // Before any process runs, so that every claim can be judged against them
  // (in freerun an agent may claim before its spawn event is stamped).
  if (!s_.agent_skills.is_null()) fields["agent_skills"] = agent_skills_;
  return fields;
}

EnvList ReferenceSut::CollectorEnv(const std::string& endpoint,
                                   const ResolvedScenario::Telemetry& telemetry) const {
  return CollectorEnvFor(endpoint, telemetry);
}

EnvList ReferenceSut::ModelEnv(const std::string& endpoint) const {
  return ModelEnvFor(endpoint);
}

nlohmann::json ReferenceSut::Snapshot() const {
  return {{"locks", CountEntries(paths_.dir + "/locks")},
          {"temps", CountEntries(paths_.dir + "/tmp")},
          {"claims", CountEntries(paths_.dir + "/claims")}};
}

// Reads every state file the way a recovering process would: after a crash
// each must still parse (no torn writes).
nlohmann::json ReferenceSut::StateCheck() const {
  // On a database server there are no state files: the server's own crash
  // recovery is what a recovering process relies on.
  if (s_.store == "postgres") {
    return {{"files", 0}, {"unparsable", nlohmann::json::array()}};
  }
  size_t files = 0;
  nlohmann::json unparsable = nlohmann::json::array();
  auto check = [&](const std::string& rel) {
    ++files;
    std::ifstream in(paths_.dir + "/" + rel);
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_object()) unparsable.push_back(rel);
  };
  check("cluster.json");
  for (const char* sub : {"items", "agents", "ledger"}) {
    for (const std::string& n : SortedNames(paths_.dir + "/" + sub)) {
      check(std::string(sub) + "/" + n);
    }
  }
  return {{"files", files}, {"unparsable", std::move(unparsable)}};
}

nlohmann::json ReferenceSut::EndState(SutHost& host) {
  if (s_.store == "postgres") return DumpedEndState(host);
  nlohmann::json items = nlohmann::json::array();
  bool completed = true;
  for (const std::string& name : SortedNames(paths_.dir + "/items")) {
    if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    std::string id = name.substr(0, name.size() - 5);
    std::ifstream in(paths_.dir + "/items/" + name);
    nlohmann::json state = nlohmann::json::parse(in, nullptr, false);
    std::string status = state.is_object() ? state.value("status", "?") : "unreadable";
    std::string reason = state.is_object() ? state.value("reason", "") : "";
    completed = completed && (status == "done" || status == "dead" || status == "quarantined");
    items.push_back({{"id", id},
                     {"status", status},
                     {"reason", reason},
                     {"effect", stdfs::exists(paths_.dir + "/ledger/" + id + ".json")}});
  }
  return {{"completed", completed},
          {"locks", CountEntries(paths_.dir + "/locks")},
          {"temps", CountEntries(paths_.dir + "/tmp")},
          {"ledger", CountEntries(paths_.dir + "/ledger")},
          {"items", std::move(items)}};
}

// `swarm dump DIR` prints the end state's fields as one JSON object, read
// from the database.
nlohmann::json ReferenceSut::DumpedEndState(SutHost& host) {
  const std::string log = "dump.log";
  std::string error;
  nlohmann::json state;
  if (RunSwarm(host, {"dump", paths_.dir}, log, &error)) {
    // The log has stderr too: the state is its last line that is an object.
    std::ifstream in(paths_.log_dir + "/" + log);
    for (std::string line; std::getline(in, line);) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object()) state = std::move(j);
    }
  }
  if (!state.is_object() || !state.contains("items") || !state["items"].is_array()) {
    // Nothing could be read: every item counts as unreadable, so that no
    // invariant passes on an end state it was not shown.
    nlohmann::json items = nlohmann::json::array();
    for (int i = 1; i <= s_.items; ++i) {
      items.push_back({{"id", fmt::format("w{:06}", i)},
                       {"status", "unreadable"},
                       {"reason", error.empty() ? "swarm dump printed no end state" : error},
                       {"effect", false}});
    }
    return {{"completed", false}, {"locks", 0}, {"temps", 0}, {"ledger", 0},
            {"items", std::move(items)}};
  }
  nlohmann::json out = nlohmann::json::object();
  for (const char* key : {"completed", "locks", "temps", "ledger", "items"}) {
    out[key] = state.value(key, nlohmann::json());
  }
  return out;
}

std::vector<SpoolLeft> ReferenceSut::SpansLeft() const { return ReadSpoolLeft(paths_.dir); }

std::string ReferenceSut::ClusterFingerprint() const {
  std::ifstream in(paths_.dir + "/cluster.json");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() ? j.value("fingerprint", "") : "";
}

bool ReferenceSut::RunTool(SutHost& host, const std::vector<std::string>& args,
                           std::string* error) {
  return RunSwarm(host, args, fmt::format("tool-{}.log", ++tool_runs_), error);
}

std::vector<SpoolLeft> ReadSpoolLeft(const std::string& coord_dir) {
  std::vector<SpoolLeft> out;
  for (const std::string& agent : SortedNames(coord_dir + "/spool")) {
    const std::string dir = coord_dir + "/spool/" + agent;
    std::set<std::string> ids;
    for (const std::string& name : SortedNames(dir)) {
      const bool segment = name.rfind("seg-", 0) == 0 && name.size() > 10 &&
                           name.compare(name.size() - 6, 6, ".jsonl") == 0;
      if (!segment && name != "live.jsonl") continue;
      std::ifstream in(dir + "/" + name);
      std::stringstream text;
      text << in.rdbuf();
      const std::string all = text.str();
      size_t pos = 0;
      for (size_t nl; (nl = all.find('\n', pos)) != std::string::npos; pos = nl + 1) {
        auto j = nlohmann::json::parse(all.substr(pos, nl - pos), nullptr, false);
        if (j.is_object() && j.contains("span_id") && j["span_id"].is_string()) {
          ids.insert(j["span_id"].get<std::string>());
        }
      }
    }
    if (!ids.empty()) out.push_back({agent, std::vector<std::string>(ids.begin(), ids.end())});
  }
  return out;
}

}  // namespace faultline::sut
