// trigger_happy_reaper: the reaper compares an agent's last heartbeat (in
// microseconds) with agent_timeout_ms taken as microseconds, a timeout a
// thousand times too short. At every pass it declares dead agents that
// heartbeated a moment ago (health check false positives, RPN 168).
#include <fmt/format.h>

#include "coordinator/fs_util.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

class TriggerHappyReaperStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

  Result<ReapReport> Reap(const ReapOptions& options) override {
    if (auto current = LoadCluster(); current.ok()) config_ = *current;
    std::vector<std::string> declared;
    if (!options.dry_run) SWARM_RETURN_IF_ERROR(DeclareSilentAgents(&declared));
    auto report = FsStore::Reap(options);  // everything else the reference way
    if (!report.ok()) return report;
    report->agents_dead.insert(report->agents_dead.begin(), declared.begin(), declared.end());
    return report;
  }

 private:
  bool Silent(const AgentRecord& record, int64_t now_us) const {
    // The bug: milliseconds added to microseconds.
    return record.status == AgentStatus::kAlive &&
           record.heartbeat_us + config_.agent_timeout_ms < now_us;
  }

  // The reference's dead-agent scan (re-checked under the agent's lock),
  // with the broken timeout.
  Status DeclareSilentAgents(std::vector<std::string>* declared) {
    auto names = fs::ListDir(Sub("agents"));
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
      const std::string id = name.substr(0, name.size() - 5);
      auto text = fs::ReadFile(AgentPath(id));
      if (!text.ok()) continue;
      auto record = AgentFromJson(*text, Rel(AgentPath(id)));
      if (!record.ok() || !Silent(*record, clock_->NowMicros())) continue;
      auto lock = FileLock::TryAcquire(AgentLockPath(id));
      if (!lock.ok()) {
        if (lock.status().IsBusy()) continue;  // it is heartbeating right now
        return lock.status();
      }
      auto again = fs::ReadFile(AgentPath(id));
      if (!again.ok()) continue;
      auto fresh = AgentFromJson(*again, Rel(AgentPath(id)));
      if (!fresh.ok() || !Silent(*fresh, clock_->NowMicros())) continue;
      fresh->status = AgentStatus::kDead;
      fresh->reason = fmt::format("no heartbeat for {} ms (agent_timeout_ms {})",
                                  (clock_->NowMicros() - fresh->heartbeat_us) / 1000,
                                  config_.agent_timeout_ms);
      SWARM_RETURN_IF_ERROR(fs::WriteAtomic(Sub("tmp"), AgentPath(id), ToJson(*fresh).dump()));
      Event({{"type", "agent_dead"}, {"agent", id}, {"last_heartbeat_us", fresh->heartbeat_us},
             {"now_us", clock_->NowMicros()}, {"agent_timeout_ms", config_.agent_timeout_ms},
             {"reason", fresh->reason}});
      declared->push_back(id);
    }
    return Status::Ok();
  }
};

}  // namespace

Mutant TriggerHappyReaper() {
  return {"trigger_happy_reaper",
          "the reaper reads agent_timeout_ms as microseconds and declares live agents dead",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<TriggerHappyReaperStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
