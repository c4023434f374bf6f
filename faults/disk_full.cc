// disk_full: the run's scratch directory (with the coordination directory in
// it) is a private tmpfs of `size_mb` MiB; at `at_ms` a ballast file fills it
// to the last byte — real ENOSPC for every process of the run — and
// `duration_ms` later the ballast is removed. Stands for lock accumulation /
// disk alerts (RPN 180) and database corruption from a full disk.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <string>

#include "faults/kinds.h"

namespace faultline::faults {
namespace {

class DiskFull final : public Fault {
 public:
  explicit DiskFull(const nlohmann::json& o)
      : size_mb_(o["size_mb"]), at_ms_(o["at_ms"]), duration_ms_(o["duration_ms"]),
        count_(o["count"]), every_ms_(o["every_ms"]) {}

  int64_t PrivateTmpfsMb() const override { return size_mb_; }

  void Start(FaultContext& ctx) override {
    for (int i = 0; i < count_; ++i) ctx.SetTimer((at_ms_ + i * every_ms_) * 1000, kFill);
  }

  void OnTimer(FaultContext& ctx, int tag) override {
    const std::string ballast = ctx.directory().ScratchDir() + "/ballast";
    if (tag == kHeal) {
      if (unlink(ballast.c_str()) == 0) ctx.Landed({{"healed", true}, {"at_us", ctx.Now()}});
      return;
    }
    int fd = open(ballast.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    static const std::string chunk(64 * 1024, '\0');
    int64_t bytes = 0;
    int err = 0;
    for (;;) {
      ssize_t n = write(fd, chunk.data(), chunk.size());
      if (n > 0) {
        bytes += n;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      err = n < 0 ? errno : ENOSPC;
      break;
    }
    close(fd);
    if (err != ENOSPC) return;  // something else went wrong: not a full disk
    ctx.Landed({{"filled_bytes", bytes}, {"error", strerror(err)}, {"at_us", ctx.Now()}});
    if (duration_ms_ >= 0) ctx.SetTimer(ctx.Now() + duration_ms_ * 1000, kHeal);
  }

 private:
  enum { kFill, kHeal };
  int64_t size_mb_;
  int64_t at_ms_;
  int64_t duration_ms_;
  int count_;
  int64_t every_ms_;
};

}  // namespace

FaultKind DiskFullKind() {
  return {
      "disk_full",
      "the coordination directory is on a private tmpfs; a ballast file fills it, then goes",
      "lock accumulation / disk alerts (RPN 180), corruption from a full disk",
      /*lockstep_only=*/false,
      {
          {"size_mb", OptionSpec::Type::kInt, false, 16, 2, 4096, {},
           "size of the run's private tmpfs (MiB)"},
          {"at_ms", OptionSpec::Type::kInt, true, nullptr, 0, 86'400'000, {},
           "when the ballast fills the disk"},
          {"duration_ms", OptionSpec::Type::kInt, true, 1000, -1, 86'400'000, {},
           "how long the disk stays full; -1: never heals"},
          {"count", OptionSpec::Type::kInt, true, 1, 1, 1000, {}, "how many times"},
          {"every_ms", OptionSpec::Type::kInt, true, 3000, 1, 86'400'000, {},
           "time between fillings"},
      },
      [](const nlohmann::json& o) { return std::make_unique<DiskFull>(o); },
      /*needs=*/capability::kDirectory | capability::kStateFiles,
  };
}

}  // namespace faultline::faults
