// A short-lived exclusive lock on a lock file, taken without ever blocking.
//
// TryAcquire opens (creating if needed) the lock file, takes flock(LOCK_EX |
// LOCK_NB), and then checks that the path still names the inode it locked:
// a holder removes the lock file before it lets go, so a racer that opened
// the old file would otherwise hold a lock on an unlinked inode while a third
// process locks a fresh file under the same name (the unlink/recreate race).
// On a mismatch it retries with a fresh open.
//
// The kernel drops the flock when the holder dies, so a crashed holder never
// leaves a lock that blocks anyone; the file it leaves is reused and then
// removed by the next holder. Lock files therefore exist only while someone
// is inside a critical section, or briefly after a crash.
#pragma once

#include <string>

#include "coordinator/status.h"

namespace swarm {

class FileLock {
 public:
  // Busy if another process holds it.
  static Result<FileLock> TryAcquire(const std::string& path);
  // Ok if the lock file is free (no holder), Busy if held, NotFound if absent.
  // Does not create the file.
  static Status Probe(const std::string& path);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  // Removes the lock file, then releases the lock.
  ~FileLock();

  const std::string& path() const { return path_; }

 private:
  FileLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  void Release();

  std::string path_;
  int fd_ = -1;
};

}  // namespace swarm
