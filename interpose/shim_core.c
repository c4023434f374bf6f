/* libfaultline_interpose.so, core: the connection to the scheduler, parking,
 * and the coordination directory's paths and descriptors.
 *
 * Every process that loads the library with FL_IP_SOCKET_ENV set makes its
 * own connection (in the constructor, in the child after fork, and again in
 * each new image after exec), says hello and waits for "go" before main()
 * runs. Without the variable the library is inert: each wrapper costs one
 * branch. If the scheduler goes away the process kills itself: it must never
 * run uncontrolled (and nothing outlives a killed harness). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "interpose/shim.h"
#include "sim/protocol/interpose_protocol.h"

struct fl_state fl = {.ctl_fd = -1};
const char* fl_socket_path;
const char* fl_dir;
const char* fl_lib_path;

static char dir_real[PATH_MAX]; /* the coordination directory, symlinks resolved */
static char cwd[PATH_MAX];      /* cached: chdir/fchdir refresh it */
static char argv0[256];

void* fl_real_symbol(void** cache, const char* name) {
  void* f = __atomic_load_n(cache, __ATOMIC_RELAXED);
  if (f == NULL) {
    f = dlsym(RTLD_NEXT, name);
    __atomic_store_n(cache, f, __ATOMIC_RELAXED);
  }
  return f;
}

/* ------------------------------------------------------------------------
 * The wire: one JSON line out, one line back. */

static void lost(const char* why) {
  dprintf(2, "faultline interpose (pid %d): %s; the scheduler is gone, exiting\n", (int)getpid(),
          why);
  syscall(SYS_kill, getpid(), SIGKILL);
  _exit(137);
}

/* Appends `s` as a JSON string. Bytes >= 0x80 become \u00XX so that any
 * path stays a valid (if lossy) JSON string. */
static size_t put_json(char* out, size_t at, size_t size, const char* s) {
  static const char hex[] = "0123456789abcdef";
  if (at < size) out[at] = '"';
  at++;
  for (const unsigned char* p = (const unsigned char*)s; *p != '\0'; ++p) {
    char esc[7];
    size_t n = 0;
    if (*p == '"' || *p == '\\') {
      esc[n++] = '\\';
      esc[n++] = (char)*p;
    } else if (*p < 0x20 || *p >= 0x80) {
      memcpy(esc, "\\u00", 4);
      n = 4;
      esc[n++] = hex[*p >> 4];
      esc[n++] = hex[*p & 15];
    } else {
      esc[n++] = (char)*p;
    }
    for (size_t i = 0; i < n; ++i, ++at) {
      if (at < size) out[at] = esc[i];
    }
  }
  if (at < size) out[at] = '"';
  return at + 1;
}

static size_t put_raw(char* out, size_t at, size_t size, const char* s) {
  for (; *s != '\0'; ++s, ++at) {
    if (at < size) out[at] = *s;
  }
  return at;
}

static void send_line(const char* msg, size_t len) {
  while (len > 0) {
    ssize_t n = send(fl.ctl_fd, msg, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) lost("cannot write to the scheduler");
    msg += n;
    len -= (size_t)n;
  }
}

/* Reads the scheduler's answer, {"go":true,"now":US}, and keeps "now". */
static void await_go(void) {
  char line[256];
  size_t len = 0;
  for (;;) {
    ssize_t n = recv(fl.ctl_fd, line + len, sizeof line - 1 - len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) lost("the control connection closed");
    len += (size_t)n;
    if (memchr(line, '\n', len) != NULL) break;
    if (len == sizeof line - 1) lost("an answer too long");
  }
  line[len] = '\0';
  const char* now = strstr(line, "\"" FL_IP_NOW "\":");
  if (strstr(line, "\"" FL_IP_GO "\":true") == NULL || now == NULL) lost("an answer without go");
  fl.now_us = strtoll(now + strlen("\"" FL_IP_NOW "\":"), NULL, 10);
}

/* Sends a message that expects "go" and waits for it with every signal
 * blocked, so that a signal (SIGCHLD from a child that exited during another
 * process's step) is delivered at a point the schedule fixes: as the park
 * ends, not while the scheduler lets someone else run. */
static enum fl_woken park(const char* msg, size_t len) {
  int saved_errno = errno;
  sigset_t all, old, pending;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  fl.busy++;
  send_line(msg, len);
  await_go();
  enum fl_woken woken = kFlGo;
  if (sigpending(&pending) == 0) {
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sigismember(&pending, sig) != 1 || sigismember(&old, sig) == 1) continue;
      struct sigaction sa;
      if (sigaction(sig, NULL, &sa) != 0 || sa.sa_handler == SIG_IGN || sa.sa_handler == SIG_DFL) {
        continue;
      }
      if ((sa.sa_flags & SA_RESTART) == 0) {
        woken = kFlIntr;
      } else if (woken == kFlGo) {
        woken = kFlRestart;
      }
    }
  }
  fl.busy--;
  pthread_sigmask(SIG_SETMASK, &old, NULL); /* pending signals are delivered here */
  errno = saved_errno;
  return woken;
}

static void announce(const char* msg, size_t len) {
  int saved_errno = errno;
  fl.busy++;
  send_line(msg, len);
  fl.busy--;
  errno = saved_errno;
}

void fl_yield(const char* point, const char* item, const char* to) {
  char msg[3 * PATH_MAX];
  size_t at = put_raw(msg, 0, sizeof msg, "{\"" FL_IP_YIELD "\":");
  at = put_json(msg, at, sizeof msg, point);
  at = put_raw(msg, at, sizeof msg, ",\"" FL_IP_ITEM "\":");
  at = put_json(msg, at, sizeof msg, item);
  if (to != NULL) {
    at = put_raw(msg, at, sizeof msg, ",\"" FL_IP_TO "\":");
    at = put_json(msg, at, sizeof msg, to);
  }
  at = put_raw(msg, at, sizeof msg, "}\n");
  if (at > sizeof msg) lost("a yield message too long");
  park(msg, at);
}

enum fl_woken fl_block(const char* what, const char* detail, int64_t until_us) {
  char msg[PATH_MAX + 128];
  size_t at = put_raw(msg, 0, sizeof msg, "{\"" FL_IP_BLOCKED "\":");
  at = put_json(msg, at, sizeof msg, what);
  at = put_raw(msg, at, sizeof msg, ",\"" FL_IP_ITEM "\":");
  at = put_json(msg, at, sizeof msg, detail);
  if (until_us >= 0) {
    char num[32];
    snprintf(num, sizeof num, ",\"" FL_IP_UNTIL "\":%lld", (long long)until_us);
    at = put_raw(msg, at, sizeof msg, num);
  }
  at = put_raw(msg, at, sizeof msg, "}\n");
  if (at > sizeof msg) lost("a blocked message too long");
  return park(msg, at);
}

enum fl_woken fl_sleep(int64_t us) {
  char msg[64];
  int n =
      snprintf(msg, sizeof msg, "{\"" FL_IP_SLEEP_US "\":%lld}\n", (long long)(us < 0 ? 0 : us));
  return park(msg, (size_t)n);
}

void fl_announce_fork(int pid) {
  char msg[64];
  int n = snprintf(msg, sizeof msg, "{\"" FL_IP_FORK "\":%d}\n", pid);
  announce(msg, (size_t)n);
}

void fl_announce_signal(int pid, int sig) {
  char msg[64];
  int n = snprintf(msg, sizeof msg, "{\"" FL_IP_SIGNAL "\":%d,\"" FL_IP_SIG "\":%d}\n", pid, sig);
  park(msg, (size_t)n);
}

void fl_announce_exec(const char* path) {
  char msg[PATH_MAX + 64];
  size_t at = put_raw(msg, 0, sizeof msg, "{\"" FL_IP_EXEC "\":");
  at = put_json(msg, at, sizeof msg, path);
  at = put_raw(msg, at, sizeof msg, "}\n");
  if (at <= sizeof msg) announce(msg, at);
}

void fl_escape(const char* kind, const char* detail) {
  if (!fl.active) return;
  char msg[PATH_MAX + 128];
  size_t at = put_raw(msg, 0, sizeof msg, "{\"" FL_IP_ESCAPE "\":");
  at = put_json(msg, at, sizeof msg, kind);
  at = put_raw(msg, at, sizeof msg, ",\"" FL_IP_DETAIL "\":");
  at = put_json(msg, at, sizeof msg, detail);
  at = put_raw(msg, at, sizeof msg, "}\n");
  if (at <= sizeof msg) announce(msg, at);
}

/* ------------------------------------------------------------------------
 * Connecting. */

/* The control descriptor lives high, out of the way of the numbers shells
 * pick for redirections (0-9, and 10 upwards for {var}>file). */
static int high_fd(int fd) {
  int moved = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 900);
  if (moved < 0) return fd;
  syscall(SYS_close, fd);
  return moved;
}

void fl_protect_fd(int fd) {
  if (fd != fl.ctl_fd || fl.ctl_fd < 0) return;
  int moved = (int)syscall(SYS_fcntl, fl.ctl_fd, F_DUPFD_CLOEXEC, fl.ctl_fd + 1);
  if (moved < 0) lost("cannot move the control descriptor");
  syscall(SYS_close, fl.ctl_fd);
  fl.ctl_fd = moved;
}

static void connect_and_hello(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) lost("cannot create a socket");
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(fl_socket_path) >= sizeof addr.sun_path) lost("the socket path is too long");
  strcpy(addr.sun_path, fl_socket_path);
  while (connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) {
    if (errno != EINTR) lost("cannot connect to the scheduler");
  }
  fl.ctl_fd = high_fd(fd);
  char msg[512];
  int n = snprintf(msg, sizeof msg,
                   "{\"" FL_IP_HELLO "\":{\"" FL_IP_PID "\":%d,\"" FL_IP_PPID "\":%d,\"" FL_IP_ARGV0
                   "\":",
                   (int)getpid(), (int)getppid());
  size_t at = put_json(msg, (size_t)n, sizeof msg - 4, argv0);
  at = put_raw(msg, at, sizeof msg, "}}\n");
  fl.active = 1;
  park(msg, at);
}

void fl_child_start(void) {
  fl.needs_hello = 0;
  if (fl.ctl_fd >= 0) syscall(SYS_close, fl.ctl_fd); /* the parent's connection */
  fl.ctl_fd = -1;
  fl.active = 0;
  connect_and_hello();
}

static void on_fork_child(void) {
  if (fl_socket_path != NULL) fl.needs_hello = 1;
}

/* ------------------------------------------------------------------------
 * Paths and descriptors. */

enum { kFdTable = 4096 };
static unsigned char fd_on_dir[kFdTable / 8];

void fl_fd_mark(int fd, int on_dir) {
  if (fd < 0 || fd >= kFdTable) return;
  if (on_dir) {
    fd_on_dir[fd / 8] |= (unsigned char)(1u << (fd % 8));
  } else {
    fd_on_dir[fd / 8] &= (unsigned char)~(1u << (fd % 8));
  }
}

int fl_fd_marked(int fd) { return fd >= 0 && fd < kFdTable && (fd_on_dir[fd / 8] >> (fd % 8)) & 1; }

/* Resolves "." and ".." and repeated slashes in an absolute path, in place,
 * without touching the file system (symlinks below the directory are taken
 * as written). */
static void normalize(char* path) {
  char* out = path;
  const char* p = path;
  while (*p != '\0') {
    while (*p == '/') ++p;
    const char* end = strchrnul(p, '/');
    size_t n = (size_t)(end - p);
    if (n == 0) break;
    if (n == 1 && p[0] == '.') {
      /* nothing */
    } else if (n == 2 && p[0] == '.' && p[1] == '.') {
      while (out > path && *--out != '/') {
      }
    } else {
      *out++ = '/';
      memmove(out, p, n);
      out += n;
    }
    p = end;
  }
  if (out == path) *out++ = '/';
  *out = '\0';
}

static int relative_to(const char* abs, const char* dir, char* out, size_t size) {
  size_t n = strlen(dir);
  if (n == 0 || strncmp(abs, dir, n) != 0) return 0;
  if (abs[n] == '\0') return snprintf(out, size, ".") < (int)size;
  if (abs[n] != '/') return 0;
  return snprintf(out, size, "%s", abs + n + 1) < (int)size;
}

static int fd_path(int fd, char* out, size_t size) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, out, size - 1);
  if (n <= 0) return 0;
  out[n] = '\0';
  return 1;
}

static int under_dir(const char* abs, char* out, size_t size) {
  return relative_to(abs, fl_dir, out, size) || relative_to(abs, dir_real, out, size);
}

int fl_rel_path(int dirfd, const char* path, char* out, size_t size) {
  if (path == NULL) {
    snprintf(out, size, "%s", "");
    return 0;
  }
  char abs[2 * PATH_MAX];
  int saved_errno = errno;
  int ok = 1;
  if (path[0] == '/') {
    ok = snprintf(abs, sizeof abs, "%s", path) < (int)sizeof abs;
  } else {
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD) {
      ok = snprintf(base, sizeof base, "%s", cwd) < (int)sizeof base;
    } else {
      ok = fd_path(dirfd, base, sizeof base);
    }
    ok = ok && snprintf(abs, sizeof abs, "%s/%s", base, path) < (int)sizeof abs;
  }
  int hit = 0;
  if (ok) {
    normalize(abs);
    hit = under_dir(abs, out, size);
  }
  if (!hit) snprintf(out, size, "%s", path);
  errno = saved_errno;
  return hit;
}

int fl_rel_fd(int fd, char* out, size_t size) {
  if (fd < kFdTable && !fl_fd_marked(fd)) return 0;
  int saved_errno = errno;
  char abs[PATH_MAX];
  int hit = fd_path(fd, abs, sizeof abs) && under_dir(abs, out, size);
  errno = saved_errno;
  return hit;
}

void fl_cwd_changed(void) {
  int saved_errno = errno;
  if (getcwd(cwd, sizeof cwd) == NULL) cwd[0] = '\0';
  errno = saved_errno;
}

/* An image started by exec inherits descriptors but not the table: rebuild
 * it from /proc once. */
static void scan_fds(void) {
  DIR* d = opendir("/proc/self/fd");
  if (d == NULL) return;
  int self = dirfd(d);
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] == '.' || fd == self) continue;
    char abs[PATH_MAX], rel[PATH_MAX];
    fl_fd_mark(fd, fd_path(fd, abs, sizeof abs) && under_dir(abs, rel, sizeof rel));
  }
  closedir(d);
}

/* ------------------------------------------------------------------------
 * Start-up. glibc passes (argc, argv, envp) to constructors. */

__attribute__((constructor)) static void fl_init(int argc, char** argv, char** envp) {
  (void)envp;
  const char* sock = getenv(FL_IP_SOCKET_ENV);
  if (sock == NULL || *sock == '\0') return;
  fl.busy++;
  fl_socket_path = strdup(sock);
  const char* dir = getenv(FL_IP_DIR_ENV);
  char* d = strdup(dir != NULL ? dir : "");
  if (d[0] != '\0') normalize(d);
  fl_dir = d;
  if (d[0] == '\0' || realpath(d, dir_real) == NULL) dir_real[0] = '\0';
  const char* epoch = getenv(FL_IP_EPOCH_ENV);
  fl.epoch_us = epoch != NULL ? strtoll(epoch, NULL, 10) : 0;
  Dl_info info;
  if (dladdr((void*)&fl_init, &info) != 0 && info.dli_fname != NULL) {
    fl_lib_path = strdup(info.dli_fname);
  }
  snprintf(argv0, sizeof argv0, "%s", argc > 0 && argv[0] != NULL ? argv[0] : "?");
  fl_cwd_changed();
  scan_fds();
  pthread_atfork(NULL, NULL, on_fork_child);
  fl.busy--;
  connect_and_hello();
}
