// faultline list: what the harness knows. One table of topics; a new topic is
// one function and one row of kTopics.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "cli/commands.h"

namespace faultline::cli {
namespace {

namespace stdfs = std::filesystem;

// What a topic may need from the command line.
struct ListFlags {
  std::string what;
  std::string dir = "scenarios";  // --dir, for scenarios
};

void PrintChoices(const std::vector<std::string>& choices) {
  // One of: a, b, ... wrapped under the option's help.
  std::string line = "one of:";
  for (size_t c = 0; c < choices.size(); ++c) {
    std::string next = " " + choices[c] + (c + 1 < choices.size() ? "," : "");
    if (line.size() + next.size() > 76) {
      std::printf("    %-18s %s\n", "", line.c_str());
      line = "       ";
    }
    line += next;
  }
  std::printf("    %-18s %s\n", "", line.c_str());
}

int ListFaults(const Catalog& catalog, const ListFlags&) {
  for (const FaultKind& k : catalog.faults) {
    std::printf("%s%s\n  %s\n  stands for: %s\n", k.name.c_str(),
                k.lockstep_only ? " (lockstep only)" : "", k.summary.c_str(), k.stands_for.c_str());
    for (const OptionSpec& o : k.options) {
      std::string def =
          o.default_value.is_null() ? "required" : "default " + o.default_value.dump();
      std::printf("    %-18s %s (%s%s)\n", o.name.c_str(), o.help.c_str(), def.c_str(),
                  o.range_ok ? "; a range [lo, hi] is drawn from the seed" : "");
      if (!o.choices.empty()) PrintChoices(o.choices);
    }
  }
  return kExitPass;
}

int ListInvariants(const Catalog& catalog, const ListFlags&) {
  for (const InvariantKind& k : catalog.invariants) std::printf("%-22s %s\n", k.name, k.summary);
  return kExitPass;
}

int ListScenarios(const Catalog& catalog, const ListFlags& f) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = stdfs::directory_iterator(f.dir, ec); !ec && it != stdfs::directory_iterator();
       it.increment(ec)) {
    std::string p = it->path().string();
    if (it->path().extension() == ".json" && it->path().filename() != "fmea.json")
      files.push_back(p);
  }
  if (ec) {
    std::fprintf(stderr, "faultline list: cannot read %s: %s\n", f.dir.c_str(),
                 ec.message().c_str());
    return kExitUsage;
  }
  std::sort(files.begin(), files.end());
  int code = kExitPass;
  for (const std::string& p : files) {
    Scenario s;
    ScenarioError error;
    if (!LoadScenario(p, catalog, &s, &error)) {
      std::printf("%-40s INVALID: %s\n", p.c_str(), error.ToString().c_str());
      code = kExitUsage;
      continue;
    }
    std::string faults;
    for (const auto& fault : s.doc.value("faults", nlohmann::json::array())) {
      faults += (faults.empty() ? "" : ", ") + fault.value("kind", "?");
    }
    std::printf("%-40s %-28s %s; faults: %s\n", p.c_str(), s.name.c_str(),
                s.doc.value("mode", "lockstep").c_str(), faults.empty() ? "none" : faults.c_str());
  }
  return code;
}

struct ListTopic {
  const char* name;
  int (*print)(const Catalog& catalog, const ListFlags& flags);  // returns an exit code
};

const ListTopic kTopics[] = {
    {"faults", ListFaults},
    {"invariants", ListInvariants},
    {"scenarios", ListScenarios},
};

}  // namespace

base::Runner SetupList(CLI::App* app) {
  auto f = std::make_shared<ListFlags>();
  std::vector<std::string> names;
  std::string help;
  for (const ListTopic& t : kTopics) {
    names.emplace_back(t.name);
    help += std::string(help.empty() ? "" : " | ") + t.name;
  }
  app->add_option("WHAT", f->what, help)->required()->check(CLI::IsMember(names));
  app->add_option("--dir", f->dir, "Where to look for scenarios (default: scenarios)");
  return [f] {
    Catalog catalog = MakeCatalog();
    for (const ListTopic& t : kTopics) {
      if (f->what == t.name) return t.print(catalog, *f);
    }
    return kExitUsage;  // CLI11 admits only the topics' names
  };
}

}  // namespace faultline::cli
