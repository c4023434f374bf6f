#include "coordinator/submit_command.h"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <utility>
#include <vector>

#include "coordinator/exit_codes.h"
#include "coordinator/records.h"

namespace swarm {
namespace {

int Fail(const std::string& program, const Status& s) {
  std::fprintf(stderr, "%s submit: %s\n", program.c_str(), s.message().c_str());
  return s.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailure;
}

}  // namespace

base::Runner SetupSubmitCommand(CLI::App* app, SubmitCommand command) {
  auto dir = std::make_shared<std::string>();
  auto count = std::make_shared<int64_t>(0);
  auto file = std::make_shared<std::string>();
  auto prefix = std::make_shared<std::string>("w");
  auto skill = std::make_shared<std::string>();
  app->add_option("DIR", *dir, "Coordination directory")->required();
  auto* items = app->add_option("--items", *count, "Submit N generated items (PREFIX000001, ...)")
                    ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
  auto* from = app->add_option("--file", *file,
                               "Submit the items listed in FILE: one per line, 'ID' or "
                               "'ID<TAB>PAYLOAD'; blank lines and # comments are skipped");
  app->add_option("--prefix", *prefix, "Prefix of generated item ids (default: w)");
  app->add_option("--skill", *skill,
                  "The skill an agent needs to be granted these items (swarm agent --skills); "
                  "default: none, any agent may take them");
  items->excludes(from);
  return [=, command = std::move(command)] {
    const std::string& program = command.program;
    if (*count == 0 && file->empty()) {
      return Fail(program, Status::InvalidArgument("say what to submit: --items N or --file F"));
    }
    auto opened = command.open(*dir);
    if (!opened.ok()) return Fail(program, opened.status());
    if (*count > 0) {
      // Generated ids are allocated by the store, collision-free against
      // other submitters running at the same time.
      auto added = opened->store->SubmitGenerated(*prefix, *count, *skill);
      if (!added.ok()) return Fail(program, added.status());
      if (added->empty()) {
        std::printf("submitted 0 items\n");
        return kExitOk;
      }
      std::printf("submitted %zu items (%s to %s)\n", added->size(), added->front().c_str(),
                  added->back().c_str());
      return kExitOk;
    }
    std::vector<std::pair<std::string, std::string>> batch;
    {
      std::ifstream in(*file);
      if (!in) return Fail(program, Status::InvalidArgument(*file + ": cannot open"));
      std::string line;
      for (int n = 1; std::getline(in, line); ++n) {
        if (line.empty() || line[0] == '#') continue;
        size_t tab = line.find('\t');
        std::string id = line.substr(0, tab);
        if (!IsValidId(id)) {
          return Fail(program, Status::InvalidArgument(fmt::format(
                                   "{}:{}: \"{}\" is not a valid item id (1-128 of A-Z a-z 0-9 "
                                   ". _ -, not starting with . or -)",
                                   *file, n, id)));
        }
        batch.emplace_back(id, tab == std::string::npos ? "" : line.substr(tab + 1));
      }
    }
    auto added = opened->store->Submit(batch, *skill);
    if (!added.ok()) return Fail(program, added.status());
    std::printf("submitted %zu items (%zu already present)\n", *added, batch.size() - *added);
    return kExitOk;
  };
}

}  // namespace swarm
