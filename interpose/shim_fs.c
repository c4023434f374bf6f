/* libfaultline_interpose.so, file-system calls: a yield point before every
 * call on the coordination directory through which processes interact.
 *
 * Each libc spelling of a call (open, open64, openat, __open_2, creat,
 * fopen, ...; stat, lstat, fstatat, statx, __xstat, ...) yields at one point
 * named for the call's family (FL_IP_POINT_*), with the path relative to the
 * coordination directory as its item. Calls on other paths do not yield:
 * exec, the dynamic loader and the PATH search stay cheap. Writes, syncs and
 * locks through a descriptor yield when the descriptor names a file on the
 * directory (the descriptor table in shim_core.c). flock and fcntl locks that
 * would block are modelled: tried without blocking, parked as blocked while
 * they would block. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "interpose/shim.h"
#include "sim/protocol/interpose_protocol.h"

static void *real_open, *real_open64, *real_openat, *real_openat64, *real_creat, *real_creat64;
static void *real___open_2, *real___open64_2, *real___openat_2, *real___openat64_2;
static void *real_fopen, *real_fopen64, *real_freopen, *real_freopen64;
static void *real_stat, *real_stat64, *real_lstat, *real_lstat64, *real_fstatat, *real_fstatat64,
    *real_statx;
static void *real___xstat, *real___xstat64, *real___lxstat, *real___lxstat64, *real___fxstatat,
    *real___fxstatat64;
static void *real_access, *real_faccessat, *real_eaccess, *real_euidaccess;
static void *real_rename, *real_renameat, *real_renameat2;
static void *real_link, *real_linkat, *real_symlink, *real_symlinkat;
static void *real_unlink, *real_unlinkat, *real_remove, *real_mkdir, *real_mkdirat, *real_rmdir;
static void *real_truncate, *real_truncate64, *real_ftruncate, *real_ftruncate64;
static void *real_fsync, *real_fdatasync, *real_flock, *real_fcntl, *real_fcntl64;
static void *real_close, *real_dup, *real_dup2, *real_dup3, *real_chdir, *real_fchdir;

/* Yields at `point` if `path` is on the coordination directory. */
static void yield_path(const char* point, int dirfd, const char* path) {
  char rel[PATH_MAX];
  if (fl_rel_path(dirfd, path, rel, sizeof rel)) fl_yield(point, rel, NULL);
}

/* Yields at `point` if either path is on the directory (rename, link). */
static void yield_paths(const char* point, int dirfd1, const char* p1, int dirfd2, const char* p2) {
  char r1[PATH_MAX], r2[PATH_MAX];
  int in1 = fl_rel_path(dirfd1, p1, r1, sizeof r1);
  int in2 = fl_rel_path(dirfd2, p2, r2, sizeof r2);
  if (in1 || in2) fl_yield(point, r1, r2);
}

static void yield_fd(const char* point, int fd) {
  char rel[PATH_MAX];
  if (fl_rel_fd(fd, rel, sizeof rel)) fl_yield(point, rel, NULL);
}

/* ------------------------------------------------------------------------
 * Opening: yield before, record the descriptor after. */

static int opened(int fd, int dirfd, const char* path) {
  if (fd >= 0 && fl.active) {
    char rel[PATH_MAX];
    fl_fd_mark(fd, fl_rel_path(dirfd, path, rel, sizeof rel));
  }
  return fd;
}

static FILE* fopened(FILE* f, const char* path) {
  if (f != NULL) opened(fileno(f), AT_FDCWD, path);
  return f;
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (!fl_on()) return REAL(open)(path, flags, mode);
  yield_path(FL_IP_POINT_OPEN, AT_FDCWD, path);
  return opened(REAL(open)(path, flags, mode), AT_FDCWD, path);
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (!fl_on()) return REAL(open64)(path, flags, mode);
  yield_path(FL_IP_POINT_OPEN, AT_FDCWD, path);
  return opened(REAL(open64)(path, flags, mode), AT_FDCWD, path);
}

int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (!fl_on()) return REAL(openat)(dirfd, path, flags, mode);
  yield_path(FL_IP_POINT_OPEN, dirfd, path);
  return opened(REAL(openat)(dirfd, path, flags, mode), dirfd, path);
}

int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (!fl_on()) return REAL(openat64)(dirfd, path, flags, mode);
  yield_path(FL_IP_POINT_OPEN, dirfd, path);
  return opened(REAL(openat64)(dirfd, path, flags, mode), dirfd, path);
}

/* The checked forms _FORTIFY_SOURCE builds call (mkdir calls __open_2). */
int __open_2(const char* path, int flags);
int __open64_2(const char* path, int flags);
int __openat_2(int dirfd, const char* path, int flags);
int __openat64_2(int dirfd, const char* path, int flags);

int __open_2(const char* path, int flags) {
  if (!fl_on()) return REAL(__open_2)(path, flags);
  yield_path(FL_IP_POINT_OPEN, AT_FDCWD, path);
  return opened(REAL(__open_2)(path, flags), AT_FDCWD, path);
}

int __open64_2(const char* path, int flags) {
  if (!fl_on()) return REAL(__open64_2)(path, flags);
  yield_path(FL_IP_POINT_OPEN, AT_FDCWD, path);
  return opened(REAL(__open64_2)(path, flags), AT_FDCWD, path);
}

int __openat_2(int dirfd, const char* path, int flags) {
  if (!fl_on()) return REAL(__openat_2)(dirfd, path, flags);
  yield_path(FL_IP_POINT_OPEN, dirfd, path);
  return opened(REAL(__openat_2)(dirfd, path, flags), dirfd, path);
}

int __openat64_2(int dirfd, const char* path, int flags) {
  if (!fl_on()) return REAL(__openat64_2)(dirfd, path, flags);
  yield_path(FL_IP_POINT_OPEN, dirfd, path);
  return opened(REAL(__openat64_2)(dirfd, path, flags), dirfd, path);
}

int creat(const char* path, mode_t mode) {
  if (!fl_on()) return REAL(creat)(path, mode);
  yield_path(FL_IP_POINT_OPEN, AT_FDCWD, path);
  return opened(REAL(creat)(path, mode), AT_FDCWD, path);
}

int creat64(const char* path, mode_t mode) {
  if (!fl_on()) return REAL(creat64)(path, mode);
  yield_path(FL_IP_POINT_OPEN, AT_FDCWD, path);
  return opened(REAL(creat64)(path, mode), AT_FDCWD, path);
}

/* stdio opens files through libc-internal calls no wrapper sees. */
FILE* fopen(const char* path, const char* mode) {
  if (!fl_on()) return REAL(fopen)(path, mode);
  yield_path(FL_IP_POINT_OPEN, AT_FDCWD, path);
  return fopened(REAL(fopen)(path, mode), path);
}

FILE* fopen64(const char* path, const char* mode) {
  if (!fl_on()) return REAL(fopen64)(path, mode);
  yield_path(FL_IP_POINT_OPEN, AT_FDCWD, path);
  return fopened(REAL(fopen64)(path, mode), path);
}

FILE* freopen(const char* path, const char* mode, FILE* stream) {
  if (!fl_on() || path == NULL) return REAL(freopen)(path, mode, stream);
  yield_path(FL_IP_POINT_OPEN, AT_FDCWD, path);
  return fopened(REAL(freopen)(path, mode, stream), path);
}

FILE* freopen64(const char* path, const char* mode, FILE* stream) {
  if (!fl_on() || path == NULL) return REAL(freopen64)(path, mode, stream);
  yield_path(FL_IP_POINT_OPEN, AT_FDCWD, path);
  return fopened(REAL(freopen64)(path, mode, stream), path);
}

/* ------------------------------------------------------------------------
 * Looking: the checks of check-then-act. */

#define YIELD_THEN(point, dirfd, path, call)     \
  do {                                           \
    if (fl_on()) yield_path(point, dirfd, path); \
    return call;                                 \
  } while (0)

int stat(const char* path, struct stat* st) {
  YIELD_THEN(FL_IP_POINT_STAT, AT_FDCWD, path, REAL(stat)(path, st));
}
int stat64(const char* path, struct stat64* st) {
  YIELD_THEN(FL_IP_POINT_STAT, AT_FDCWD, path, REAL(stat64)(path, st));
}
int lstat(const char* path, struct stat* st) {
  YIELD_THEN(FL_IP_POINT_STAT, AT_FDCWD, path, REAL(lstat)(path, st));
}
int lstat64(const char* path, struct stat64* st) {
  YIELD_THEN(FL_IP_POINT_STAT, AT_FDCWD, path, REAL(lstat64)(path, st));
}
int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  YIELD_THEN(FL_IP_POINT_STAT, dirfd, path, REAL(fstatat)(dirfd, path, st, flags));
}
int fstatat64(int dirfd, const char* path, struct stat64* st, int flags) {
  YIELD_THEN(FL_IP_POINT_STAT, dirfd, path, REAL(fstatat64)(dirfd, path, st, flags));
}
int statx(int dirfd, const char* path, int flags, unsigned int mask, struct statx* st) {
  YIELD_THEN(FL_IP_POINT_STAT, dirfd, path, REAL(statx)(dirfd, path, flags, mask, st));
}

/* What binaries linked against glibc before 2.33 call. */
int __xstat(int ver, const char* path, struct stat* st);
int __xstat64(int ver, const char* path, struct stat64* st);
int __lxstat(int ver, const char* path, struct stat* st);
int __lxstat64(int ver, const char* path, struct stat64* st);
int __fxstatat(int ver, int dirfd, const char* path, struct stat* st, int flags);
int __fxstatat64(int ver, int dirfd, const char* path, struct stat64* st, int flags);

int __xstat(int ver, const char* path, struct stat* st) {
  YIELD_THEN(FL_IP_POINT_STAT, AT_FDCWD, path, REAL(__xstat)(ver, path, st));
}
int __xstat64(int ver, const char* path, struct stat64* st) {
  YIELD_THEN(FL_IP_POINT_STAT, AT_FDCWD, path, REAL(__xstat64)(ver, path, st));
}
int __lxstat(int ver, const char* path, struct stat* st) {
  YIELD_THEN(FL_IP_POINT_STAT, AT_FDCWD, path, REAL(__lxstat)(ver, path, st));
}
int __lxstat64(int ver, const char* path, struct stat64* st) {
  YIELD_THEN(FL_IP_POINT_STAT, AT_FDCWD, path, REAL(__lxstat64)(ver, path, st));
}
int __fxstatat(int ver, int dirfd, const char* path, struct stat* st, int flags) {
  YIELD_THEN(FL_IP_POINT_STAT, dirfd, path, REAL(__fxstatat)(ver, dirfd, path, st, flags));
}
int __fxstatat64(int ver, int dirfd, const char* path, struct stat64* st, int flags) {
  YIELD_THEN(FL_IP_POINT_STAT, dirfd, path, REAL(__fxstatat64)(ver, dirfd, path, st, flags));
}

int access(const char* path, int mode) {
  YIELD_THEN(FL_IP_POINT_ACCESS, AT_FDCWD, path, REAL(access)(path, mode));
}
int faccessat(int dirfd, const char* path, int mode, int flags) {
  YIELD_THEN(FL_IP_POINT_ACCESS, dirfd, path, REAL(faccessat)(dirfd, path, mode, flags));
}
int eaccess(const char* path, int mode) {
  YIELD_THEN(FL_IP_POINT_ACCESS, AT_FDCWD, path, REAL(eaccess)(path, mode));
}
int euidaccess(const char* path, int mode) {
  YIELD_THEN(FL_IP_POINT_ACCESS, AT_FDCWD, path, REAL(euidaccess)(path, mode));
}

/* ------------------------------------------------------------------------
 * Changing names. */

int rename(const char* from, const char* to) {
  if (fl_on()) yield_paths(FL_IP_POINT_RENAME, AT_FDCWD, from, AT_FDCWD, to);
  return REAL(rename)(from, to);
}
int renameat(int fromfd, const char* from, int tofd, const char* to) {
  if (fl_on()) yield_paths(FL_IP_POINT_RENAME, fromfd, from, tofd, to);
  return REAL(renameat)(fromfd, from, tofd, to);
}
int renameat2(int fromfd, const char* from, int tofd, const char* to, unsigned int flags) {
  if (fl_on()) yield_paths(FL_IP_POINT_RENAME, fromfd, from, tofd, to);
  return REAL(renameat2)(fromfd, from, tofd, to, flags);
}
int link(const char* from, const char* to) {
  if (fl_on()) yield_paths(FL_IP_POINT_LINK, AT_FDCWD, from, AT_FDCWD, to);
  return REAL(link)(from, to);
}
int linkat(int fromfd, const char* from, int tofd, const char* to, int flags) {
  if (fl_on()) yield_paths(FL_IP_POINT_LINK, fromfd, from, tofd, to);
  return REAL(linkat)(fromfd, from, tofd, to, flags);
}
/* The item is the link created; "to" is its target, as written. */
int symlink(const char* target, const char* linkpath) {
  char rel[PATH_MAX];
  if (fl_on() && fl_rel_path(AT_FDCWD, linkpath, rel, sizeof rel)) {
    fl_yield(FL_IP_POINT_SYMLINK, rel, target);
  }
  return REAL(symlink)(target, linkpath);
}
int symlinkat(const char* target, int dirfd, const char* linkpath) {
  char rel[PATH_MAX];
  if (fl_on() && fl_rel_path(dirfd, linkpath, rel, sizeof rel)) {
    fl_yield(FL_IP_POINT_SYMLINK, rel, target);
  }
  return REAL(symlinkat)(target, dirfd, linkpath);
}
int unlink(const char* path) { YIELD_THEN(FL_IP_POINT_UNLINK, AT_FDCWD, path, REAL(unlink)(path)); }
int unlinkat(int dirfd, const char* path, int flags) {
  YIELD_THEN((flags & AT_REMOVEDIR) != 0 ? FL_IP_POINT_RMDIR : FL_IP_POINT_UNLINK, dirfd, path,
             REAL(unlinkat)(dirfd, path, flags));
}
int remove(const char* path) { YIELD_THEN(FL_IP_POINT_UNLINK, AT_FDCWD, path, REAL(remove)(path)); }
int mkdir(const char* path, mode_t mode) {
  YIELD_THEN(FL_IP_POINT_MKDIR, AT_FDCWD, path, REAL(mkdir)(path, mode));
}
int mkdirat(int dirfd, const char* path, mode_t mode) {
  YIELD_THEN(FL_IP_POINT_MKDIR, dirfd, path, REAL(mkdirat)(dirfd, path, mode));
}
int rmdir(const char* path) { YIELD_THEN(FL_IP_POINT_RMDIR, AT_FDCWD, path, REAL(rmdir)(path)); }
int truncate(const char* path, off_t length) {
  YIELD_THEN(FL_IP_POINT_TRUNCATE, AT_FDCWD, path, REAL(truncate)(path, length));
}
int truncate64(const char* path, off64_t length) {
  YIELD_THEN(FL_IP_POINT_TRUNCATE, AT_FDCWD, path, REAL(truncate64)(path, length));
}

/* ------------------------------------------------------------------------
 * Through descriptors. */

int ftruncate(int fd, off_t length) {
  if (fl_on()) yield_fd(FL_IP_POINT_TRUNCATE, fd);
  return REAL(ftruncate)(fd, length);
}
int ftruncate64(int fd, off64_t length) {
  if (fl_on()) yield_fd(FL_IP_POINT_TRUNCATE, fd);
  return REAL(ftruncate64)(fd, length);
}
int fsync(int fd) {
  if (fl_on()) yield_fd(FL_IP_POINT_FSYNC, fd);
  return REAL(fsync)(fd);
}
int fdatasync(int fd) {
  if (fl_on()) yield_fd(FL_IP_POINT_FSYNC, fd);
  return REAL(fdatasync)(fd);
}

int flock(int fd, int op) {
  if (!fl_on()) return REAL(flock)(fd, op);
  char rel[PATH_MAX];
  int on_dir = fl_rel_fd(fd, rel, sizeof rel);
  if (on_dir) fl_yield(FL_IP_POINT_FLOCK, rel, NULL);
  if ((op & LOCK_NB) != 0 || (op & (LOCK_EX | LOCK_SH)) == 0) return REAL(flock)(fd, op);
  for (;;) {
    int rc = REAL(flock)(fd, op | LOCK_NB);
    if (rc == 0 || errno != EWOULDBLOCK) return rc;
    if (fl_block(FL_IP_BLOCK_FLOCK, on_dir ? rel : "", -1) == kFlIntr) {
      errno = EINTR;
      return -1;
    }
  }
}

/* fcntl: locks yield (and F_SETLKW blocks as modelled); descriptor copies
 * carry the descriptor table along. Every fcntl argument is an int or a
 * pointer, passed in one register. */
static int fcntl_common(void* real, int fd, int cmd, void* arg) {
  int (*f)(int, int, void*) = (int (*)(int, int, void*))real;
  if (!fl_on()) return f(fd, cmd, arg);
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      int r = f(fd, cmd, arg);
      if (r >= 0) fl_fd_mark(r, fl_fd_marked(fd));
      return r;
    }
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
      break;
    default:
      return f(fd, cmd, arg);
  }
  char rel[PATH_MAX];
  int on_dir = fl_rel_fd(fd, rel, sizeof rel);
  if (on_dir) fl_yield(FL_IP_POINT_FCNTL_LOCK, rel, NULL);
  if (cmd == F_SETLK || cmd == F_OFD_SETLK) return f(fd, cmd, arg);
  int try_cmd = cmd == F_SETLKW ? F_SETLK : F_OFD_SETLK;
  for (;;) {
    int rc = f(fd, try_cmd, arg);
    if (rc == 0 || (errno != EAGAIN && errno != EACCES)) return rc;
    if (fl_block(FL_IP_BLOCK_FCNTL_LOCK, on_dir ? rel : "", -1) == kFlIntr) {
      errno = EINTR;
      return -1;
    }
  }
}

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntl_common(fl_real_symbol(&real_fcntl, "fcntl"), fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntl_common(fl_real_symbol(&real_fcntl64, "fcntl64"), fd, cmd, arg);
}

int close(int fd) {
  /* After the writes through it: a crash here leaves the file written. */
  if (fl_on()) yield_fd(FL_IP_POINT_CLOSE, fd);
  if (fl.active && !fl.busy) {
    fl_protect_fd(fd);
    fl_fd_mark(fd, 0);
  }
  return REAL(close)(fd);
}

int dup(int fd) {
  int r = REAL(dup)(fd);
  if (r >= 0 && fl.active) fl_fd_mark(r, fl_fd_marked(fd));
  return r;
}

int dup2(int fd, int fd2) {
  if (fl.active && !fl.busy && fd != fd2) fl_protect_fd(fd2);
  int r = REAL(dup2)(fd, fd2);
  if (r >= 0 && fl.active) fl_fd_mark(r, fl_fd_marked(fd));
  return r;
}

int dup3(int fd, int fd2, int flags) {
  if (fl.active && !fl.busy) fl_protect_fd(fd2);
  int r = REAL(dup3)(fd, fd2, flags);
  if (r >= 0 && fl.active) fl_fd_mark(r, fl_fd_marked(fd));
  return r;
}

int chdir(const char* path) {
  int r = REAL(chdir)(path);
  if (r == 0 && fl.active) fl_cwd_changed();
  return r;
}

int fchdir(int fd) {
  int r = REAL(fchdir)(fd);
  if (r == 0 && fl.active) fl_cwd_changed();
  return r;
}
