// The fs backend (fs_store.h): opening a directory, paths, the cluster
// settings, submit and agent records. The claim path, the item operations and
// the janitor are in fs_store_claim.cc, fs_store_items.cc and fs_store_reap.cc.
#include "coordinator/fs_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "base/fd_io.h"
#include "coordinator/fs_util.h"
#include "sim/protocol/control_protocol.h"

namespace swarm {
namespace {

namespace point = faultline::protocol::point;
namespace probe = faultline::protocol::probe;

constexpr const char* kSubdirs[] = {"items", "claims", "locks", "ledger",
                                    "agents", "quarantine", "tmp"};
constexpr int kLockRetries = 50;
// Every submit appends the ids it added (FsStore::Announce).
constexpr const char* kSubmittedLog = "submitted.log";
constexpr int64_t kLockRetrySleepUs = 2000;

}  // namespace

// ---------------------------------------------------------------------------
// Opening and paths

Status FsStore::Init(const std::string& dir, const ClusterConfig& config) {
  if (fs::Exists(dir + "/cluster.json")) {
    return Status::InvalidArgument(dir + " is already a swarm coordination directory");
  }
  SWARM_RETURN_IF_ERROR(fs::CheckEmptyOrNew(dir));
  SWARM_RETURN_IF_ERROR(fs::MakeDir(dir));
  for (const char* sub : kSubdirs) SWARM_RETURN_IF_ERROR(fs::MakeDir(dir + "/" + sub));
  SWARM_RETURN_IF_ERROR(fs::FsyncDir(dir));
  // cluster.json last: its presence is what makes the directory usable.
  return fs::WriteAtomic(dir + "/tmp", dir + "/cluster.json", ClusterText(config, kClusterFile));
}

Result<std::unique_ptr<FsStore>> FsStore::Open(const std::string& dir, Clock* clock,
                                               Probe* probe) {
  auto config = LoadDir(dir);
  if (!config.ok()) return config.status();
  if (!clock->Simulated()) {
    auto boot_id = BootId();
    auto anchor = boot_id.ok() ? ClockAnchor(dir, *boot_id,
                                             RealClock::WallMicros() - RealClock::BootMicros())
                               : Result<int64_t>(boot_id.status());
    if (anchor.ok()) {
      clock->SetBootAnchor(*anchor);
    } else {
      std::fprintf(stderr, "swarm: %s; this process's clock is not shared with the others\n",
                   anchor.status().ToString().c_str());
    }
  }
  return std::unique_ptr<FsStore>(new FsStore(dir, *config, clock, probe));
}

Result<std::string> FsStore::BootId() {
  auto text = fs::ReadFile("/proc/sys/kernel/random/boot_id");
  if (!text.ok()) return text.status();
  std::string id = *text;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  if (!IsValidId(id)) return Status::Corrupt("boot_id \"" + id + "\" is not usable as a file name");
  return id;
}

Result<int64_t> FsStore::ClockAnchor(const std::string& dir, const std::string& boot_id,
                                     int64_t proposed_us) {
  // Made here rather than by init, so directories made before it work too.
  SWARM_RETURN_IF_ERROR(fs::MakeDir(dir + "/clock"));
  const std::string path = dir + "/clock/" + boot_id + ".json";
  const nlohmann::json mine = {{"boot_id", boot_id}, {"anchor_us", proposed_us}};
  Status created = fs::CreateAtomic(dir + "/tmp", path, mine.dump() + "\n");
  if (created.ok()) return proposed_us;
  if (created.code() != Status::Code::kConflict) return created;
  auto text = fs::ReadFile(path);
  if (!text.ok()) return text.status();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("anchor_us") || !j["anchor_us"].is_number_integer()) {
    return Status::Corrupt(path + ": not a clock anchor");
  }
  return j["anchor_us"].get<int64_t>();
}

Result<ClusterConfig> FsStore::LoadDir(const std::string& dir) {
  if (!fs::IsDirectory(dir)) {
    return Status::InvalidArgument(dir + " does not exist; create it with `swarm init " + dir + "`");
  }
  if (!fs::Exists(dir + "/cluster.json")) {
    return Status::InvalidArgument(dir + " is not a swarm coordination directory (no cluster.json); "
                                         "create one with `swarm init DIR`");
  }
  for (const char* sub : kSubdirs) {
    if (!fs::IsDirectory(dir + "/" + sub)) {
      return Status::InvalidArgument(fmt::format(
          "{} is missing its {}/ directory; it was not made by `swarm init` or was damaged", dir,
          sub));
    }
  }
  auto text = fs::ReadFile(dir + "/cluster.json");
  if (!text.ok()) return text.status();
  return ParseCluster(*text, kClusterFile, dir + "/cluster.json");
}

FsStore::FsStore(std::string dir, ClusterConfig config, Clock* clock, Probe* probe)
    : dir_(std::move(dir)),
      items_dir_(dir_ + "/items"),
      ledger_dir_(dir_ + "/ledger"),
      claims_dir_(dir_ + "/claims"),
      tmp_dir_(dir_ + "/tmp"),
      config_(config),
      clock_(clock),
      probe_(probe) {}

std::string FsStore::ItemPath(std::string_view id) const {
  return fmt::format("{}/items/{}.json", dir_, id);
}
std::string FsStore::ItemLockPath(std::string_view id) const {
  return fmt::format("{}/locks/{}.lock", dir_, id);
}
std::string FsStore::AgentPath(std::string_view id) const {
  return fmt::format("{}/agents/{}.json", dir_, id);
}
std::string FsStore::AgentLockPath(std::string_view id) const {
  return fmt::format("{}/locks/@agent.{}.lock", dir_, id);
}
std::string FsStore::MarkerPath(std::string_view id) const {
  return fmt::format("{}/claims/{}", dir_, id);
}
std::string FsStore::LedgerPath(std::string_view id) const {
  return fmt::format("{}/ledger/{}.json", dir_, id);
}

void FsStore::Event(nlohmann::json event) {
  // A change whose directory fsync failed (fs_util.h) stands, and the
  // operation went on as committed: reported before the operation's own
  // event, as a storage problem that did not fail an operation.
  if (Status unsynced = fs::TakeUnsyncedError(); !unsynced.ok()) {
    std::fprintf(stderr, "swarm: %s; the change was made but may not survive a crash of the "
                         "machine\n", unsynced.ToString().c_str());
    const size_t colon = unsynced.message().rfind(": ");
    if (probe_->recording()) {
      probe_->Emit({{"type", "storage_unsynced"},
                    {"code", unsynced.CodeName()},
                    {"error", unsynced.message().substr(colon == std::string::npos ? 0 : colon + 2)}});
    }
  }
  if (probe_->recording()) probe_->Emit(event);
}

Result<FileLock> FsStore::LockWithRetry(const std::string& path, std::string_view op,
                                         std::string_view who, std::string_view item) {
  for (int i = 0;; ++i) {
    auto lock = FileLock::TryAcquire(path);
    if (lock.ok() || !lock.status().IsBusy()) return lock;
    if (i == kLockRetries) {
      Event({{"type", "lock_timeout"}, {"agent", who}, {"item", item}, {"op", op}});
      return lock;
    }
    probe_->Yield(point::kLockBusy, path.substr(path.find_last_of('/') + 1));
    clock_->SleepMicros(kLockRetrySleepUs);
  }
}

// ---------------------------------------------------------------------------
// Cluster, halt, submit

Result<ClusterConfig> FsStore::LoadCluster() {
  auto text = fs::ReadFile(Sub("cluster.json"));
  if (!text.ok()) return text.status();
  return ParseCluster(*text, kClusterFile, "cluster.json");
}

Status FsStore::Reconfigure(const ClusterConfig& config) {
  SWARM_RETURN_IF_ERROR(
      fs::WriteAtomic(Sub("tmp"), Sub("cluster.json"), ClusterText(config, kClusterFile)));
  config_ = config;
  return Status::Ok();
}

bool FsStore::Halted() { return fs::Exists(Sub("HALT")); }

Status FsStore::SetHalted(bool halted) {
  if (halted) {
    return fs::WriteAtomic(Sub("tmp"), Sub("HALT"),
                           fmt::format("halted at {} us\n", clock_->NowMicros()));
  }
  return fs::Remove(Sub("HALT"), /*durable=*/true);
}

Result<size_t> FsStore::Submit(const std::vector<std::pair<std::string, std::string>>& items,
                               std::string_view skill) {
  if (!skill.empty() && !IsValidSkill(skill)) {
    return Status::InvalidArgument(fmt::format(
        "skill \"{}\" is not valid: use 1-128 of A-Z a-z 0-9 . _ - , not starting with . or -",
        skill));
  }
  std::vector<std::string> added;
  Status status = Status::Ok();
  for (const auto& [id, payload] : items) {
    if (!IsValidId(id)) {
      Announce(added);
      return Status::InvalidArgument(fmt::format(
          "item id \"{}\" is not valid: use 1-128 of A-Z a-z 0-9 . _ - , not starting with . or -",
          id));
    }
    ItemState s;
    s.id = id;
    s.payload = payload;
    s.skill = std::string(skill);
    Status st = fs::CreateAtomic(Sub("tmp"), ItemPath(id), ToJson(s).dump());
    if (st.code() == Status::Code::kConflict) continue;
    if (!st.ok()) {
      status = st;  // the items added before it stay
      break;
    }
    added.push_back(id);
  }
  Announce(added);
  if (!status.ok()) return status;
  return added.size();
}

Result<std::vector<std::string>> FsStore::SubmitGenerated(std::string_view prefix, int64_t count,
                                                          std::string_view skill) {
  if (!IsValidId(fmt::format("{}{:06}", prefix, 1))) {
    return Status::InvalidArgument(fmt::format(
        "prefix \"{}\" does not make valid item ids: use A-Z a-z 0-9 . _ - , not starting with . "
        "or -, and at most 122 characters",
        prefix));
  }
  if (!skill.empty() && !IsValidSkill(skill)) {
    return Status::InvalidArgument(fmt::format(
        "skill \"{}\" is not valid: use 1-128 of A-Z a-z 0-9 . _ - , not starting with . or -",
        skill));
  }
  // The number of items now is where the search starts, a hint only: the
  // create-once write is what takes an id, so two submitters that start from
  // the same count never take the same one — the loser moves on.
  auto names = fs::ListDir(Sub("items"));
  if (!names.ok()) return names.status();
  // Under the harness (a submitter of the run) the listing and each write
  // are steps of their own, so that two submitters interleave between them.
  probe_->Yield(point::kSubmitListed, "");
  std::vector<std::string> added;
  added.reserve(static_cast<size_t>(count));
  for (uint64_t n = names->size() + 1; static_cast<int64_t>(added.size()) < count; ++n) {
    ItemState s;
    s.id = fmt::format("{}{:06}", prefix, n);
    s.payload = "payload of " + s.id;
    s.skill = std::string(skill);
    probe_->Yield(point::kSubmitCreate, s.id);
    Status st = fs::CreateAtomic(Sub("tmp"), ItemPath(s.id), ToJson(s).dump());
    if (st.code() == Status::Code::kConflict) {
      probe_->Reached(probe::kSubmitIdTaken);
      continue;
    }
    if (!st.ok()) {
      Announce(added);
      return st;  // the items added before it stay
    }
    added.push_back(std::move(s.id));
  }
  Announce(added);
  Event({{"type", "submit_ok"}, {"ids", added}});
  return added;
}

// The submission log is a hint to the agents running now, not state: it is
// appended after the items are made (durably, by their create-once writes),
// never fsynced, and an append that fails or a submitter that dies before
// it costs only promptness (ClaimNext falls back to listing items/ when it
// runs out of work, and always before it says no work is left).
void FsStore::Announce(const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  std::string lines;
  for (const std::string& id : ids) lines.append(id).append("\n");
  const int fd = open(Sub(kSubmittedLog).c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)base::WriteAll(fd, lines);
  close(fd);
}

int64_t FsStore::Announced() {
  struct stat st {};
  if (stat(Sub(kSubmittedLog).c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_size);
}

// ---------------------------------------------------------------------------
// Agents

Status FsStore::Register(const AgentRecord& agent) {
  auto lock = LockWithRetry(AgentLockPath(agent.id), "register", agent.id, "");
  if (!lock.ok()) return lock.status();
  auto text = fs::ReadFile(AgentPath(agent.id));
  if (text.ok()) {
    auto old = AgentFromJson(*text, Rel(AgentPath(agent.id)));
    if (old.ok() && old->status == AgentStatus::kAlive && old->pid != agent.pid &&
        fs::ProcessAlive(old->pid)) {
      return Status::Conflict(fmt::format(
          "agent id \"{}\" is already in use by live process {}; choose another --id", agent.id,
          old->pid));
    }
  }
  SWARM_RETURN_IF_ERROR(fs::WriteAtomic(Sub("tmp"), AgentPath(agent.id), ToJson(agent).dump()));
  probe_->Yield(point::kRegisterWritten, "");
  skills_[agent.id] = agent.skills;
  nlohmann::json event = {{"type", "register"}, {"agent", agent.id},
                          {"fingerprint", agent.fingerprint}};
  if (!agent.skills.empty()) event["skills"] = agent.skills;
  probe_->Reached(probe::kRegisterOk);
  Event(std::move(event));
  return Status::Ok();
}

Status FsStore::Heartbeat(AgentRecord& agent, const Grant* held, bool* lost) {
  auto lock = LockWithRetry(AgentLockPath(agent.id), "heartbeat", agent.id, "");
  if (!lock.ok()) return lock.status();
  probe_->Yield(point::kHeartbeatLocked, "");
  // The holding is checked after the last yield before the write, so that
  // the record written is true at the moment it is written; and under the
  // item's lock, kept until the heartbeat's event is out, since a takeover
  // needs that lock. Without it a holder stopped after its check (SIGSTOP,
  // a loaded machine) could trace, long after, a heartbeat listing an item
  // taken over and completed meanwhile.
  std::optional<FileLock> item_lock;
  if (held != nullptr) {
    auto locked = LockWithRetry(ItemLockPath(held->item), "heartbeat", agent.id, held->item);
    if (!locked.ok()) return locked.status();
    item_lock.emplace(std::move(*locked));
    const Status checked = CheckGrant(*held);
    const Status::Code check = checked.code();
    // Stale, or the item's file is damaged or gone: nothing names this agent
    // as the holder any more. A storage error proves nothing either way: while
    // the lease runs nobody else may take the item, but once it has run out
    // (at this heartbeat's time) a holding that cannot be checked is given up
    // rather than claimed — the item may be someone else's by now.
    const bool unverifiable_after_lease =
        checked.IsStorageError() && held->lease_until_us <= agent.heartbeat_us;
    if (check == Status::Code::kStaleToken || check == Status::Code::kCorrupt ||
        check == Status::Code::kNotFound || unverifiable_after_lease) {
      agent.holding.erase(std::remove(agent.holding.begin(), agent.holding.end(), held->item),
                          agent.holding.end());
      if (lost != nullptr) *lost = true;
    }
  }
  auto text = fs::ReadFile(AgentPath(agent.id));
  if (text.ok()) {
    auto old = AgentFromJson(*text, Rel(AgentPath(agent.id)));
    if (old.ok() && old->status == AgentStatus::kDead) {
      probe_->Reached(probe::kAgentBack);
      Event({{"type", "agent_back"}, {"agent", agent.id}, {"declared_dead", old->reason}});
    }
  }
  SWARM_RETURN_IF_ERROR(fs::WriteAtomic(Sub("tmp"), AgentPath(agent.id), ToJson(agent).dump()));
  probe_->Reached(probe::kHeartbeatOk);
  Event({{"type", "heartbeat"}, {"agent", agent.id}, {"at_us", agent.heartbeat_us},
         {"holding", agent.holding}});
  item_lock.reset();  // not held across the yield: others may take the item now
  probe_->Yield(point::kHeartbeatWritten, "");
  return Status::Ok();
}

Status FsStore::MarkAgent(const AgentRecord& agent) {
  auto lock = LockWithRetry(AgentLockPath(agent.id), "mark_agent", agent.id, "");
  if (!lock.ok()) return lock.status();
  return fs::WriteAtomic(Sub("tmp"), AgentPath(agent.id), ToJson(agent).dump());
}

}  // namespace swarm
