// io_error: chosen calls (write, fsync, rename, open) of chosen processes
// fail with EIO or ENOSPC on files of the coordination directory for a
// window, through the LD_PRELOAD layer in faults/preload/. The fault writes
// the layer's control page into the run's scratch directory, gives the
// victims LD_PRELOAD and the page's path, arms the page at `at_ms` and
// disarms it `duration_ms` later; in lockstep both happen while every
// controlled process is parked, so the same seed fails the same calls. It
// lands when errors were injected: the counts per kind and per process are
// read from the page at each disarm and at the end of the run. Stands for
// storage faults: a failing disk, a full or flaky network file system.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <string>
#include <utility>
#include <vector>

#include "base/install_layout.h"
#include "faults/kinds.h"
#include "faults/preload/io_error_control.h"

namespace faultline::faults {
namespace {

namespace stdfs = std::filesystem;

using Control = faultline_ioerr_control;

constexpr const char* kCallNames[FAULTLINE_IOERR_KINDS] = {"write", "fsync", "rename", "open"};

// The preload library: FAULTLINE_IOERR_PRELOAD if set, else where the
// running binary's helpers are (base/install_layout.h: build-X/lib for
// build-X/bin, PREFIX/lib/faultline when installed).
std::string FindPreload(std::string* tried) {
  if (const char* env = std::getenv("FAULTLINE_IOERR_PRELOAD"); env != nullptr && *env != '\0') {
    *tried = env;
    return stdfs::exists(env) ? stdfs::absolute(env).string() : "";
  }
  return base::FindHelper(FAULTLINE_IOERR_LIBRARY, tried);
}

// "first<sep>second", or the one that is set.
std::string Joined(const char* first, const char* second, char sep) {
  const bool has_first = first != nullptr && *first != '\0';
  const bool has_second = second != nullptr && *second != '\0';
  if (has_first && has_second) return std::string(first) + sep + second;
  return has_first ? first : has_second ? second : "";
}
std::string Joined(const std::string& first, const char* second, char sep) {
  return Joined(first.c_str(), second, sep);
}

bool CopyInto(char* field, size_t size, const std::string& value) {
  if (value.size() >= size) return false;
  std::memcpy(field, value.c_str(), value.size() + 1);
  return true;
}

class IoError final : public Fault {
 public:
  explicit IoError(const nlohmann::json& o)
      : agents_(o["agents"]), reaper_(o["reaper"]), calls_(o["calls"].get<std::vector<std::string>>()),
        error_(o["errno"]), at_ms_(o["at_ms"]), duration_ms_(o["duration_ms"]),
        count_(o["count"]), every_ms_(o["every_ms"]), every_nth_(o["every_nth"]),
        path_contains_(o["path_contains"]) {}

  ~IoError() override {
    if (page_ != nullptr) munmap(page_, sizeof(Control));
  }

  void Prepare(FaultContext& ctx) override {
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
    PickVictims(ctx);
    const std::string preload = Joined(library, std::getenv("LD_PRELOAD"), ':');
    // AddressSanitizer insists on coming first among the loaded libraries;
    // the preload (built without sanitizers) may go before it.
    const std::string asan_options =
        Joined(std::getenv("ASAN_OPTIONS"), "verify_asan_link_order=0", ':');
    ProcessControl& procs = ctx.processes();
    for (size_t slot = 0; slot < victims_.size(); ++slot) {
      procs.AddEnv(victims_[slot], "LD_PRELOAD", preload);
      procs.AddEnv(victims_[slot], "ASAN_OPTIONS", asan_options);
      procs.AddEnv(victims_[slot], FAULTLINE_IOERR_CTL_ENV, control_path_);
      procs.AddEnv(victims_[slot], FAULTLINE_IOERR_SLOT_ENV, std::to_string(slot));
    }
  }

  void Start(FaultContext& ctx) override {
    if (page_ == nullptr || victims_.empty()) return;
    for (int i = 0; i < count_; ++i) ctx.SetTimer((at_ms_ + i * every_ms_) * 1000, kArm);
  }

  void OnTimer(FaultContext& ctx, int tag) override {
    if (tag == kArm) {
      if (open_windows_++ == 0) {
        armed_at_us_ = ctx.Now();
        __atomic_store_n(&page_->armed, 1u, __ATOMIC_SEQ_CST);
      }
      if (duration_ms_ >= 0) ctx.SetTimer(ctx.Now() + duration_ms_ * 1000, kDisarm);
      return;
    }
    if (--open_windows_ > 0) return;  // an overlapping window is still open
    __atomic_store_n(&page_->armed, 0u, __ATOMIC_SEQ_CST);
    Report(ctx, "disarmed");
  }

  void Finish(FaultContext& ctx) override {
    if (page_ == nullptr) return;
    // Never disarmed (duration_ms -1), or (freerun) a call that saw the page
    // armed counted its error after the last disarm was reported.
    __atomic_store_n(&page_->armed, 0u, __ATOMIC_SEQ_CST);
    Report(ctx, "run_end");
  }

 private:
  enum { kArm, kDisarm };

  bool MapControlPage(FaultContext& ctx, std::string* why) {
    Control page{};
    page.magic = FAULTLINE_IOERR_MAGIC;
    page.version = FAULTLINE_IOERR_VERSION;
    page.error = error_ == "ENOSPC" ? ENOSPC : EIO;
    for (const auto& call : calls_) {
      for (int kind = 0; kind < FAULTLINE_IOERR_KINDS; ++kind) {
        if (call == kCallNames[kind]) page.calls |= 1u << kind;
      }
    }
    for (uint32_t& nth : page.every_nth) nth = static_cast<uint32_t>(every_nth_);
    std::error_code ec;
    CoordinationDirectory& directory = ctx.directory();
    const std::string dir = directory.Path();
    const std::string resolved = stdfs::canonical(dir, ec).string();
    if (!CopyInto(page.dir, sizeof page.dir, dir) ||
        !CopyInto(page.dir_resolved, sizeof page.dir_resolved, ec ? dir : resolved) ||
        !CopyInto(page.path_contains, sizeof page.path_contains, path_contains_)) {
      *why = "the coordination directory's path or path_contains is too long for the control page";
      return false;
    }
    // One page per io_error fault of the scenario.
    std::string name;
    for (int n = 0; name.empty() || stdfs::exists(directory.ScratchDir() + "/" + name, ec); ++n) {
      name = fmt::format("io_error-{}.ctl", n);
    }
    control_path_ = directory.WriteScratchFile(
        name, std::string(reinterpret_cast<const char*>(&page), sizeof page));
    int fd = open(control_path_.c_str(), O_RDWR | O_CLOEXEC);
    void* mapped = fd < 0 ? MAP_FAILED
                          : mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int err = errno;
    if (fd >= 0) close(fd);
    if (mapped == MAP_FAILED) {
      *why = fmt::format("cannot map its control page {}: {}", control_path_, std::strerror(err));
      return false;
    }
    page_ = static_cast<Control*>(mapped);
    return true;
  }

  void PickVictims(FaultContext& ctx) {
    std::vector<std::string> pool = ctx.processes().List("agent");
    for (int i = 0; i < agents_ && !pool.empty(); ++i) {
      const size_t pick = ctx.rng().Index(pool.size());
      victims_.push_back(pool[pick]);
      pool.erase(pool.begin() + static_cast<long>(pick));
    }
    if (reaper_) victims_.push_back("reaper");
  }

  // Records the errors injected since the last report, if any.
  void Report(FaultContext& ctx, const char* when) {
    nlohmann::json by_kind = nlohmann::json::object();
    nlohmann::json by_process = nlohmann::json::object();
    uint64_t total = 0;
    for (size_t slot = 0; slot < victims_.size(); ++slot) {
      for (int kind = 0; kind < FAULTLINE_IOERR_KINDS; ++kind) {
        const uint64_t now = __atomic_load_n(&page_->injected[slot][kind], __ATOMIC_SEQ_CST);
        const uint64_t n = now - reported_[slot][kind];
        reported_[slot][kind] = now;
        if (n == 0) continue;
        total += n;
        by_kind[kCallNames[kind]] = by_kind.value(kCallNames[kind], uint64_t{0}) + n;
        by_process[victims_[slot]][kCallNames[kind]] = n;
      }
    }
    if (total == 0) return;  // nothing was hit: this window did not land
    ctx.Landed({{"when", when},
                {"errno", error_},
                {"armed_at_us", armed_at_us_},
                {"at_us", ctx.Now()},
                {"injected", total},
                {"by_call", std::move(by_kind)},
                {"by_process", std::move(by_process)}});
  }

  int agents_;
  bool reaper_;
  std::vector<std::string> calls_;
  std::string error_;
  int64_t at_ms_;
  int64_t duration_ms_;
  int count_;
  int64_t every_ms_;
  int every_nth_;
  std::string path_contains_;

  std::vector<std::string> victims_;  // index: the process's slot in the page
  std::string control_path_;
  Control* page_ = nullptr;
  int open_windows_ = 0;
  int64_t armed_at_us_ = 0;
  uint64_t reported_[FAULTLINE_IOERR_MAX_SLOTS][FAULTLINE_IOERR_KINDS] = {};
};

}  // namespace

FaultKind IoErrorKind() {
  return {
      "io_error",
      "chosen calls of chosen processes fail with EIO or ENOSPC for a window (LD_PRELOAD layer)",
      "storage faults: a failing disk, a flaky or full network file system",
      /*lockstep_only=*/false,
      {
          {"agents", OptionSpec::Type::kInt, true, 1, 0, FAULTLINE_IOERR_MAX_SLOTS - 1, {},
           "how many agents get the errors (picked from the seed)"},
          {"reaper", OptionSpec::Type::kBool, false, false, 0, 0, {},
           "the reaper gets them too"},
          {"calls", OptionSpec::Type::kStringList, false,
           nlohmann::json::array({"write", "fsync", "rename", "open"}), 0, 0,
           {"write", "fsync", "rename", "open"},
           "which calls fail (write: write/writev/pwrite; fsync: fsync/fdatasync; rename: "
           "rename/renameat; open: open/openat/creat)"},
          {"errno", OptionSpec::Type::kString, false, "EIO", 0, 0, {"EIO", "ENOSPC"},
           "the error (ENOSPC fails only the opens that create)"},
          {"at_ms", OptionSpec::Type::kInt, true, nullptr, 0, 86'400'000, {},
           "when the errors start"},
          {"duration_ms", OptionSpec::Type::kInt, true, 500, -1, 86'400'000, {},
           "how long they last; -1: until the end of the run"},
          {"count", OptionSpec::Type::kInt, true, 1, 1, 1000, {}, "how many windows"},
          {"every_ms", OptionSpec::Type::kInt, true, 2000, 1, 86'400'000, {},
           "time between the starts of windows"},
          {"every_nth", OptionSpec::Type::kInt, true, 1, 1, 1'000'000, {},
           "of the matching calls of each kind, every nth fails (1: all)"},
          {"path_contains", OptionSpec::Type::kString, false, "", 0, 0, {},
           "only files of the coordination directory whose path contains this (\"\": any)"},
      },
      [](const nlohmann::json& o) { return std::make_unique<IoError>(o); },
      /*needs=*/capability::kProcesses | capability::kDirectory | capability::kStateFiles,
  };
}

}  // namespace faultline::faults
