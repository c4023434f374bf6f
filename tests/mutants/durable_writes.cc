#include "tests/mutants/durable_writes.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/fd_io.h"
#include "coordinator/fs_util.h"

namespace swarm::mutants {
namespace {

Status WriteFile(const std::string& path, std::string_view data, int flags, bool sync) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | flags, 0644);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  Status s;
  if (!base::WriteAll(fd, data)) s = Status::FromErrno(errno, "write " + path);
  if (s.ok() && sync && fsync(fd) != 0) s = Status::FromErrno(errno, "fsync " + path);
  close(fd);
  return s;
}

void SyncDir(const std::string& path, bool sync) {
  if (!sync) return;
  int fd = open(fs::DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

}  // namespace

Status CreateOnce(const std::string& tmp_dir, const std::string& path, std::string_view data,
                  Durability d) {
  const std::string tmp = fs::TempPath(tmp_dir, path.substr(path.find_last_of('/') + 1));
  Status s = WriteFile(tmp, data, O_CREAT | O_EXCL, d.fsync_file);
  if (!s.ok()) {
    unlink(tmp.c_str());
    return s;
  }
  const int rc = link(tmp.c_str(), path.c_str());
  const int err = errno;
  unlink(tmp.c_str());
  if (rc != 0) {
    if (err == EEXIST) return Status::Conflict(path + " already exists");
    return Status::FromErrno(err, "link " + tmp + " to " + path);
  }
  SyncDir(path, d.fsync_dir);
  return Status::Ok();
}

Status Replace(const std::string& tmp_dir, const std::string& path, std::string_view data,
               Durability d) {
  const std::string tmp = fs::TempPath(tmp_dir, path.substr(path.find_last_of('/') + 1));
  Status s = WriteFile(tmp, data, O_CREAT | O_EXCL, d.fsync_file);
  if (s.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    s = Status::FromErrno(errno, "rename " + tmp + " to " + path);
  }
  if (!s.ok()) {
    unlink(tmp.c_str());
    return s;
  }
  SyncDir(path, d.fsync_dir);
  return Status::Ok();
}

Status OverwriteInPlace(const std::string& path, std::string_view data) {
  return WriteFile(path, data, O_TRUNC, /*sync=*/false);
}

}  // namespace swarm::mutants
