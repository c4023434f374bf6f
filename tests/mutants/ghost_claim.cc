// ghost_claim: the claim locks the item's own state file (opened with
// O_CREAT, as `exec 200<>item; flock 200` does) and waits for the flock on
// that descriptor, instead of a lock file checked against its path. Every
// state write replaces the file by rename, so a loser that opened the file
// before the winner's write ends up locking, reading and claiming the
// version the winner renamed away: a ghost of the pending item, granted a
// second time with the same token (the flock-on-a-path bug of the runbooks).
#include <fcntl.h>
#include <sys/file.h>
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

class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() { Close(); }
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) close(fd_);  // drops the flock
    fd_ = -1;
  }

 private:
  int fd_;
};

Result<std::string> ReadAll(int fd, const std::string& what) {
  std::string text;
  char buf[4096];
  for (off_t at = 0;;) {
    ssize_t n = pread(fd, buf, sizeof buf, at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read " + what);
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
    at += n;
  }
}

class GhostClaimStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

  Result<Grant> Claim(const std::string& id, const std::string& agent) override {
    const std::string path = ItemPath(id);
    Descriptor item(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (item.get() < 0) return Status::FromErrno(errno, "open " + Rel(path));
    SWARM_RETURN_IF_ERROR(FlockWaiting(item.get(), id, agent));
    probe_->Yield(point::kClaimLocked, id);
    // Read through the locked descriptor: the file it names may have been
    // replaced since it was opened.
    auto text = ReadAll(item.get(), Rel(path));
    if (!text.ok()) return text.status();
    auto state = ItemFromJson(*text, Rel(path));
    if (!state.ok() || state->id != id || state->status != ItemStatus::kPending) {
      // Takeovers, finished and damaged items go the reference way.
      item.Close();
      return FsStore::Claim(id, agent);
    }
    return GrantPending(std::move(*state), agent, clock_->NowMicros() + config_.lease_ms * 1000);
  }

 private:
  // flock(LOCK_EX | LOCK_NB) on `fd`, retried (sleeping on the clock) while
  // another process holds it, as the reference's LockWithRetry does.
  Status FlockWaiting(int fd, const std::string& id, const std::string& agent) {
    for (int i = 0;; ++i) {
      if (flock(fd, LOCK_EX | LOCK_NB) == 0) return Status::Ok();
      if (errno == EINTR) continue;
      if (errno != EWOULDBLOCK) return Status::FromErrno(errno, "flock " + Rel(ItemPath(id)));
      if (i == kLockRetries) {
        Event({{"type", "lock_timeout"}, {"agent", agent}, {"item", id}, {"op", "claim"}});
        return Status::Busy(Rel(ItemPath(id)) + " is held");
      }
      probe_->Yield(point::kLockBusy, id + ".json");
      clock_->SleepMicros(kLockRetrySleepUs);
    }
  }
};

}  // namespace

Mutant GhostClaim() {
  return {"ghost_claim",
          "locks a claim with flock on the item's state file itself, which every write replaces "
          "by rename",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<GhostClaimStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
