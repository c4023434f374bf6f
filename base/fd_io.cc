#include "base/fd_io.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace base {
namespace {

// The loop both share; `write_some` is one system call.
template <typename WriteSome>
bool WriteLoop(std::string_view data, WriteSome write_some) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = write_some(p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    // Neither call returns 0 for a non-empty buffer on a working descriptor;
    // retrying would spin, so it is a failure.
    if (n == 0) {
      errno = EIO;
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

bool WriteAll(int fd, std::string_view data) {
  return WriteLoop(data, [fd](const char* p, size_t n) { return write(fd, p, n); });
}

bool SendAll(int fd, std::string_view data) {
  return WriteLoop(data, [fd](const char* p, size_t n) {
    ssize_t sent = send(fd, p, n, MSG_NOSIGNAL);
    if (sent < 0 && errno == ENOTSOCK) sent = write(fd, p, n);
    return sent;
  });
}

}  // namespace base
