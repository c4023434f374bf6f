// power_loss: the machine loses power. At `at_ms`, when some process parks
// at the nth occurrence of yield point `point`, or at the nth fsync or
// rename (`call`, optionally only on paths matching `path`) of any process,
// just before or just after it took effect (`moment`), every process of the
// system under test dies at once (SIGKILL, no clean-up) and the coordination
// directory is rewritten to a state the storage stack could have left
// (faults/power_model.h): unsynced file data dropped, torn or kept, unsynced
// namespace changes undone, per the options and the fault's random stream.
// Then the power comes back: every killed process starts again
// `restart_after_ms` later, and the invariants judge the recovery.
//
// What was durable is known from the journal the LD_PRELOAD layer
// (faults/preload/power_journal.c) keeps in every process of the run; the
// fault gives each process the layer and the control page in Prepare and
// reads the journals at the loss. The call trigger is counted by the layer
// too (power_control.h): the process making the nth call marks the page and
// kills itself there, and the engine hands its death to this fault
// (OnDied), which cuts the power for everyone else at that instant. The
// directory as prepared (init, submit)
// is the baseline: durable, as if synced by whoever set it up. After a loss
// the rewritten directory is the new baseline.
//
// Landed: what it killed and what it did to the directory (files rolled
// back, torn, kept; namespace changes undone), then a state check.
#include <fcntl.h>
#include <fmt/format.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/install_layout.h"
#include "faults/kinds.h"
#include "faults/power_model.h"
#include "faults/preload/io_error_control.h"
#include "faults/preload/power_control.h"
#include "sim/protocol/control_protocol.h"

namespace faultline::faults {
namespace {

namespace stdfs = std::filesystem;
using Control = faultline_power_control;

// How long the processes a killed process left behind (an external SUT's
// commands in freerun) may take to die before the run is declared broken.
constexpr int64_t kQuiesceWallMs = 10'000;
constexpr size_t kMaxNamed = 20;

// The preload library, found as io_error finds it: FAULTLINE_IOERR_PRELOAD if
// set, else where the running binary's helpers are (base/install_layout.h).
std::string FindPreload(std::string* tried) {
  if (const char* env = std::getenv("FAULTLINE_IOERR_PRELOAD"); env != nullptr && *env != '\0') {
    *tried = env;
    return stdfs::exists(env) ? stdfs::absolute(env).string() : "";
  }
  return base::FindHelper(FAULTLINE_IOERR_LIBRARY, tried);
}

std::string Joined(const std::string& first, const char* second) {
  return second == nullptr || *second == '\0' ? first : first + ":" + second;
}

bool CopyInto(char* field, size_t size, const std::string& value) {
  if (value.size() >= size) return false;
  std::memcpy(field, value.c_str(), value.size() + 1);
  return true;
}

power::Unsynced ParseUnsynced(const std::string& s) {
  return s == "drop"   ? power::Unsynced::kDrop
         : s == "torn" ? power::Unsynced::kTorn
         : s == "keep" ? power::Unsynced::kKeep
                       : power::Unsynced::kAny;
}

power::UnsyncedOps ParseOps(const std::string& s) {
  return s == "undo"   ? power::UnsyncedOps::kUndo
         : s == "keep" ? power::UnsyncedOps::kKeep
                       : power::UnsyncedOps::kPrefix;
}

class PowerLoss final : public Fault {
 public:
  explicit PowerLoss(const nlohmann::json& o)
      : at_ms_(o["at_ms"]),
        point_(o["point"]),
        nth_(o["nth"]),
        call_(o["call"]),
        path_(o["path"]),
        moment_(o["moment"]),
        unsynced_(o["unsynced"]),
        unsynced_ops_(o["unsynced_ops"]),
        restart_after_ms_(o["restart_after_ms"]) {}

  ~PowerLoss() override {
    if (page_ != nullptr) munmap(page_, sizeof(Control));
    if (lock_fd_ >= 0) close(lock_fd_);
  }

  void Prepare(FaultContext& ctx) override {
    if (const std::string why = CheckTrigger(ctx.Lockstep()); !why.empty()) {
      ctx.SetupFailed(why);
      return;
    }
    std::string tried;
    const std::string library = FindPreload(&tried);
    if (library.empty()) {
      ctx.SetupFailed("cannot find its preload library (looked for " + tried +
                      "); build the faultline_ioerr target or set FAULTLINE_IOERR_PRELOAD");
      return;
    }
    std::string why;
    if (!MapControlPage(ctx, &why)) {
      ctx.SetupFailed(why);
      return;
    }
    baseline_ = power::Scan(dir_);
    const std::string preload = Joined(library, std::getenv("LD_PRELOAD"));
    const std::string asan = Joined("verify_asan_link_order=0", std::getenv("ASAN_OPTIONS"));
    ProcessControl& procs = ctx.processes();
    for (const std::string& p : procs.List("")) {
      procs.AddEnv(p, "LD_PRELOAD", preload);
      procs.AddEnv(p, "ASAN_OPTIONS", asan);
      procs.AddEnv(p, FAULTLINE_POWER_CTL_ENV, control_path_);
    }
  }

  void Start(FaultContext& ctx) override {
    if (page_ != nullptr && at_ms_ >= 0) ctx.SetTimer(at_ms_ * 1000, kPowerOff);
  }

  void OnTimer(FaultContext& ctx, int tag) override {
    if (tag == kPowerOff) {
      if (!fired_) PowerOff(ctx, {{"at_ms", at_ms_}});
      return;
    }
    for (const std::string& p : killed_) ctx.processes().Restart(p);
  }

  bool OnYield(FaultContext& ctx, const std::string& proc, std::string_view point,
               std::string_view item) override {
    if (fired_ || page_ == nullptr) return false;
    // A call tripped inside a process that lives on (an adapter's command
    // died; the adapter came back to a yield point): the power is off now.
    if (Tripped()) {
      PowerOff(ctx, CallTrigger("noticed_at", proc));
      return true;
    }
    if (point_.empty() || point != point_ || ++seen_ != nth_) return false;
    PowerOff(ctx, {{"point", point_}, {"nth", nth_}, {"agent", proc}, {"item", item}});
    return true;
  }

  bool OnDied(FaultContext& ctx, const std::string& proc) override {
    if (fired_ || page_ == nullptr || !Tripped()) return false;
    PowerOff(ctx, CallTrigger("agent", proc));
    return true;
  }

 private:
  enum { kPowerOff, kPowerOn };

  // One trigger, and what it takes; "" when the options make sense.
  std::string CheckTrigger(bool lockstep) const {
    if (at_ms_ < 0 && point_.empty() && call_.empty()) {
      return "give it \"at_ms\", \"point\" or \"call\": when the power goes";
    }
    if (!point_.empty() && !call_.empty()) {
      return fmt::format(
          "give it \"point\" or \"call\", not both: \"nth\" counts one of them (here "
          "\"point\": \"{}\" and \"call\": \"{}\")",
          point_, call_);
    }
    if (!point_.empty() && !lockstep) {
      return "\"point\" needs lockstep (processes park at yield points only there); use "
             "\"at_ms\" in freerun";
    }
    if (!call_.empty() && !lockstep) {
      return "\"call\" needs lockstep: only there is the nth fsync or rename the same call in "
             "every run (one process runs at a time); use \"at_ms\" in freerun";
    }
    if (call_.empty() && (path_ != "*" || moment_ != "after")) {
      return "\"path\" and \"moment\" belong to \"call\": give \"call\": \"fsync\" or "
             "\"rename\", or leave them out";
    }
    if (path_.size() >= FAULTLINE_POWER_PATTERN_BYTES) {
      return fmt::format("\"path\" is {} bytes long; at most {}", path_.size(),
                         FAULTLINE_POWER_PATTERN_BYTES - 1);
    }
    if (!path_.empty() && (path_[0] == '/' || path_.rfind("./", 0) == 0)) {
      return fmt::format(
          "\"path\" \"{}\" must be relative to the coordination directory, as in "
          "\"items/*\" or \"ledger/*.json\" (no leading \"/\" or \"./\")",
          path_);
    }
    return "";
  }

  bool Tripped() const {
    return !call_.empty() && __atomic_load_n(&page_->tripped, __ATOMIC_SEQ_CST) != 0;
  }

  // The landed evidence of the call trigger: which call it was, and who
  // made it ("agent") or, when that was a command that its agent outlived,
  // which process was let go first after it ("noticed_at").
  nlohmann::json CallTrigger(const char* who, const std::string& proc) const {
    nlohmann::json t = {{"call", call_},
                        {"nth", nth_},
                        {"moment", moment_},
                        {who, proc},
                        {"did", page_->tripped_call}};
    if (path_ != "*") t["path"] = path_;
    return t;
  }

  bool MapControlPage(FaultContext& ctx, std::string* why) {
    CoordinationDirectory& directory = ctx.directory();
    dir_ = directory.Path();
    std::error_code ec;
    const std::string resolved = stdfs::canonical(dir_, ec).string();
    Control page{};
    page.magic = FAULTLINE_POWER_MAGIC;
    page.version = FAULTLINE_POWER_VERSION;
    int n = 0;
    do {
      journal_dir_ = fmt::format("{}/power_journal-{}", directory.ScratchDir(), n++);
    } while (stdfs::exists(journal_dir_, ec));
    stdfs::create_directories(journal_dir_, ec);
    if (ec) {
      *why = "cannot create its journal directory " + journal_dir_ + ": " + ec.message();
      return false;
    }
    if (!CopyInto(page.dir, sizeof page.dir, dir_) ||
        !CopyInto(page.dir_resolved, sizeof page.dir_resolved,
                  resolved.empty() ? dir_ : resolved) ||
        !CopyInto(page.journal_dir, sizeof page.journal_dir, journal_dir_)) {
      *why = "the coordination or scratch directory's path is too long for the control page";
      return false;
    }
    if (!call_.empty()) {
      page.trigger_calls =
          call_ == "fsync" ? FAULTLINE_POWER_CALL_FSYNC : FAULTLINE_POWER_CALL_RENAME;
      page.trigger_after = moment_ == "after" ? 1 : 0;
      page.trigger_nth = static_cast<uint64_t>(nth_);
      CopyInto(page.trigger_path, sizeof page.trigger_path, path_ == "*" ? "" : path_);
    }
    control_path_ = directory.WriteScratchFile(
        "power.ctl", std::string(reinterpret_cast<const char*>(&page), sizeof page));
    const int fd = open(control_path_.c_str(), O_RDWR | O_CLOEXEC);
    void* mapped = fd < 0
                       ? MAP_FAILED
                       : mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int err = errno;
    if (mapped == MAP_FAILED) {
      if (fd >= 0) close(fd);
      *why = fmt::format("cannot map its control page {}: {}", control_path_, std::strerror(err));
      return false;
    }
    lock_fd_ = fd;  // its own open file: the exclusive lock of a power cut
    page_ = static_cast<Control*>(mapped);
    return true;
  }

  // Every process that loaded the layer holds a shared lock on the page;
  // once the exclusive one is ours, none is left (a killed agent's command
  // in flight dies with its group, asynchronously). False on timeout.
  bool AwaitQuiet() {
    timespec start{};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
      if (flock(lock_fd_, LOCK_EX | LOCK_NB) == 0) return true;
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1'000'000 >
          kQuiesceWallMs) {
        return false;
      }
      timespec pause{0, 1'000'000};
      nanosleep(&pause, nullptr);
    }
  }

  void PowerOff(FaultContext& ctx, nlohmann::json trigger) {
    fired_ = true;
    __atomic_store_n(&page_->off, 1u, __ATOMIC_SEQ_CST);
    ProcessControl& procs = ctx.processes();
    killed_.clear();
    for (const std::string& p : procs.List("")) {
      if (procs.Alive(p) && procs.Kill(p)) killed_.push_back(p);
    }
    const bool quiet = AwaitQuiet();
    bool damaged = false;
    const std::vector<power::Record> records =
        power::ReadJournals(journal_dir_, &offsets_, &damaged);
    const power::Tree live = power::Scan(dir_);
    const power::CrashState state = power::Reconstruct(
        baseline_, records, live, ParseUnsynced(unsynced_), ParseOps(unsynced_ops_), ctx.rng());
    const std::string error = power::Apply(dir_, live, state);
    baseline_ = power::Scan(dir_);
    __atomic_store_n(&page_->off, 0u, __ATOMIC_SEQ_CST);
    flock(lock_fd_, LOCK_UN);

    std::set<int> pids;
    for (const power::Record& r : records) pids.insert(r.pid);
    if (trigger.contains("did")) {
      // Where the nth call was made, and how many durable syncs and renames
      // the journals hold since the last loss (the nth itself only when the
      // power went after it).
      pids.insert(page_->tripped_pid);
      trigger["file"] = Named({page_->tripped_path}, pids)[0];
      if (page_->tripped_from[0] != '\0') trigger["from"] = Named({page_->tripped_from}, pids)[0];
      std::set<uint64_t> syncs, unlinked, renames;
      for (const power::Record& r : records) {
        if (r.kind == 'F' || r.kind == 'S') syncs.insert(r.seq);
        if (r.kind == 'U') unlinked.insert(r.seq);
        if (r.kind == 'L' && unlinked.count(r.seq) > 0) renames.insert(r.seq);
      }
      trigger["journal"] = {{"fsyncs", syncs.size()}, {"renames", renames.size()}};
    }
    nlohmann::json details = {
        {"at_us", ctx.Now()},
        {"trigger", std::move(trigger)},
        {"killed", killed_},
        {"unsynced", unsynced_},
        {"unsynced_ops", unsynced_ops_},
        {"rolled_back", Named(state.rolled_back, pids)},
        {"torn", Named(state.torn, pids)},
        {"kept", Named(state.kept, pids)},
        {"ops_undone", Named(state.ops_undone, pids)},
        {"counts",
         {{"rolled_back", state.rolled_back.size()},
          {"torn", state.torn.size()},
          {"kept", state.kept.size()},
          {"ops_undone", state.ops_undone.size()},
          {"ops_kept", state.ops_kept}}},
        // How many states this crash drew from (an upper bound; docs/faults.md).
        {"state_space", {{"dir_choices", state.dir_choices}, {"file_choices", state.file_choices}}},
        {"restart_after_ms", restart_after_ms_}};
    if (!quiet) details["stragglers"] = "processes still held the layer after 10 s";
    if (damaged) details["journal_damaged"] = true;
    if (!error.empty()) details["error"] = error;
    ctx.Landed(details);
    ctx.directory().CheckState();
    if (restart_after_ms_ >= 0) ctx.SetTimer(ctx.Now() + restart_after_ms_ * 1000, kPowerOn);
  }

  // Paths for the trace: a process id in a name (temp files carry their
  // writer's) becomes "<pid>", so that the trace does not depend on them;
  // sorted, at most kMaxNamed. A pid is the first number of a path component,
  // not after a letter and without a leading zero: inside a run's PID
  // namespace pids are small, and "w000005", "a2" or a temp file's counter
  // must not read as one.
  static nlohmann::json Named(const std::vector<std::string>& paths, const std::set<int>& pids) {
    std::vector<std::string> named;
    for (const std::string& p : paths) {
      std::string out;
      bool first_in_component = true;
      for (size_t i = 0; i < p.size();) {
        if (p[i] == '/') first_in_component = true;
        if (!std::isdigit(static_cast<unsigned char>(p[i]))) {
          out += p[i++];
          continue;
        }
        size_t end = i;
        while (end < p.size() && std::isdigit(static_cast<unsigned char>(p[end]))) ++end;
        const std::string d = p.substr(i, end - i);
        const bool after_letter = i > 0 && std::isalpha(static_cast<unsigned char>(p[i - 1]));
        const bool pid = first_in_component && !after_letter && d[0] != '0' && d.size() < 10 &&
                         pids.count(std::stoi(d)) > 0;
        out += pid ? "<pid>" : d;
        first_in_component = false;
        i = end;
      }
      named.push_back(out);
    }
    std::sort(named.begin(), named.end());
    if (named.size() > kMaxNamed) {
      const size_t more = named.size() - kMaxNamed;
      named.resize(kMaxNamed);
      named.push_back(fmt::format("... and {} more", more));
    }
    return named;
  }

  int64_t at_ms_;
  std::string point_;
  int nth_;
  std::string call_;
  std::string path_;
  std::string moment_;
  std::string unsynced_;
  std::string unsynced_ops_;
  int64_t restart_after_ms_;

  std::string dir_;
  std::string journal_dir_;
  std::string control_path_;
  Control* page_ = nullptr;
  int lock_fd_ = -1;
  power::Tree baseline_;
  std::map<std::string, size_t> offsets_;
  int seen_ = 0;
  bool fired_ = false;
  std::vector<std::string> killed_;
};

std::vector<std::string> PointChoices() {
  std::vector<std::string> v = {""};
  for (const char* p : protocol::point::kAll) v.emplace_back(p);
  return v;
}

}  // namespace

FaultKind PowerLossKind() {
  return {
      "power_loss",
      "every process of the system dies at once and the directory loses what was not fsynced "
      "(LD_PRELOAD durability journal)",
      "power failure or kernel crash: unsynced writes, renames and creates lost; database "
      "corruption",
      /*lockstep_only=*/false,
      {
          {"at_ms",
           OptionSpec::Type::kInt,
           true,
           -1,
           -1,
           86'400'000,
           {},
           "when the power goes; -1: at `point` instead"},
          {"point", OptionSpec::Type::kString, false, "", 0, 0, PointChoices(),
           "or when a process parks at this yield point (lockstep; \"\": at at_ms)"},
          {"nth",
           OptionSpec::Type::kInt,
           true,
           1,
           1,
           1'000'000,
           {},
           "which occurrence of the point or the call, counted over all processes"},
          {"call",
           OptionSpec::Type::kString,
           false,
           "",
           0,
           0,
           {"", "fsync", "rename"},
           "or at the nth call of this kind (fsync: fsync and fdatasync; rename: rename*) on "
           "the coordination directory, counted over all processes (lockstep; \"\": not)"},
          {"path",
           OptionSpec::Type::kString,
           false,
           "*",
           0,
           0,
           {},
           "with \"call\": count only calls on paths matching this glob (`*` also matches "
           "`/`), relative to the coordination directory (\"items/*\"; a rename's source or "
           "target); \"*\": any"},
          {"moment",
           OptionSpec::Type::kString,
           false,
           "after",
           0,
           0,
           {"after", "before"},
           "with \"call\": the power goes just after the nth call took effect (a persistence "
           "point, as CrashMonkey's) or just before it is made"},
          {"unsynced",
           OptionSpec::Type::kString,
           false,
           "any",
           0,
           0,
           {"drop", "torn", "keep", "any"},
           "file data written since the file's last fsync: dropped, torn at a drawn prefix, "
           "kept, or any of the three drawn per file"},
          {"unsynced_ops",
           OptionSpec::Type::kString,
           false,
           "prefix",
           0,
           0,
           {"undo", "prefix", "keep"},
           "creates, links, renames and unlinks since the directory's last fsync: all undone, "
           "a drawn prefix of them kept per directory, or all kept"},
          {"restart_after_ms",
           OptionSpec::Type::kInt,
           true,
           0,
           -1,
           86'400'000,
           {},
           "the power comes back and every killed process starts again after this long; -1: never"},
      },
      [](const nlohmann::json& o) { return std::make_unique<PowerLoss>(o); },
      /*needs=*/capability::kProcesses | capability::kDirectory | capability::kStateFiles,
  };
}

}  // namespace faultline::faults
