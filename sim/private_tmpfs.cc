#include "sim/private_tmpfs.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace faultline {
namespace {

bool WriteProc(const char* path, const std::string& text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

base::Status EnterPrivateMountNamespace() {
  static bool entered = false;
  if (entered) return base::Status::Ok();
  if (geteuid() == 0) {
    if (unshare(CLONE_NEWNS) != 0) {
      return base::Status::IOError(fmt::format("unshare(CLONE_NEWNS): {}", strerror(errno)));
    }
  } else {
    // An unprivileged user namespace in which we are root, mapped to us.
    const uid_t uid = geteuid();
    const gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      return base::Status::IOError(
          fmt::format("unshare(CLONE_NEWUSER | CLONE_NEWNS): {} (unprivileged user namespaces are "
                      "disabled on this host; run as root)",
                      strerror(errno)));
    }
    if (!WriteProc("/proc/self/setgroups", "deny") ||
        !WriteProc("/proc/self/uid_map", fmt::format("0 {} 1", uid)) ||
        !WriteProc("/proc/self/gid_map", fmt::format("0 {} 1", gid))) {
      return base::Status::IOError(
          fmt::format("mapping ids in the user namespace: {}", strerror(errno)));
    }
  }
  // Nothing mounted from now on propagates back to the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return base::Status::IOError(fmt::format("making mounts private: {}", strerror(errno)));
  }
  entered = true;
  return base::Status::Ok();
}

}  // namespace

base::Status MountPrivateTmpfs(const std::string& dir, int64_t size_mb) {
  if (base::Status s = EnterPrivateMountNamespace(); !s.ok()) return s;
  const std::string options = fmt::format("size={}m,mode=0700", size_mb);
  if (mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    return base::Status::IOError(
        fmt::format("mount tmpfs ({}) on {}: {}", options, dir, strerror(errno)));
  }
  return base::Status::Ok();
}

void UnmountPrivate(const std::string& dir) { umount2(dir.c_str(), MNT_DETACH); }

}  // namespace faultline
