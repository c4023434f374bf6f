/* libfaultline_ioerr.so: the LD_PRELOAD layer of the io_error fault.
 *
 * Interposes the libc entry points that write, sync, rename and open files
 * and, while the shared control page (io_error_control.h) says "armed",
 * makes the chosen kinds of call on files under the chosen directory fail
 * with the chosen errno, without doing them. Every injected error is counted
 * in the page, per process slot and kind, for the fault's landed evidence.
 *
 * Safe to load anywhere: without FAULTLINE_IOERR_CTL (or with a page it
 * does not recognise) every call goes straight to libc, and while disarmed
 * the only extra work is one load of the armed flag. Descriptors 0-2 and the
 * simulator's control channel (FAULTLINE_CTL_FD) are never touched, so logs
 * and history events keep flowing. Needs nothing beyond libc and libdl.
 *
 * The same wrappers feed the power_loss fault's durability journal
 * (power_journal.h) when FAULTLINE_POWER_CTL is set.
 *
 * What it cannot reach (docs/faults.md): calls libc makes internally (stdio's
 * fopen/fwrite/fflush, which call the system calls directly), static
 * binaries, raw syscall(2), io_uring, writes through mmap, and anything in
 * the vDSO. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "faults/preload/io_error_control.h"
#include "faults/preload/power_journal.h"

/* ------------------------------------------------------------------------
 * State, set once by the constructor. */

static const uint32_t kDisarmed = 0;
/* Points at kDisarmed until a valid control page is mapped: the one load
 * every intercepted call makes. */
static const uint32_t* armed_flag = &kDisarmed;
static struct faultline_ioerr_control* ctl;
static int slot;
static int control_channel_fd = -1;

/* The next definition of each interposed function (libc's). Resolved by the
 * constructor, or lazily if something calls in before it ran. */
#define REAL(name) ((__typeof__(&name))real_symbol(&real_##name, #name))

static void* real_symbol(void** cache, const char* name) {
  void* f = __atomic_load_n(cache, __ATOMIC_RELAXED);
  if (f == NULL) {
    f = dlsym(RTLD_NEXT, name);
    __atomic_store_n(cache, f, __ATOMIC_RELAXED);
  }
  return f;
}

static void* real_write, *real_writev, *real_pwrite, *real_pwrite64;
static void* real_fsync, *real_fdatasync;
static void* real_rename, *real_renameat, *real_renameat2;
static void* real_open, *real_open64, *real_openat, *real_openat64;
static void* real_creat, *real_creat64;
static void* real___open_2, *real___open64_2, *real___openat_2, *real___openat64_2;

/* ------------------------------------------------------------------------
 * Set-up. */

static void say(const char* what, const char* detail) {
  dprintf(2, "faultline io_error preload: %s%s; not injecting\n", what, detail);
}

static int parse_int(const char* s, int* out) {
  if (s == NULL || *s == '\0') return 0;
  char* end = NULL;
  long v = strtol(s, &end, 10);
  if (*end != '\0' || v < 0 || v > INT_MAX) return 0;
  *out = (int)v;
  return 1;
}

__attribute__((constructor)) static void faultline_ioerr_init(void) {
  const char* path = getenv(FAULTLINE_IOERR_CTL_ENV);
  if (path == NULL || *path == '\0') return;
  int fd_env = -1;
  if (parse_int(getenv("FAULTLINE_CTL_FD"), &fd_env)) control_channel_fd = fd_env;
  if (!parse_int(getenv(FAULTLINE_IOERR_SLOT_ENV), &slot) || slot >= FAULTLINE_IOERR_MAX_SLOTS) {
    say("bad or missing " FAULTLINE_IOERR_SLOT_ENV, "");
    return;
  }
  int fd = REAL(open)(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    say("cannot open the control file ", path);
    return;
  }
  struct stat st;
  void* page = MAP_FAILED;
  if (fstat(fd, &st) == 0 && (size_t)st.st_size == sizeof(struct faultline_ioerr_control)) {
    page = mmap(NULL, sizeof(struct faultline_ioerr_control), PROT_READ | PROT_WRITE, MAP_SHARED,
                fd, 0);
  }
  close(fd);
  if (page == MAP_FAILED) {
    say("cannot map the control file ", path);
    return;
  }
  struct faultline_ioerr_control* c = page;
  if (c->magic != FAULTLINE_IOERR_MAGIC || c->version != FAULTLINE_IOERR_VERSION) {
    say("unknown control page format in ", path);
    munmap(page, sizeof *c);
    return;
  }
  ctl = c;
  __atomic_store_n(&armed_flag, &c->armed, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------------------
 * Deciding. Only ever reached while armed. */

static int armed(void) {
  return __builtin_expect(__atomic_load_n(__atomic_load_n(&armed_flag, __ATOMIC_ACQUIRE),
                                          __ATOMIC_ACQUIRE) != 0, 0);
}

static int wanted(enum faultline_ioerr_kind kind) { return (ctl->calls >> kind) & 1u; }

/* `path` is `dir` or below it. */
static int under(const char* path, const char* dir) {
  size_t n = strlen(dir);
  if (n == 0) return 0;
  return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static int targeted(const char* abs_path) {
  if ((ctl->dir[0] != '\0' || ctl->dir_resolved[0] != '\0') && !under(abs_path, ctl->dir) &&
      !under(abs_path, ctl->dir_resolved)) {
    return 0;
  }
  return ctl->path_contains[0] == '\0' || strstr(abs_path, ctl->path_contains) != NULL;
}

/* The path an open descriptor names, from /proc. */
static int fd_path(int fd, char* out, size_t size) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, out, size - 1);
  if (n <= 0) return 0;
  out[n] = '\0';
  return 1;
}

/* `path` made absolute against `dirfd` (AT_FDCWD: the working directory). */
static int absolute(int dirfd, const char* path, char* out, size_t size) {
  if (path == NULL) return 0;
  if (path[0] == '/') return snprintf(out, size, "%s", path) < (int)size;
  char base[PATH_MAX];
  if (dirfd == AT_FDCWD ? getcwd(base, sizeof base) == NULL : !fd_path(dirfd, base, sizeof base)) {
    return 0;
  }
  return snprintf(out, size, "%s/%s", base, path) < (int)size;
}

/* Counts a call that passed the filters; true when it is one to fail. */
static int nth_matched(enum faultline_ioerr_kind kind) {
  uint64_t n = __atomic_add_fetch(&ctl->matched[kind], 1, __ATOMIC_SEQ_CST);
  uint32_t every = ctl->every_nth[kind] == 0 ? 1 : ctl->every_nth[kind];
  return n % every == 0;
}

static int hits_fd(enum faultline_ioerr_kind kind, int fd) {
  if (!wanted(kind) || fd <= 2 || fd == control_channel_fd) return 0;
  int saved = errno;
  char path[PATH_MAX];
  int hit = fd_path(fd, path, sizeof path) && targeted(path);
  errno = saved;
  return hit && nth_matched(kind);
}

static int hits_path(int dirfd, const char* path) {
  int saved = errno;
  char abs_path[PATH_MAX];
  int hit = absolute(dirfd, path, abs_path, sizeof abs_path) && targeted(abs_path);
  errno = saved;
  return hit;
}

static int hits_open(int dirfd, const char* path, int flags) {
  if (!wanted(FAULTLINE_IOERR_OPEN)) return 0;
  /* A real ENOSPC comes only from an open that creates. */
  if (ctl->error == ENOSPC && (flags & O_CREAT) == 0) return 0;
  return hits_path(dirfd, path) && nth_matched(FAULTLINE_IOERR_OPEN);
}

static int hits_rename(int olddirfd, const char* oldpath, int newdirfd, const char* newpath) {
  if (!wanted(FAULTLINE_IOERR_RENAME)) return 0;
  return (hits_path(olddirfd, oldpath) || hits_path(newdirfd, newpath)) &&
         nth_matched(FAULTLINE_IOERR_RENAME);
}

static int inject(enum faultline_ioerr_kind kind) {
  __atomic_add_fetch(&ctl->injected[slot][kind], 1, __ATOMIC_SEQ_CST);
  errno = ctl->error;
  return -1;
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

/* ------------------------------------------------------------------------
 * The interposed functions. */

ssize_t write(int fd, const void* buf, size_t count) {
  if (armed() && hits_fd(FAULTLINE_IOERR_WRITE, fd)) return inject(FAULTLINE_IOERR_WRITE);
  fpj_gate();
  return REAL(write)(fd, buf, count);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  if (armed() && hits_fd(FAULTLINE_IOERR_WRITE, fd)) return inject(FAULTLINE_IOERR_WRITE);
  fpj_gate();
  return REAL(writev)(fd, iov, iovcnt);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  if (armed() && hits_fd(FAULTLINE_IOERR_WRITE, fd)) return inject(FAULTLINE_IOERR_WRITE);
  fpj_gate();
  return REAL(pwrite)(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off64_t offset) {
  if (armed() && hits_fd(FAULTLINE_IOERR_WRITE, fd)) return inject(FAULTLINE_IOERR_WRITE);
  fpj_gate();
  return REAL(pwrite64)(fd, buf, count, offset);
}

int fsync(int fd) {
  if (armed() && hits_fd(FAULTLINE_IOERR_FSYNC, fd)) return inject(FAULTLINE_IOERR_FSYNC);
  struct fpj_pending journal;
  fpj_sync_begin(fd, "fsync", &journal);
  int rc = REAL(fsync)(fd);
  fpj_sync_end(&journal, rc);
  return rc;
}

int fdatasync(int fd) {
  if (armed() && hits_fd(FAULTLINE_IOERR_FSYNC, fd)) return inject(FAULTLINE_IOERR_FSYNC);
  struct fpj_pending journal;
  fpj_sync_begin(fd, "fdatasync", &journal);
  int rc = REAL(fdatasync)(fd);
  fpj_sync_end(&journal, rc);
  return rc;
}

int rename(const char* oldpath, const char* newpath) {
  if (armed() && hits_rename(AT_FDCWD, oldpath, AT_FDCWD, newpath)) {
    return inject(FAULTLINE_IOERR_RENAME);
  }
  struct fpj_pending journal;
  fpj_rename_begin(AT_FDCWD, oldpath, AT_FDCWD, newpath, &journal);
  int rc = REAL(rename)(oldpath, newpath);
  fpj_rename_end(&journal, rc);
  return rc;
}

int renameat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath) {
  if (armed() && hits_rename(olddirfd, oldpath, newdirfd, newpath)) {
    return inject(FAULTLINE_IOERR_RENAME);
  }
  struct fpj_pending journal;
  fpj_rename_begin(olddirfd, oldpath, newdirfd, newpath, &journal);
  int rc = REAL(renameat)(olddirfd, oldpath, newdirfd, newpath);
  fpj_rename_end(&journal, rc);
  return rc;
}

int renameat2(int olddirfd, const char* oldpath, int newdirfd, const char* newpath,
              unsigned int flags) {
  if (armed() && hits_rename(olddirfd, oldpath, newdirfd, newpath)) {
    return inject(FAULTLINE_IOERR_RENAME);
  }
  struct fpj_pending journal;
  fpj_rename_begin(olddirfd, oldpath, newdirfd, newpath, &journal);
  int rc = REAL(renameat2)(olddirfd, oldpath, newdirfd, newpath, flags);
  fpj_rename_end(&journal, rc);
  return rc;
}

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (armed() && hits_open(AT_FDCWD, path, flags)) return inject(FAULTLINE_IOERR_OPEN);
  struct fpj_pending journal;
  fpj_open_begin(AT_FDCWD, path, flags, &journal);
  int fd = REAL(open)(path, flags, mode);
  fpj_open_end(&journal, fd);
  return fd;
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (armed() && hits_open(AT_FDCWD, path, flags)) return inject(FAULTLINE_IOERR_OPEN);
  struct fpj_pending journal;
  fpj_open_begin(AT_FDCWD, path, flags, &journal);
  int fd = REAL(open64)(path, flags, mode);
  fpj_open_end(&journal, fd);
  return fd;
}

int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (armed() && hits_open(dirfd, path, flags)) return inject(FAULTLINE_IOERR_OPEN);
  struct fpj_pending journal;
  fpj_open_begin(dirfd, path, flags, &journal);
  int fd = REAL(openat)(dirfd, path, flags, mode);
  fpj_open_end(&journal, fd);
  return fd;
}

int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (armed() && hits_open(dirfd, path, flags)) return inject(FAULTLINE_IOERR_OPEN);
  struct fpj_pending journal;
  fpj_open_begin(dirfd, path, flags, &journal);
  int fd = REAL(openat64)(dirfd, path, flags, mode);
  fpj_open_end(&journal, fd);
  return fd;
}

int creat(const char* path, mode_t mode) {
  if (armed() && hits_open(AT_FDCWD, path, O_CREAT)) return inject(FAULTLINE_IOERR_OPEN);
  struct fpj_pending journal;
  fpj_open_begin(AT_FDCWD, path, O_CREAT, &journal);
  int fd = REAL(creat)(path, mode);
  fpj_open_end(&journal, fd);
  return fd;
}

int creat64(const char* path, mode_t mode) {
  if (armed() && hits_open(AT_FDCWD, path, O_CREAT)) return inject(FAULTLINE_IOERR_OPEN);
  struct fpj_pending journal;
  fpj_open_begin(AT_FDCWD, path, O_CREAT, &journal);
  int fd = REAL(creat64)(path, mode);
  fpj_open_end(&journal, fd);
  return fd;
}

/* The checked forms _FORTIFY_SOURCE builds call instead of open/openat. */
int __open_2(const char* path, int flags);
int __open64_2(const char* path, int flags);
int __openat_2(int dirfd, const char* path, int flags);
int __openat64_2(int dirfd, const char* path, int flags);

int __open_2(const char* path, int flags) {
  if (armed() && hits_open(AT_FDCWD, path, flags)) return inject(FAULTLINE_IOERR_OPEN);
  struct fpj_pending journal;
  fpj_open_begin(AT_FDCWD, path, flags, &journal);
  int fd = REAL(__open_2)(path, flags);
  fpj_open_end(&journal, fd);
  return fd;
}

int __open64_2(const char* path, int flags) {
  if (armed() && hits_open(AT_FDCWD, path, flags)) return inject(FAULTLINE_IOERR_OPEN);
  struct fpj_pending journal;
  fpj_open_begin(AT_FDCWD, path, flags, &journal);
  int fd = REAL(__open64_2)(path, flags);
  fpj_open_end(&journal, fd);
  return fd;
}

int __openat_2(int dirfd, const char* path, int flags) {
  if (armed() && hits_open(dirfd, path, flags)) return inject(FAULTLINE_IOERR_OPEN);
  struct fpj_pending journal;
  fpj_open_begin(dirfd, path, flags, &journal);
  int fd = REAL(__openat_2)(dirfd, path, flags);
  fpj_open_end(&journal, fd);
  return fd;
}

int __openat64_2(int dirfd, const char* path, int flags) {
  if (armed() && hits_open(dirfd, path, flags)) return inject(FAULTLINE_IOERR_OPEN);
  struct fpj_pending journal;
  fpj_open_begin(dirfd, path, flags, &journal);
  int fd = REAL(__openat64_2)(dirfd, path, flags);
  fpj_open_end(&journal, fd);
  return fd;
}
