#include "coordinator/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fmt/format.h>
#include <utility>

#include "base/fd_io.h"

namespace swarm::fs {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

Status WriteAll(int fd, std::string_view data, const std::string& what) {
  if (!base::WriteAll(fd, data)) return Status::FromErrno(errno, "write " + what);
  return Status::Ok();
}

// Where a call on `name` in `dir` goes: relative to the kept descriptor, or
// by the full path (AT_FDCWD) while there is none.
struct At {
  int fd;
  std::string name;
};
At Locate(Dir& dir, std::string_view name) {
  const int fd = dir.fd();
  if (fd < 0) return {AT_FDCWD, dir.Join(name)};
  return {fd, std::string(name)};
}

std::string_view BaseName(std::string_view path) { return path.substr(path.find_last_of('/') + 1); }

// Writes `data` to a fresh temp file (in `tmp`'s descriptor when it has one,
// else at the full path) and fsyncs it; returns the temp path.
Result<std::string> WriteTempAt(int tmp_fd, const std::string& tmp_dir, const std::string& path,
                                std::string_view data) {
  std::string tmp = TempPath(tmp_dir, BaseName(path));
  Fd fd(tmp_fd < 0 ? open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)
                   : openat(tmp_fd, std::string(BaseName(tmp)).c_str(),
                            O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) return Status::FromErrno(errno, "create temp file " + tmp);
  Status s = WriteAll(fd.get(), data, tmp);
  if (s.ok() && fsync(fd.get()) != 0) s = Status::FromErrno(errno, "fsync " + tmp);
  if (s.ok() && close(fd.Release()) != 0) s = Status::FromErrno(errno, "close " + tmp);
  if (!s.ok()) {
    unlink(tmp.c_str());
    return s;
  }
  return tmp;
}

Result<std::string> WriteTemp(const std::string& tmp_dir, const std::string& path,
                              std::string_view data) {
  return WriteTempAt(-1, tmp_dir, path, data);
}

// The first failure DirSync::AfterChange kept since TakeUnsyncedError last ran.
thread_local Status unsynced_error;

// The directory of a file about to change, opened before the change so that
// what can fail before it (no descriptor left, no such directory) fails the
// operation before its commit point; AfterChange fsyncs it once the change is
// made, when a failure no longer undoes anything and is kept instead of
// returned.
// With a kept Dir, its descriptor stands for the opened one (it is already
// open, which is all the early open is for).
class DirSync {
 public:
  explicit DirSync(const std::string& path)
      : dir_(DirName(path)), owned_(open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    fd_ = owned_.get();
    if (fd_ < 0) status_ = Status::FromErrno(errno, "open the directory of " + path);
  }
  DirSync(Dir& kept, const std::string& path) : dir_(kept.path()), owned_(-1), fd_(kept.fd()) {
    if (fd_ >= 0) return;
    owned_.Reset(open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    fd_ = owned_.get();
    if (fd_ < 0) status_ = Status::FromErrno(errno, "open the directory of " + path);
  }
  const Status& status() const { return status_; }
  Status AfterChange() {
    if (fsync(fd_) != 0 && unsynced_error.ok()) {
      unsynced_error = Status::FromErrno(errno, "fsync directory " + dir_);
    }
    return Status::Ok();
  }
  // The same fsync, its failure handed to the caller in `*unsynced`.
  Status AfterChange(Status* unsynced) {
    if (unsynced == nullptr) return AfterChange();
    if (fsync(fd_) != 0) *unsynced = Status::FromErrno(errno, "fsync directory " + dir_);
    return Status::Ok();
  }

 private:
  std::string dir_;
  Fd owned_;
  int fd_;
  Status status_;
};

}  // namespace

Result<std::string> ReadFile(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Status::FromErrno(errno, "open " + path);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read " + path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status WriteAtomic(const std::string& tmp_dir, const std::string& path, std::string_view data) {
  auto tmp = WriteTemp(tmp_dir, path, data);
  if (!tmp.ok()) return tmp.status();
  // Opened once the temp file is closed: no more descriptors at once than
  // the write needs.
  DirSync dir(path);
  if (!dir.status().ok()) {
    unlink(tmp->c_str());
    return dir.status();
  }
  if (rename(tmp->c_str(), path.c_str()) != 0) {
    Status s = Status::FromErrno(errno, "rename " + *tmp + " to " + path);
    unlink(tmp->c_str());
    return s;
  }
  return dir.AfterChange();
}

Status CreateAtomic(const std::string& tmp_dir, const std::string& path, std::string_view data,
                    Status* unsynced) {
  auto tmp = WriteTemp(tmp_dir, path, data);
  if (!tmp.ok()) return tmp.status();
  DirSync dir(path);
  if (!dir.status().ok()) {
    unlink(tmp->c_str());
    return dir.status();
  }
  int rc = link(tmp->c_str(), path.c_str());
  int err = errno;
  unlink(tmp->c_str());
  if (rc != 0) {
    if (err == EEXIST) return Status::Conflict(path + " already exists");
    return Status::FromErrno(err, "link " + *tmp + " to " + path);
  }
  return dir.AfterChange(unsynced);
}

Status Touch(const std::string& path) {
  DirSync dir(path);
  if (!dir.status().ok()) return dir.status();
  Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) return Status::FromErrno(errno, "create " + path);
  return dir.AfterChange();
}

Status Remove(const std::string& path, bool durable) {
  if (!durable) {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, "unlink " + path);
    }
    return Status::Ok();
  }
  DirSync dir(path);
  if (dir.status().code() == Status::Code::kNotFound) return Status::Ok();  // nor the file
  if (!dir.status().ok()) return dir.status();
  if (unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::FromErrno(errno, "unlink " + path);
  }
  return dir.AfterChange();
}

Status Link(const std::string& from, const std::string& to) {
  DirSync dir(to);
  if (!dir.status().ok()) return dir.status();
  if (link(from.c_str(), to.c_str()) != 0) {
    return Status::FromErrno(errno, "link " + from + " to " + to);
  }
  return dir.AfterChange();
}

Status Rename(const std::string& from, const std::string& to) {
  DirSync dir(to);
  if (!dir.status().ok()) return dir.status();
  if (rename(from.c_str(), to.c_str()) != 0) {
    return Status::FromErrno(errno, "rename " + from + " to " + to);
  }
  return dir.AfterChange();
}

Status FsyncDir(const std::string& dir) {
  Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return Status::FromErrno(errno, "open directory " + dir);
  if (fsync(fd.get()) != 0) return Status::FromErrno(errno, "fsync directory " + dir);
  return Status::Ok();
}

Status MakeDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "mkdir " + dir);
  }
  return Status::Ok();
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno(errno, "open directory " + dir);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  }
  int err = errno;
  closedir(d);
  if (err != 0) return Status::FromErrno(err, "read directory " + dir);
  std::sort(names.begin(), names.end());
  return names;
}

Status TakeUnsyncedError() { return std::exchange(unsynced_error, Status::Ok()); }

std::string StripSuffix(const std::string& name, std::string_view suffix) {
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(),
                                                  suffix) == 0) {
    return name.substr(0, name.size() - suffix.size());
  }
  return {};
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

Result<bool> Present(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT || errno == ENOTDIR) return false;
  return Status::FromErrno(errno, "stat " + path);
}

Status CheckEmptyOrNew(const std::string& dir) {
  if (!Exists(dir)) return Status::Ok();
  if (!IsDirectory(dir)) return Status::InvalidArgument(dir + " exists and is not a directory");
  auto names = ListDir(dir);
  if (!names.ok()) return names.status();
  if (!names->empty()) {
    return Status::InvalidArgument(dir +
                                   " is not empty and not a swarm coordination directory; "
                                   "choose an empty or new directory");
  }
  return Status::Ok();
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string TempPath(const std::string& tmp_dir, std::string_view hint) {
  static std::atomic<uint64_t> seq{0};
  return fmt::format("{}/{}.{}.{}.tmp", tmp_dir, getpid(), seq.fetch_add(1), hint);
}

int TempFileOwner(std::string_view name) {
  size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0) return 0;
  int pid = 0;
  for (char c : name.substr(0, dot)) {
    if (c < '0' || c > '9') return 0;
    pid = pid * 10 + (c - '0');
    if (pid > (1 << 22)) return 0;
  }
  return pid;
}

bool ProcessAlive(int pid) {
  if (pid <= 0) return false;
  return kill(pid, 0) == 0 || errno == EPERM;
}

// ---------------------------------------------------------------------------
// Calls in a kept directory

Dir::~Dir() {
  if (fd_ >= 0) close(fd_);
}

std::string Dir::Join(std::string_view name) const {
  std::string out;
  out.reserve(path_.size() + 1 + name.size());
  out.append(path_).append("/").append(name);
  return out;
}

int Dir::fd() {
  if (fd_ < 0) fd_ = open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return fd_;
}

Result<std::string> ReadFile(Dir& dir, std::string_view name) {
  const At at = Locate(dir, name);
  Fd fd(openat(at.fd, at.name.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Status::FromErrno(errno, "open " + dir.Join(name));
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read " + dir.Join(name));
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status WriteAtomic(Dir& tmp, Dir& dir, std::string_view name, std::string_view data) {
  const std::string path = dir.Join(name);
  auto temp = WriteTempAt(tmp.fd(), tmp.path(), path, data);
  if (!temp.ok()) return temp.status();
  DirSync sync(dir, path);
  if (!sync.status().ok()) {
    unlink(temp->c_str());
    return sync.status();
  }
  const At from = Locate(tmp, BaseName(*temp));
  const At to = Locate(dir, name);
  if (renameat(from.fd, from.name.c_str(), to.fd, to.name.c_str()) != 0) {
    Status s = Status::FromErrno(errno, "rename " + *temp + " to " + path);
    unlink(temp->c_str());
    return s;
  }
  return sync.AfterChange();
}

Status CreateAtomic(Dir& tmp, Dir& dir, std::string_view name, std::string_view data,
                    Status* unsynced) {
  const std::string path = dir.Join(name);
  auto temp = WriteTempAt(tmp.fd(), tmp.path(), path, data);
  if (!temp.ok()) return temp.status();
  DirSync sync(dir, path);
  if (!sync.status().ok()) {
    unlink(temp->c_str());
    return sync.status();
  }
  const At from = Locate(tmp, BaseName(*temp));
  const At to = Locate(dir, name);
  int rc = linkat(from.fd, from.name.c_str(), to.fd, to.name.c_str(), 0);
  int err = errno;
  unlinkat(from.fd, from.name.c_str(), 0);
  if (rc != 0) {
    if (err == EEXIST) return Status::Conflict(path + " already exists");
    return Status::FromErrno(err, "link " + *temp + " to " + path);
  }
  return sync.AfterChange(unsynced);
}

Status Touch(Dir& dir, std::string_view name) {
  const std::string path = dir.Join(name);
  DirSync sync(dir, path);
  if (!sync.status().ok()) return sync.status();
  const At at = Locate(dir, name);
  Fd fd(openat(at.fd, at.name.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) return Status::FromErrno(errno, "create " + path);
  return sync.AfterChange();
}

Status Remove(Dir& dir, std::string_view name, bool durable) {
  if (durable) return Remove(dir.Join(name), /*durable=*/true);
  const At at = Locate(dir, name);
  if (unlinkat(at.fd, at.name.c_str(), 0) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "unlink " + dir.Join(name));
  }
  return Status::Ok();
}

bool Exists(Dir& dir, std::string_view name) {
  const At at = Locate(dir, name);
  struct stat st {};
  return fstatat(at.fd, at.name.c_str(), &st, 0) == 0;
}

Status FsyncDir(Dir& dir) {
  const int fd = dir.fd();
  if (fd < 0) return FsyncDir(dir.path());
  if (fsync(fd) != 0) return Status::FromErrno(errno, "fsync directory " + dir.path());
  return Status::Ok();
}

}  // namespace swarm::fs
