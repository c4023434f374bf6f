/* The durability journal of the power_loss fault (power_control.h,
 * power_journal.h): for files at or under the coordination directory, every
 * process of the system under test appends what a crash of the machine
 * would keep — file contents as of each successful fsync, directory entries
 * as of each successful directory fsync — and the namespace changes in
 * between, each under one sequence number drawn from the shared page, so the
 * fault can order every process's records.
 *
 * Contents are read before the fsync: whatever was in the file then is
 * certainly covered by it. A record is written only once the fsync
 * succeeded; a process killed in between leaves none, which is a state the
 * machine could also have left. */
#define _GNU_SOURCE
#include "faults/preload/power_journal.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faults/preload/power_control.h"

static struct faultline_power_control* page;
static int journal_fd = -1;

static int (*real_open)(const char*, int, ...);
static ssize_t (*real_write)(int, const void*, size_t);
static int (*real_link)(const char*, const char*);
static int (*real_linkat)(int, const char*, int, const char*, int);
static int (*real_unlink)(const char*);
static int (*real_unlinkat)(int, const char*, int);
static int (*real_mkdir)(const char*, mode_t);
static int (*real_mkdirat)(int, const char*, mode_t);

static void resolve(void) {
  if (real_open != NULL) return;
  real_write = (ssize_t(*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
  real_link = (int (*)(const char*, const char*))dlsym(RTLD_NEXT, "link");
  real_linkat = (int (*)(int, const char*, int, const char*, int))dlsym(RTLD_NEXT, "linkat");
  real_unlink = (int (*)(const char*))dlsym(RTLD_NEXT, "unlink");
  real_unlinkat = (int (*)(int, const char*, int))dlsym(RTLD_NEXT, "unlinkat");
  real_mkdir = (int (*)(const char*, mode_t))dlsym(RTLD_NEXT, "mkdir");
  real_mkdirat = (int (*)(int, const char*, mode_t))dlsym(RTLD_NEXT, "mkdirat");
  __atomic_store_n(&real_open, (int (*)(const char*, int, ...))dlsym(RTLD_NEXT, "open"),
                   __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void faultline_power_init(void) {
  const char* path = getenv(FAULTLINE_POWER_CTL_ENV);
  if (path == NULL || *path == '\0') return;
  resolve();
  int fd = real_open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    dprintf(2, "faultline power journal: cannot open %s; not journaling\n", path);
    return;
  }
  struct stat st;
  void* mapped = MAP_FAILED;
  if (fstat(fd, &st) == 0 && (size_t)st.st_size == sizeof(struct faultline_power_control)) {
    mapped = mmap(NULL, sizeof(struct faultline_power_control), PROT_READ | PROT_WRITE,
                  MAP_SHARED, fd, 0);
  }
  struct faultline_power_control* c = mapped;
  if (mapped == MAP_FAILED || c->magic != FAULTLINE_POWER_MAGIC ||
      c->version != FAULTLINE_POWER_VERSION) {
    dprintf(2, "faultline power journal: bad control page %s; not journaling\n", path);
    if (mapped != MAP_FAILED) munmap(mapped, sizeof *c);
    close(fd);
    return;
  }
  /* Held while this process (or a fork of it) lives: the fault's exclusive
   * lock tells it that every process is gone. Refused while the fault holds
   * it: the power is off, this process must not run. */
  if (flock(fd, LOCK_SH | LOCK_NB) != 0 || __atomic_load_n(&c->off, __ATOMIC_ACQUIRE) != 0) {
    raise(SIGKILL);
  }
  page = c; /* fd stays open (close-on-exec) for the lock */
}

void fpj_gate(void) {
  if (page != NULL && __atomic_load_n(&page->off, __ATOMIC_ACQUIRE) != 0) raise(SIGKILL);
}

/* ------------------------------------------------------------------------
 * Paths. */

static int under(const char* path, const char* dir, const char** rest) {
  size_t n = strlen(dir);
  if (n == 0 || strncmp(path, dir, n) != 0 || (path[n] != '/' && path[n] != '\0')) return 0;
  *rest = path[n] == '/' ? path + n + 1 : path + n;
  return 1;
}

/* `abs_path` relative to the coordination directory ("" for itself). */
static int relative(const char* abs_path, const char** rel) {
  return under(abs_path, page->dir, rel) || under(abs_path, page->dir_resolved, rel);
}

static int fd_path(int fd, char* out, size_t size) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, out, size - 1);
  if (n <= 0) return 0;
  out[n] = '\0';
  return 1;
}

/* Splits `dirfd`/`path` into the parent directory relative to the
 * coordination directory ("." for itself) and the last name. 0 when it is
 * not under the directory (or is the directory itself). */
static int locate(int dirfd, const char* path, char* dir, char* name) {
  if (path == NULL) return 0;
  char abs_path[PATH_MAX];
  if (path[0] == '/') {
    if (snprintf(abs_path, sizeof abs_path, "%s", path) >= (int)sizeof abs_path) return 0;
  } else {
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD ? getcwd(base, sizeof base) == NULL : !fd_path(dirfd, base, sizeof base)) {
      return 0;
    }
    if (snprintf(abs_path, sizeof abs_path, "%s/%s", base, path) >= (int)sizeof abs_path) return 0;
  }
  size_t n = strlen(abs_path);
  while (n > 1 && abs_path[n - 1] == '/') abs_path[--n] = '\0';
  const char* rel;
  if (!relative(abs_path, &rel) || *rel == '\0') return 0;
  const char* slash = strrchr(rel, '/');
  const char* last = slash == NULL ? rel : slash + 1;
  if (strlen(last) > NAME_MAX || strchr(last, '\t') || strchr(last, '\n')) return 0;
  strcpy(name, last);
  if (slash == NULL) {
    strcpy(dir, ".");
  } else {
    size_t len = (size_t)(slash - rel);
    memcpy(dir, rel, len);
    dir[len] = '\0';
  }
  return 1;
}

/* ------------------------------------------------------------------------
 * Writing records. */

static uint64_t next_seq(void) { return __atomic_add_fetch(&page->seq, 1, __ATOMIC_SEQ_CST); }

static void append(const char* data, size_t length) {
  if (journal_fd < 0) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%d.jnl", page->journal_dir, (int)getpid());
    journal_fd = real_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (journal_fd < 0) return;
  }
  while (length > 0) {
    ssize_t n = real_write(journal_fd, data, length);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    length -= (size_t)n;
  }
}

/* A growing buffer; on allocation failure it stays NULL and nothing is
 * journaled. */
struct buffer {
  char* data;
  size_t length, capacity;
  int failed;
};

static void put(struct buffer* b, const void* data, size_t length) {
  if (b->failed) return;
  if (b->length + length > b->capacity) {
    size_t capacity = b->capacity == 0 ? 4096 : b->capacity;
    while (capacity < b->length + length) capacity *= 2;
    char* grown = realloc(b->data, capacity);
    if (grown == NULL) {
      b->failed = 1;
      return;
    }
    b->data = grown;
    b->capacity = capacity;
  }
  memcpy(b->data + b->length, data, length);
  b->length += length;
}

static void putf(struct buffer* b, const char* format, ...) {
  char line[PATH_MAX + 256];
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(line, sizeof line, format, ap);
  va_end(ap);
  if (n < 0 || n >= (int)sizeof line) {
    b->failed = 1;
    return;
  }
  put(b, line, (size_t)n);
}

/* A content record (F or C) of the file `fd` refers to, read through
 * /proc so that a write-only descriptor will do. */
static void put_content(struct buffer* b, char kind, uint64_t seq, int fd) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  int in = real_open(link, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (in < 0 || fstat(in, &st) != 0) {
    if (in >= 0) close(in);
    b->failed = 1;
    return;
  }
  if ((uint64_t)st.st_size > FAULTLINE_POWER_MAX_CONTENT) {
    putf(b, "%c\t%llu\t%d\t%llu\t-1\n", kind, (unsigned long long)seq, (int)getpid(),
         (unsigned long long)st.st_ino);
    close(in);
    return;
  }
  char* data = malloc((size_t)st.st_size + 1);
  size_t got = 0;
  while (data != NULL) {
    ssize_t n = read(in, data + got, (size_t)st.st_size + 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || (got += (size_t)n) > (size_t)st.st_size) break;
  }
  close(in);
  if (data == NULL || got > (size_t)st.st_size) {
    free(data);
    b->failed = 1;  /* grew while read, or no memory: journal nothing */
    return;
  }
  putf(b, "%c\t%llu\t%d\t%llu\t%zu\n", kind, (unsigned long long)seq, (int)getpid(),
       (unsigned long long)st.st_ino, got);
  put(b, data, got);
  free(data);
}

/* A directory's entries (S record). */
static void put_entries(struct buffer* b, uint64_t seq, int fd, const char* rel) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  int in = real_open(link, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* d = in < 0 ? NULL : fdopendir(in);
  if (d == NULL) {
    if (in >= 0) close(in);
    b->failed = 1;
    return;
  }
  struct buffer lines = {0};
  int count = 0;
  for (struct dirent* e; (e = readdir(d)) != NULL;) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (strchr(e->d_name, '\t') || strchr(e->d_name, '\n')) continue;
    char type = e->d_type == DT_DIR ? 'd' : 'f';
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        type = 'd';
      }
    }
    putf(&lines, "%llu\t%c\t%s\n", (unsigned long long)e->d_ino, type, e->d_name);
    ++count;
  }
  closedir(d);
  putf(b, "S\t%llu\t%d\t%s\t%d\n", (unsigned long long)seq, (int)getpid(), rel, count);
  if (lines.failed) b->failed = 1;
  if (lines.length > 0) put(b, lines.data, lines.length);
  free(lines.data);
}

static void put_op(struct buffer* b, char kind, uint64_t seq, ino_t ino, char type,
                   const char* dir, const char* name) {
  putf(b, "%c\t%llu\t%d\t%llu\t%c\t%s\t%s\n", kind, (unsigned long long)seq, (int)getpid(),
       (unsigned long long)ino, type, dir, name);
}

static void flush(struct buffer* b) {
  if (!b->failed && b->length > 0) append(b->data, b->length);
  free(b->data);
}

/* ------------------------------------------------------------------------
 * The trigger "at the n-th call" (power_control.h). */

static int pattern_matches(const char* path) {
  return path != NULL && *path != '\0' && fnmatch(page->trigger_path, path, 0) == 0;
}

/* Counts a call of `kind` on `path` (and a rename's source `from`, or NULL)
 * if the trigger wants it; 1 when it is the n-th. */
static int counted_nth(uint32_t kind, const char* path, const char* from) {
  if ((page->trigger_calls & kind) == 0) return 0;
  if (page->trigger_path[0] != '\0' && !pattern_matches(path) && !pattern_matches(from)) return 0;
  return __atomic_add_fetch(&page->matched, 1, __ATOMIC_SEQ_CST) == page->trigger_nth;
}

static void copy_field(char* field, size_t size, const char* value) {
  snprintf(field, size, "%s", value == NULL ? "" : value);
}

/* The power goes now: says which call it was, tells every other process
 * (the gate), and dies like the rest will. Never returns. */
static void power_off_at(const char* call, const char* path, const char* from) {
  page->tripped_pid = (int32_t)getpid();
  copy_field(page->tripped_call, sizeof page->tripped_call, call);
  copy_field(page->tripped_path, sizeof page->tripped_path, path);
  copy_field(page->tripped_from, sizeof page->tripped_from, from);
  __atomic_store_n(&page->tripped, 1u, __ATOMIC_SEQ_CST);
  __atomic_store_n(&page->off, 1u, __ATOMIC_SEQ_CST);
  raise(SIGKILL);
  _exit(137); /* not reached */
}

/* "dir" + "name" as one path relative to the coordination directory. */
static void join(char* out, size_t size, const char* dir, const char* name) {
  if (strcmp(dir, ".") == 0) {
    snprintf(out, size, "%s", name);
  } else {
    snprintf(out, size, "%s/%s", dir, name);
  }
}

/* ------------------------------------------------------------------------
 * fsync, fdatasync. */

void fpj_sync_begin(int fd, const char* call, struct fpj_pending* p) {
  p->active = 0;
  p->trip = 0;
  if (page == NULL) return;
  fpj_gate();
  int saved = errno;
  char path[PATH_MAX];
  const char* rel;
  struct stat st;
  if (fd_path(fd, path, sizeof path) && relative(path, &rel) && fstat(fd, &st) == 0) {
    const char* shown = *rel == '\0' ? "." : rel;
    if (counted_nth(FAULTLINE_POWER_CALL_FSYNC, shown, NULL)) {
      if (!page->trigger_after) power_off_at(call, shown, NULL);
      p->trip = 1;
      p->call = call;
      copy_field(p->dir, sizeof p->dir, shown);
    }
    struct buffer b = {0};
    p->seq = next_seq();
    if (S_ISDIR(st.st_mode)) {
      put_entries(&b, p->seq, fd, *rel == '\0' ? "." : rel);
    } else if (S_ISREG(st.st_mode)) {
      put_content(&b, 'F', p->seq, fd);
    } else {
      b.failed = 1;
    }
    if (!b.failed) {
      p->active = 1;
      p->record = b.data;
      p->length = b.length;
    } else {
      free(b.data);
    }
  }
  errno = saved;
}

void fpj_sync_end(struct fpj_pending* p, int rc) {
  if (p->active) {
    int saved = errno;
    if (rc == 0) append(p->record, p->length);
    free(p->record);
    p->active = 0;
    errno = saved;
  }
  if (p->trip) power_off_at(p->call, p->dir, NULL);
}

/* ------------------------------------------------------------------------
 * Namespace changes. */

static int stat_at(int dirfd, const char* path, struct stat* st) {
  return fstatat(dirfd, path, st, AT_SYMLINK_NOFOLLOW) == 0;
}

void fpj_rename_begin(int olddirfd, const char* oldpath, int newdirfd, const char* newpath,
                      struct fpj_pending* p) {
  p->active = 0;
  p->trip = 0;
  if (page == NULL) return;
  fpj_gate();
  int saved = errno;
  int from = locate(olddirfd, oldpath, p->old_dir, p->old_name);
  int to = locate(newdirfd, newpath, p->dir, p->name);
  struct stat st;
  if ((from || to) && stat_at(olddirfd, oldpath, &st)) {
    char source[PATH_MAX], dest[PATH_MAX];
    if (from) join(source, sizeof source, p->old_dir, p->old_name);
    if (to) join(dest, sizeof dest, p->dir, p->name);
    if (counted_nth(FAULTLINE_POWER_CALL_RENAME, to ? dest : NULL, from ? source : NULL)) {
      if (!page->trigger_after) power_off_at("rename", to ? dest : "", from ? source : "");
      p->trip = 1;
    }
    p->ino = st.st_ino;
    p->type = S_ISDIR(st.st_mode) ? 'd' : 'f';
    p->active = (from ? 1 : 0) | (to ? 2 : 0);
    /* What the target held, in case the crash brings it back. */
    struct stat target;
    if (to && stat_at(newdirfd, newpath, &target) && S_ISREG(target.st_mode) &&
        target.st_ino != st.st_ino) {
      int fd = openat(newdirfd, newpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd >= 0) {
        struct buffer b = {0};
        put_content(&b, 'C', next_seq(), fd);
        close(fd);
        flush(&b);
      }
    }
  }
  errno = saved;
}

void fpj_rename_end(struct fpj_pending* p, int rc) {
  if (!p->active) return;
  int saved = errno;
  if (rc == 0) {
    struct buffer b = {0};
    uint64_t seq = next_seq();
    if (p->active & 1) put_op(&b, 'U', seq, p->ino, p->type, p->old_dir, p->old_name);
    if (p->active & 2) put_op(&b, 'L', seq, p->ino, p->type, p->dir, p->name);
    flush(&b);
  }
  if (p->trip) {
    char source[PATH_MAX] = "", target[PATH_MAX] = "";
    if (p->active & 1) join(source, sizeof source, p->old_dir, p->old_name);
    if (p->active & 2) join(target, sizeof target, p->dir, p->name);
    power_off_at("rename", target, source);
  }
  p->active = 0;
  errno = saved;
}

void fpj_open_begin(int dirfd, const char* path, int flags, struct fpj_pending* p) {
  p->active = 0;
  if (page == NULL) return;
  fpj_gate();
  if ((flags & O_CREAT) == 0) return;
  int saved = errno;
  struct stat st;
  if (locate(dirfd, path, p->dir, p->name)) {
    p->active = 1;
    p->existed = stat_at(dirfd, path, &st);
  }
  errno = saved;
}

void fpj_open_end(struct fpj_pending* p, int fd) {
  if (!p->active) return;
  int saved = errno;
  struct stat st;
  if (fd >= 0 && !p->existed && fstat(fd, &st) == 0) {
    struct buffer b = {0};
    put_op(&b, 'N', next_seq(), st.st_ino, 'f', p->dir, p->name);
    flush(&b);
  }
  p->active = 0;
  errno = saved;
}

/* A name about to go: its inode, and the content of a regular file (a C
 * record), journaled before the unlink. 0 if it is not journaled. */
static int before_unlink(int dirfd, const char* path, int flags, char* dir, char* name,
                         ino_t* ino, char* type) {
  if (page == NULL) return 0;
  fpj_gate();
  struct stat st;
  if (!locate(dirfd, path, dir, name) || !stat_at(dirfd, path, &st)) return 0;
  *ino = st.st_ino;
  *type = S_ISDIR(st.st_mode) ? 'd' : 'f';
  if (S_ISREG(st.st_mode) && (flags & AT_REMOVEDIR) == 0) {
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
      struct buffer b = {0};
      put_content(&b, 'C', next_seq(), fd);
      close(fd);
      flush(&b);
    }
  }
  return 1;
}

static void journal_op(char kind, ino_t ino, char type, const char* dir, const char* name) {
  struct buffer b = {0};
  put_op(&b, kind, next_seq(), ino, type, dir, name);
  flush(&b);
}

/* ------------------------------------------------------------------------
 * The calls io_error_preload.c does not interpose. */

int link(const char* oldpath, const char* newpath) {
  resolve();
  char dir[PATH_MAX], name[NAME_MAX + 1];
  struct stat st;
  int tracked = page != NULL && (fpj_gate(), 1) && locate(AT_FDCWD, newpath, dir, name) &&
                stat_at(AT_FDCWD, oldpath, &st);
  int rc = real_link(oldpath, newpath);
  if (rc == 0 && tracked) {
    int saved = errno;
    journal_op('L', st.st_ino, 'f', dir, name);
    errno = saved;
  }
  return rc;
}

int linkat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, int flags) {
  resolve();
  char dir[PATH_MAX], name[NAME_MAX + 1];
  struct stat st;
  int tracked = page != NULL && (fpj_gate(), 1) && locate(newdirfd, newpath, dir, name) &&
                fstatat(olddirfd, oldpath, &st,
                        (flags & AT_EMPTY_PATH) | ((flags & AT_SYMLINK_FOLLOW) ? 0 : AT_SYMLINK_NOFOLLOW)) == 0;
  int rc = real_linkat(olddirfd, oldpath, newdirfd, newpath, flags);
  if (rc == 0 && tracked) {
    int saved = errno;
    journal_op('L', st.st_ino, 'f', dir, name);
    errno = saved;
  }
  return rc;
}

int unlinkat(int dirfd, const char* path, int flags) {
  resolve();
  char dir[PATH_MAX], name[NAME_MAX + 1], type = 'f';
  ino_t ino = 0;
  int tracked = before_unlink(dirfd, path, flags, dir, name, &ino, &type);
  int rc = real_unlinkat(dirfd, path, flags);
  if (rc == 0 && tracked) {
    int saved = errno;
    journal_op('U', ino, type, dir, name);
    errno = saved;
  }
  return rc;
}

int unlink(const char* path) {
  resolve();
  char dir[PATH_MAX], name[NAME_MAX + 1], type = 'f';
  ino_t ino = 0;
  int tracked = before_unlink(AT_FDCWD, path, 0, dir, name, &ino, &type);
  int rc = real_unlink(path);
  if (rc == 0 && tracked) {
    int saved = errno;
    journal_op('U', ino, type, dir, name);
    errno = saved;
  }
  return rc;
}

static void after_mkdir(int dirfd, const char* path, int tracked, const char* dir,
                        const char* name) {
  struct stat st;
  if (tracked && stat_at(dirfd, path, &st)) journal_op('D', st.st_ino, 'd', dir, name);
}

int mkdirat(int dirfd, const char* path, mode_t mode) {
  resolve();
  char dir[PATH_MAX], name[NAME_MAX + 1];
  int tracked = page != NULL && (fpj_gate(), 1) && locate(dirfd, path, dir, name);
  int rc = real_mkdirat(dirfd, path, mode);
  if (rc == 0) {
    int saved = errno;
    after_mkdir(dirfd, path, tracked, dir, name);
    errno = saved;
  }
  return rc;
}

int mkdir(const char* path, mode_t mode) {
  resolve();
  char dir[PATH_MAX], name[NAME_MAX + 1];
  int tracked = page != NULL && (fpj_gate(), 1) && locate(AT_FDCWD, path, dir, name);
  int rc = real_mkdir(path, mode);
  if (rc == 0) {
    int saved = errno;
    after_mkdir(AT_FDCWD, path, tracked, dir, name);
    errno = saved;
  }
  return rc;
}
