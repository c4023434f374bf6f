// crash_at: SIGKILL the process parked at the nth occurrence of a named yield
// point — a crash at exactly that step of the protocol (lockstep only, where
// processes park at yield points). Stands for a torn operation: the crash
// between two writes that every state transition must survive.
#include "faults/kinds.h"
#include "sim/protocol/control_protocol.h"
#include "sim/protocol/interpose_protocol.h"

namespace faultline::faults {
namespace {

class CrashAt final : public Fault {
 public:
  explicit CrashAt(const nlohmann::json& o)
      : point_(o["point"]), item_(o["item"]), nth_(o["nth"]),
        restart_after_ms_(o["restart_after_ms"]) {}

  void Start(FaultContext&) override {}

  bool OnYield(FaultContext& ctx, const std::string& proc, std::string_view point,
               std::string_view item) override {
    if (fired_ || point != point_ || !ItemMatches(item) || ++seen_ != nth_) return false;
    fired_ = true;
    if (!ctx.processes().Kill(proc)) return false;
    ctx.Landed({{"agent", proc}, {"point", point_}, {"item", item}, {"nth", nth_},
                {"at_us", ctx.Now()}});
    if (restart_after_ms_ >= 0) {
      victim_ = proc;
      ctx.SetTimer(ctx.Now() + restart_after_ms_ * 1000, 0);
    }
    return true;
  }

  void OnTimer(FaultContext& ctx, int) override { ctx.processes().Restart(victim_); }

 private:
  // "*": any item; "PREFIX*": items starting with PREFIX; else that item.
  bool ItemMatches(std::string_view item) const {
    if (item_ == "*") return true;
    if (!item_.empty() && item_.back() == '*') {
      return item.substr(0, item_.size() - 1) == std::string_view(item_).substr(0, item_.size() - 1);
    }
    return item == item_;
  }

  std::string point_;
  std::string item_;
  int nth_;
  int64_t restart_after_ms_;
  int seen_ = 0;
  bool fired_ = false;
  std::string victim_;
};

std::vector<std::string> Points() {
  std::vector<std::string> v;
  for (const char* p : protocol::point::kAll) v.emplace_back(p);
  // The points of processes under interposition ("interleave": "syscalls",
  // docs/interposition.md); the item is the path below the coordination dir.
  for (const char* p : {FL_IP_POINT_OPEN, FL_IP_POINT_STAT, FL_IP_POINT_ACCESS, FL_IP_POINT_RENAME,
                        FL_IP_POINT_LINK, FL_IP_POINT_SYMLINK, FL_IP_POINT_UNLINK, FL_IP_POINT_MKDIR,
                        FL_IP_POINT_RMDIR, FL_IP_POINT_FLOCK, FL_IP_POINT_FCNTL_LOCK,
                        FL_IP_POINT_WRITE, FL_IP_POINT_TRUNCATE, FL_IP_POINT_FSYNC,
                        FL_IP_POINT_CLOSE}) {
    v.emplace_back(p);
  }
  return v;
}

// The steps between two writes of the file protocol: a lock file held, a
// claim marker written, the ledger file written before the state, a corrupt
// file moved aside, an id about to be taken by a create-once write, and every
// file-system call of an interposed process. A store whose transition is one
// database transaction has no such step (docs/postgres.md): a crash there
// needs the state files (capability::kStateFiles).
unsigned PointNeeds(const nlohmann::json& options) {
  const auto it = options.find("point");
  if (it == options.end() || !it->is_string()) return 0;
  const std::string& point = it->get_ref<const std::string&>();
  namespace p = protocol::point;
  for (const char* file_step :
       {p::kClaimLocked, p::kClaimMarked, p::kRenewLocked, p::kCompleteLocked,
        p::kCompleteLedgerWritten, p::kReleaseLocked, p::kReapLocked, p::kHeartbeatLocked,
        p::kQuarantineMoved, p::kSubmitListed, p::kSubmitCreate}) {
    if (point == file_step) return capability::kStateFiles;
  }
  return point.rfind("sys.", 0) == 0 ? capability::kStateFiles : 0;
}

}  // namespace

FaultKind CrashAtKind() {
  FaultKind kind = {
      "crash_at",
      "SIGKILL the process parked at the nth occurrence of a yield point",
      "torn write, crash between two steps of a state transition",
      /*lockstep_only=*/true,
      {
          {"point", OptionSpec::Type::kString, false, nullptr, 0, 0, Points(),
           "the yield point (see faultline list faults)"},
          {"item", OptionSpec::Type::kString, false, "*", 0, 0, {},
           "only occurrences whose item is this (\"PREFIX*\": starts with PREFIX; \"*\": any); "
           "for sys.* points the path below the coordination directory"},
          {"nth", OptionSpec::Type::kInt, true, 1, 1, 1'000'000, {},
           "which occurrence of the point (and item), counted over all processes"},
          {"restart_after_ms", OptionSpec::Type::kInt, true, -1, -1, 86'400'000, {},
           "restart the crashed process after this long; -1: never"},
      },
      [](const nlohmann::json& o) { return std::make_unique<CrashAt>(o); },
      /*needs=*/capability::kProcesses,
  };
  kind.option_needs = PointNeeds;
  return kind;
}

}  // namespace faultline::faults
