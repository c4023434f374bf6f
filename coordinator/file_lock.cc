#include "coordinator/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace swarm {

Result<FileLock> FileLock::TryAcquire(const std::string& path) {
  // A handful of retries covers a racer that keeps unlinking under us; after
  // that the lock counts as busy and the caller comes back later.
  for (int attempt = 0; attempt < 8; ++attempt) {
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno(errno, "open lock " + path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      close(fd);
      if (err == EWOULDBLOCK) return Status::Busy(path + " is held by another process");
      if (err == EINTR) continue;
      return Status::FromErrno(err, "flock " + path);
    }
    struct stat held {}, named {};
    if (fstat(fd, &held) == 0 && stat(path.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev) {
      return FileLock(path, fd);
    }
    close(fd);  // the file we locked was removed or replaced: start over
  }
  return Status::Busy(path + " keeps being replaced");
}

Status FileLock::Probe(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open lock " + path);
  int rc = flock(fd, LOCK_EX | LOCK_NB);
  int err = errno;
  close(fd);  // closing drops the probe's lock if it got one
  if (rc == 0) return Status::Ok();
  return err == EWOULDBLOCK ? Status::Busy(path + " is held") : Status::FromErrno(err, "flock " + path);
}

FileLock::FileLock(FileLock&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    Release();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileLock::~FileLock() { Release(); }

void FileLock::Release() {
  if (fd_ < 0) return;
  // Unlink while still holding the lock, so nobody can lock this inode and
  // believe it is the live lock file. Not fsynced: a lock file that survives
  // a power loss is just reused by the next holder.
  unlink(path_.c_str());
  close(fd_);
  fd_ = -1;
}

}  // namespace swarm
