#include "base/bounded_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace base {
namespace {

const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// errno's code (Status::FromErrno) with strerror alone as the message.
Status Errno(int err) {
  return Status::FromErrno(err, "").code() == Status::Code::kNotFound
             ? Status::NotFound(std::strerror(err))
             : Status::IOError(std::strerror(err));
}

// An fd of `path` open for reading when it is a regular file, else -1 with
// `*status` set. `*size` is its size.
int OpenRegular(const std::string& path, off_t* size, Status* status) {
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    *status = Errno(errno);
    return -1;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    *status = Errno(errno);
    close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    *status = Status::InvalidArgument(std::string("is ") + KindOf(st.st_mode));
    close(fd);
    return -1;
  }
  *size = st.st_size;
  return fd;
}

}  // namespace

Result<std::string> ReadRegularFile(const std::string& path, size_t max_bytes) {
  Status status;
  off_t size = 0;
  const int fd = OpenRegular(path, &size, &status);
  if (fd < 0) return status;
  if (static_cast<uint64_t>(size) > max_bytes) {
    close(fd);
    return Status::InvalidArgument("is " + std::to_string(size) + " bytes, more than the " +
                                   std::to_string(max_bytes) + " accepted");
  }
  std::string out;
  char chunk[65536];
  for (;;) {
    const ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = Errno(errno);
      close(fd);
      return status;
    }
    if (n == 0) break;
    out.append(chunk, static_cast<size_t>(n));
    if (out.size() > max_bytes) {  // it grew while being read
      close(fd);
      return Status::InvalidArgument("grew beyond the " + std::to_string(max_bytes) +
                                     " bytes accepted while read");
    }
  }
  close(fd);
  return out;
}

Status CheckRegularFile(const std::string& path) {
  Status status;
  off_t size = 0;
  const int fd = OpenRegular(path, &size, &status);
  if (fd < 0) return status;
  close(fd);
  return Status::Ok();
}

}  // namespace base
