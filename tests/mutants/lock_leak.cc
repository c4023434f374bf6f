// lock_leak: complete releases its item lock by closing the lock file
// without removing it. Every completed item leaves locks/<item>.lock
// behind; only the reaper's stale-lock sweep takes them away, so they pile
// up between its passes and stay when it is not running (lock file
// accumulation, RPN 180).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "sim/protocol/control_protocol.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

namespace point = faultline::protocol::point;

// The reference's patience with a busy lock (LockWithRetry).
constexpr int kLockRetries = 50;
constexpr int64_t kLockRetrySleepUs = 2000;

// flock on a lock file, as FileLock takes it; released by close alone.
class LeakyLock {
 public:
  LeakyLock() = default;
  LeakyLock(const LeakyLock&) = delete;
  LeakyLock& operator=(const LeakyLock&) = delete;
  ~LeakyLock() {
    if (fd_ >= 0) close(fd_);  // the bug: the file is not unlinked first
  }

  // Busy if another process holds it. Like FileLock, it makes sure the
  // path still names the inode it locked (the reaper's sweep unlinks).
  Status TryAcquire(const std::string& path) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return Status::FromErrno(errno, "open lock " + path);
      if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(fd);
        if (err == EINTR) continue;
        return err == EWOULDBLOCK ? Status::Busy(path + " is held by another process")
                                  : Status::FromErrno(err, "flock " + path);
      }
      struct stat held {}, named {};
      if (fstat(fd, &held) == 0 && stat(path.c_str(), &named) == 0 &&
          held.st_ino == named.st_ino && held.st_dev == named.st_dev) {
        fd_ = fd;
        return Status::Ok();
      }
      close(fd);
    }
    return Status::Busy(path + " keeps being replaced");
  }

 private:
  int fd_ = -1;
};

class LockLeakStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

  Status Complete(const Grant& grant, std::string_view result) override {
    LeakyLock lock;
    const std::string path = ItemLockPath(grant.item);
    for (int i = 0;; ++i) {
      Status s = lock.TryAcquire(path);
      if (s.ok()) break;
      if (!s.IsBusy()) return s;
      if (i == kLockRetries) {
        Event({{"type", "lock_timeout"}, {"agent", grant.agent}, {"item", grant.item},
               {"op", "complete"}});
        return s;
      }
      probe_->Yield(point::kLockBusy, grant.item + ".lock");
      clock_->SleepMicros(kLockRetrySleepUs);
    }
    return CompleteLocked(grant, result, /*check_grant=*/true);
  }
};

}  // namespace

Mutant LockLeak() {
  return {"lock_leak", "never removes the lock file of a completed item",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<LockLeakStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
