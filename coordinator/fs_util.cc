#include "coordinator/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fmt/format.h>
#include <optional>
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

// The process's id, read once: every temp-file name carries it (TempPath),
// and an atomic write would otherwise ask the kernel for it each time. A
// child made by fork() reads its own.
pid_t Pid() {
  static pid_t pid = [] {
    pthread_atfork(nullptr, nullptr, [] { pid = getpid(); });
    return getpid();
  }();
  return pid;
}

// A name in a directory that is kept open (`kept`, when it has a
// descriptor) or known by path (`path`, the directory's): where a call on
// it goes.
At Where(Dir* kept, const std::string& path, std::string_view name) {
  if (kept != nullptr) return Locate(*kept, name);
  std::string full;
  full.reserve(path.size() + 1 + name.size());
  full.append(path).append("/").append(name);
  return {AT_FDCWD, std::move(full)};
}

// What the first half of an atomic write leaves for its commit: the temp
// file, written and fsynced, and where it and the target are.
struct Staged {
  std::string temp;  // the temp file's full path, for messages
  At from, to;
  Status Discard() const {
    unlinkat(from.fd, from.name.c_str(), 0);
    return Status::Ok();
  }
};

// The first half of both atomic writes (WriteAtomic, CreateAtomic), with the
// directories kept open (`tmp`, `dir`) or, when null, by path (`tmp_path`;
// `target` is then the target's path, else its name in `dir`): a fresh temp
// file in the temp directory holding `data`, fsynced and closed; the
// target's directory opened (DirSync: before the change, so that what can
// fail there fails the write before its commit point; after the temp file is
// closed, so that no more descriptors are open at once than the write
// needs); then `commit(staged, sync)` makes the change — rename or link —
// and owns the temp file from there. Any failure before it removes the temp
// file and leaves the target untouched.
template <typename Commit>
Status StageAndCommit(Dir* tmp, const std::string& tmp_path, Dir* dir, std::string_view target,
                      std::string_view data, Commit&& commit) {
  const std::string path = dir != nullptr ? dir->Join(target) : std::string(target);
  Staged staged;
  staged.temp = TempPath(tmp_path, BaseName(path));
  staged.from = Where(tmp, tmp_path, BaseName(staged.temp));
  {
    Fd fd(openat(staged.from.fd, staged.from.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                 0644));
    if (fd.get() < 0) return Status::FromErrno(errno, "create temp file " + staged.temp);
    Status s = WriteAll(fd.get(), data, staged.temp);
    if (s.ok() && fsync(fd.get()) != 0) s = Status::FromErrno(errno, "fsync " + staged.temp);
    if (s.ok() && close(fd.Release()) != 0) s = Status::FromErrno(errno, "close " + staged.temp);
    if (!s.ok()) {
      staged.Discard();
      return s;
    }
  }
  std::optional<DirSync> sync;
  if (dir != nullptr) {
    sync.emplace(*dir, path);
  } else {
    sync.emplace(path);
  }
  if (!sync->status().ok()) {
    staged.Discard();
    return sync->status();
  }
  staged.to = dir != nullptr ? Locate(*dir, target) : At{AT_FDCWD, path};
  return commit(staged, path, *sync);
}

// The commit of WriteAtomic: rename the temp file over the target.
Status RenameOver(const Staged& staged, const std::string& path, DirSync& sync) {
  if (renameat(staged.from.fd, staged.from.name.c_str(), staged.to.fd, staged.to.name.c_str()) !=
      0) {
    Status s = Status::FromErrno(errno, "rename " + staged.temp + " to " + path);
    staged.Discard();
    return s;
  }
  return sync.AfterChange();
}

// The commit of CreateAtomic: link the temp file as the target, which fails
// (Conflict) if it exists; the temp name goes either way.
Status LinkAs(const Staged& staged, const std::string& path, DirSync& sync, Status* unsynced) {
  const int rc =
      linkat(staged.from.fd, staged.from.name.c_str(), staged.to.fd, staged.to.name.c_str(), 0);
  const int err = errno;
  staged.Discard();
  if (rc != 0) {
    if (err == EEXIST) return Status::Conflict(path + " already exists");
    return Status::FromErrno(err, "link " + staged.temp + " to " + path);
  }
  return sync.AfterChange(unsynced);
}

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
  return StageAndCommit(nullptr, tmp_dir, nullptr, path, data,
                        [](const Staged& staged, const std::string& target, DirSync& sync) {
                          return RenameOver(staged, target, sync);
                        });
}

Status CreateAtomic(const std::string& tmp_dir, const std::string& path, std::string_view data,
                    Status* unsynced) {
  return StageAndCommit(nullptr, tmp_dir, nullptr, path, data,
                        [unsynced](const Staged& staged, const std::string& target,
                                   DirSync& sync) { return LinkAs(staged, target, sync, unsynced); });
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
  return fmt::format("{}/{}.{}.{}.tmp", tmp_dir, Pid(), seq.fetch_add(1), hint);
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
  return StageAndCommit(&tmp, tmp.path(), &dir, name, data,
                        [](const Staged& staged, const std::string& path, DirSync& sync) {
                          return RenameOver(staged, path, sync);
                        });
}

Status CreateAtomic(Dir& tmp, Dir& dir, std::string_view name, std::string_view data,
                    Status* unsynced) {
  return StageAndCommit(&tmp, tmp.path(), &dir, name, data,
                        [unsynced](const Staged& staged, const std::string& path, DirSync& sync) {
                          return LinkAs(staged, path, sync, unsynced);
                        });
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
