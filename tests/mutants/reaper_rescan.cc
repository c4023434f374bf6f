// reaper_rescan: the health monitor keeps every agent record it has read, in
// a history it never trims, and re-checks the whole history at every pass.
// Its decisions are the reference's (the extra checks change nothing), but
// each pass costs more CPU and memory than the one before (health check
// resource exhaustion, RPN 80). The trace cannot tell it from the reference;
// only its measured cost can.
#include <string>
#include <vector>

#include "coordinator/fs_util.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

class ReaperRescanStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

  Result<ReapReport> Reap(const ReapOptions& options) override {
    auto report = FsStore::Reap(options);  // the reference pass
    if (report.ok() && !options.dry_run) Rescan();
    return report;
  }

 private:
  // Appends the agent records as they are now, then parses every record in
  // the history again: the cost of a pass grows with the passes before it.
  void Rescan() {
    auto names = fs::ListDir(Sub("agents"));
    if (!names.ok()) return;
    for (const std::string& name : *names) {
      if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
      const std::string id = name.substr(0, name.size() - 5);
      if (auto text = fs::ReadFile(AgentPath(id)); text.ok()) history_.push_back({id, *text});
    }
    for (const auto& [id, text] : history_) {
      auto record = AgentFromJson(text, Rel(AgentPath(id)));
      if (record.ok() && record->status == AgentStatus::kDead) ++dead_seen_;
    }
  }

  std::vector<std::pair<std::string, std::string>> history_;
  uint64_t dead_seen_ = 0;
};

}  // namespace

Mutant ReaperRescan() {
  return {"reaper_rescan",
          "the reaper keeps every agent record it reads and re-parses all of them at every pass",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<ReaperRescanStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
