// The stepped wall clock of the clock_step fault (ClockControl::Steppable and
// Step). Lockstep needs nothing but the sum of the steps, which the loop adds
// to the "now" it sends (and sends the boot clock beside it). Freerun: a
// process's CLOCK_REALTIME is its kernel's, so a steppable process starts
// with libfaultline_wallclock.so preloaded, which adds what the engine writes
// into the process's step page.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "base/install_layout.h"
#include "sim/engine_internal.h"
#include "sim/protocol/wall_clock_step.h"

namespace faultline::engine_detail {

namespace {

// FAULTLINE_WALLCLOCK_PRELOAD if set, else where helpers are found (the build
// tree's lib/, or the installed lib/faultline/); "" with `tried` listing
// where it looked.
std::string FindWallClockLibrary(std::string* tried) {
  if (const char* env = std::getenv("FAULTLINE_WALLCLOCK_PRELOAD"); env && *env) {
    *tried = env;
    return std::filesystem::exists(env) ? std::filesystem::absolute(env).string() : "";
  }
  return base::FindHelper(FAULTLINE_WALL_CLOCK_LIBRARY, tried);
}

}  // namespace

std::shared_ptr<StepPage> StepPage::Create(const std::string& path, std::string* error) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int64_t zero = 0;
  void* mapped = MAP_FAILED;
  if (fd >= 0 && write(fd, &zero, sizeof zero) == static_cast<ssize_t>(sizeof zero)) {
    mapped = mmap(nullptr, sizeof zero, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  }
  const int err = errno;
  if (fd >= 0) close(fd);
  if (mapped == MAP_FAILED) {
    *error =
        fmt::format("cannot create the wall clock's step page {}: {}", path, std::strerror(err));
    return nullptr;
  }
  return std::shared_ptr<StepPage>(new StepPage(path, static_cast<int64_t*>(mapped)));
}

StepPage::~StepPage() { munmap(word_, sizeof *word_); }

void StepPage::Store(int64_t step_us) { __atomic_store_n(word_, step_us, __ATOMIC_SEQ_CST); }

void Engine::MakeSteppable(const std::string& id) {
  Proc* p = Find(id);
  if (p == nullptr || p->steppable) return;
  p->steppable = true;
  if (lockstep_) return;
  std::string tried;
  if (wall_clock_library_.empty()) wall_clock_library_ = FindWallClockLibrary(&tried);
  if (wall_clock_library_.empty()) {
    FaultSetupFailed("clock_step: cannot find the wall clock library (looked for " + tried +
                     "); build the faultline_wallclock target or set "
                     "FAULTLINE_WALLCLOCK_PRELOAD");
    return;
  }
  std::string error;
  p->step_page = StepPage::Create(WriteScratch("wall-clock-" + id + ".step", ""), &error);
  if (!p->step_page) FaultSetupFailed("clock_step: " + error);
}

bool Engine::StepWall(const std::string& id, int64_t step_us) {
  Proc* p = Find(id);
  if (p == nullptr || !p->steppable || (!lockstep_ && !p->step_page)) return false;
  p->wall_step_us += step_us;
  if (p->step_page) p->step_page->Store(p->wall_step_us);
  return true;
}

void Engine::AddWallClockEnv(const Proc& p,
                             std::vector<std::pair<std::string, std::string>>* env) const {
  // The LD_PRELOAD the process would get otherwise: a fault's (the last one
  // given wins, as for every variable), else the harness's own.
  std::string preload;
  if (const char* own = std::getenv("LD_PRELOAD")) preload = own;
  for (const auto& [key, value] : *env) {
    if (key == "LD_PRELOAD") preload = value;
  }
  env->emplace_back("LD_PRELOAD",
                    preload.empty() ? wall_clock_library_ : wall_clock_library_ + ":" + preload);
  env->emplace_back(FAULTLINE_WALL_STEP_ENV, p.step_page->path());
  // AddressSanitizer insists on coming first among the loaded libraries; the
  // wall clock library (built without sanitizers) may go before it.
  std::string asan = "verify_asan_link_order=0";
  if (const char* own = std::getenv("ASAN_OPTIONS"); own && *own)
    asan = std::string(own) + ":" + asan;
  for (const auto& [key, value] : *env) {
    if (key == "ASAN_OPTIONS") asan = value + ":verify_asan_link_order=0";
  }
  env->emplace_back("ASAN_OPTIONS", asan);
}

}  // namespace faultline::engine_detail
