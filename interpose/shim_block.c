/* libfaultline_interpose.so, blocking and time.
 *
 * Only one controlled process runs at a time, so a call that blocks in the
 * kernel until another process acts would hang the run. Each such call is
 * turned into its non-blocking form; while that would block, the process
 * parks as "blocked" and the scheduler lets it retry only after something
 * that could unblock it has happened. Waiting for a child (wait*), reading a
 * pipe, FIFO or socket (read, readv, and stdio reads whose buffer is empty),
 * writing a full pipe, poll/select and sleeps are modelled here; flock and
 * fcntl locks in shim_fs.c. Writes to files on the coordination directory
 * yield (sys.write).
 *
 * Clocks read the simulated time the scheduler sent with its last "go";
 * sleeps become timers on that clock. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "interpose/shim.h"
#include "sim/protocol/interpose_protocol.h"

static void *real_wait, *real_waitpid, *real_wait3, *real_wait4, *real_waitid;
static void *real_read, *real_readv, *real_write, *real_writev, *real_pwrite, *real_pwrite64;
static void *real_fread, *real_fgets, *real_fgetc, *real_getc, *real_getline, *real_getdelim,
    *real___getdelim, *real___uflow, *real___underflow;
static void *real_poll, *real_ppoll, *real_select, *real_pselect;
static void *real_nanosleep, *real_clock_nanosleep, *real_sleep, *real_usleep;
static void *real_clock_gettime, *real_gettimeofday, *real_time;

static int fail_eintr(void) {
  errno = EINTR;
  return -1;
}

static void fd_detail(char* out, size_t size, int fd) { snprintf(out, size, "fd %d", fd); }

/* ------------------------------------------------------------------------
 * Children. */

pid_t wait4(pid_t pid, int* status, int options, struct rusage* usage) {
  if (!fl_on() || (options & WNOHANG) != 0) return REAL(wait4)(pid, status, options, usage);
  for (;;) {
    pid_t r = REAL(wait4)(pid, status, options | WNOHANG, usage);
    if (r != 0) return r; /* a child, or an error such as ECHILD */
    if (fl_block(FL_IP_BLOCK_WAIT, "", -1) == kFlIntr) return fail_eintr();
  }
}

pid_t waitpid(pid_t pid, int* status, int options) {
  if (!fl_on() || (options & WNOHANG) != 0) return REAL(waitpid)(pid, status, options);
  return wait4(pid, status, options, NULL);
}

pid_t wait(int* status) {
  if (!fl_on()) return REAL(wait)(status);
  return wait4(-1, status, 0, NULL);
}

pid_t wait3(int* status, int options, struct rusage* usage) {
  if (!fl_on()) return REAL(wait3)(status, options, usage);
  return wait4(-1, status, options, usage);
}

int waitid(idtype_t idtype, id_t id, siginfo_t* info, int options) {
  if (!fl_on() || (options & WNOHANG) != 0) return REAL(waitid)(idtype, id, info, options);
  for (;;) {
    info->si_pid = 0;
    int r = REAL(waitid)(idtype, id, info, options | WNOHANG);
    if (r != 0 || info->si_pid != 0) return r;
    if (fl_block(FL_IP_BLOCK_WAIT, "", -1) == kFlIntr) return fail_eintr();
  }
}

/* ------------------------------------------------------------------------
 * Pipes. A regular file is always ready, so the check costs one poll. */

static int blocking_fd(int fd) {
  int flags = (int)syscall(SYS_fcntl, fd, F_GETFL);
  return flags >= 0 && (flags & O_NONBLOCK) == 0;
}

/* Returns 0 once `fd` is ready for `events` (or in a state the real call
 * will report), -1 with EINTR when a signal's handler interrupts the wait. */
static int await_ready(int fd, short events, const char* what, int restartable) {
  for (;;) {
    struct pollfd p = {.fd = fd, .events = events};
    if (REAL(poll)(&p, 1, 0) != 0 || !blocking_fd(fd)) return 0;
    char detail[32];
    fd_detail(detail, sizeof detail, fd);
    enum fl_woken w = fl_block(what, detail, -1);
    if (w == kFlIntr || (w == kFlRestart && !restartable)) return fail_eintr();
  }
}

ssize_t read(int fd, void* buf, size_t count) {
  if (fl_on() && await_ready(fd, POLLIN, FL_IP_BLOCK_READ, 1) != 0) return -1;
  return REAL(read)(fd, buf, count);
}

ssize_t readv(int fd, const struct iovec* iov, int iovcnt) {
  if (fl_on() && await_ready(fd, POLLIN, FL_IP_BLOCK_READ, 1) != 0) return -1;
  return REAL(readv)(fd, iov, iovcnt);
}

/* stdio reads from its buffer first; only an empty buffer reaches the
 * kernel, through libc-internal calls no wrapper sees. */
static int stdio_ready(FILE* f) {
  if (f->_IO_read_ptr < f->_IO_read_end) return 0;
  return await_ready(fileno(f), POLLIN, FL_IP_BLOCK_READ, 1);
}

size_t fread(void* buf, size_t size, size_t n, FILE* f) {
  if (fl_on() && stdio_ready(f) != 0) return 0;
  return REAL(fread)(buf, size, n, f);
}
char* fgets(char* s, int n, FILE* f) {
  if (fl_on() && stdio_ready(f) != 0) return NULL;
  return REAL(fgets)(s, n, f);
}
int fgetc(FILE* f) {
  if (fl_on() && stdio_ready(f) != 0) return EOF;
  return REAL(fgetc)(f);
}
int getc(FILE* f) {
  if (fl_on() && stdio_ready(f) != 0) return EOF;
  return REAL(getc)(f);
}
ssize_t getline(char** line, size_t* n, FILE* f) {
  if (fl_on() && stdio_ready(f) != 0) return -1;
  return REAL(getline)(line, n, f);
}
ssize_t getdelim(char** line, size_t* n, int delim, FILE* f) {
  if (fl_on() && stdio_ready(f) != 0) return -1;
  return REAL(getdelim)(line, n, delim, f);
}
ssize_t __getdelim(char** line, size_t* n, int delim, FILE* f);
ssize_t __getdelim(char** line, size_t* n, int delim, FILE* f) {
  if (fl_on() && stdio_ready(f) != 0) return -1;
  return REAL(__getdelim)(line, n, delim, f);
}
/* What the getc_unlocked family of macros calls on an empty buffer. */
int __uflow(FILE* f);
int __underflow(FILE* f);
int __uflow(FILE* f) {
  if (fl_on() && stdio_ready(f) != 0) return EOF;
  return REAL(__uflow)(f);
}
int __underflow(FILE* f) {
  if (fl_on() && stdio_ready(f) != 0) return EOF;
  return REAL(__underflow)(f);
}

/* A write larger than PIPE_BUF to a pipe the reader has not drained would
 * block part-way. POLLOUT promises room for PIPE_BUF bytes, so the write goes
 * in parts of that size, parking while the pipe is full. */
static ssize_t write_pipe_in_parts(int fd, const char* buf, size_t count) {
  size_t done = 0;
  while (done < count) {
    if (await_ready(fd, POLLOUT, FL_IP_BLOCK_WRITE, 1) != 0) {
      return done > 0 ? (ssize_t)done : -1;
    }
    size_t part = count - done < PIPE_BUF ? count - done : PIPE_BUF;
    ssize_t n = REAL(write)(fd, buf + done, part);
    if (n < 0) return done > 0 ? (ssize_t)done : -1;
    done += (size_t)n;
  }
  return (ssize_t)done;
}

static int is_fifo(int fd) {
  struct stat st;
  return syscall(SYS_fstat, fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

ssize_t write(int fd, const void* buf, size_t count) {
  if (!fl_on()) return REAL(write)(fd, buf, count);
  char rel[PATH_MAX];
  if (fl_rel_fd(fd, rel, sizeof rel)) {
    fl_yield(FL_IP_POINT_WRITE, rel, NULL);
    return REAL(write)(fd, buf, count);
  }
  if (count > PIPE_BUF && blocking_fd(fd) && is_fifo(fd)) {
    return write_pipe_in_parts(fd, buf, count);
  }
  if (await_ready(fd, POLLOUT, FL_IP_BLOCK_WRITE, 1) != 0) return -1;
  return REAL(write)(fd, buf, count);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  if (!fl_on()) return REAL(writev)(fd, iov, iovcnt);
  char rel[PATH_MAX];
  if (fl_rel_fd(fd, rel, sizeof rel)) {
    fl_yield(FL_IP_POINT_WRITE, rel, NULL);
  } else if (await_ready(fd, POLLOUT, FL_IP_BLOCK_WRITE, 1) != 0) {
    return -1;
  }
  return REAL(writev)(fd, iov, iovcnt);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  if (fl_on()) {
    char rel[PATH_MAX];
    if (fl_rel_fd(fd, rel, sizeof rel)) fl_yield(FL_IP_POINT_WRITE, rel, NULL);
  }
  return REAL(pwrite)(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off64_t offset) {
  if (fl_on()) {
    char rel[PATH_MAX];
    if (fl_rel_fd(fd, rel, sizeof rel)) fl_yield(FL_IP_POINT_WRITE, rel, NULL);
  }
  return REAL(pwrite64)(fd, buf, count, offset);
}

/* ------------------------------------------------------------------------
 * poll and select: tried at once; while nothing is ready, parked as blocked
 * with the timeout as a simulated deadline. Never restarted after a signal
 * handler, as in the kernel. */

static int64_t deadline_ms(int timeout_ms) {
  return timeout_ms < 0 ? -1 : fl.now_us + (int64_t)timeout_ms * 1000;
}

static int64_t deadline_ts(const struct timespec* ts) {
  return ts == NULL ? -1 : fl.now_us + ts->tv_sec * 1000000LL + (ts->tv_nsec + 999) / 1000;
}

/* 1: keep waiting; 0: the deadline passed; -1: interrupted (EINTR). */
static int poll_wait(int64_t until) {
  if (until >= 0 && fl.now_us >= until) return 0;
  if (fl_block(FL_IP_BLOCK_POLL, "", until) != kFlGo) return fail_eintr();
  return until >= 0 && fl.now_us >= until ? 0 : 1;
}

int poll(struct pollfd* fds, nfds_t n, int timeout_ms) {
  if (!fl_on()) return REAL(poll)(fds, n, timeout_ms);
  int64_t until = deadline_ms(timeout_ms);
  for (;;) {
    int r = REAL(poll)(fds, n, 0);
    if (r != 0 || timeout_ms == 0) return r;
    int w = poll_wait(until);
    if (w <= 0) return w;
  }
}

int ppoll(struct pollfd* fds, nfds_t n, const struct timespec* ts, const sigset_t* mask) {
  if (!fl_on()) return REAL(ppoll)(fds, n, ts, mask);
  int64_t until = deadline_ts(ts);
  struct timespec zero = {0, 0};
  for (;;) {
    int r = REAL(ppoll)(fds, n, &zero, mask);
    if (r != 0 || (ts != NULL && ts->tv_sec == 0 && ts->tv_nsec == 0)) return r;
    int w = poll_wait(until);
    if (w <= 0) return w;
  }
}

struct fd_sets {
  fd_set r, w, e;
};

static void save_sets(struct fd_sets* s, fd_set* r, fd_set* w, fd_set* e) {
  if (r != NULL) s->r = *r;
  if (w != NULL) s->w = *w;
  if (e != NULL) s->e = *e;
}

static void restore_sets(const struct fd_sets* s, fd_set* r, fd_set* w, fd_set* e) {
  if (r != NULL) *r = s->r;
  if (w != NULL) *w = s->w;
  if (e != NULL) *e = s->e;
}

int select(int n, fd_set* r, fd_set* w, fd_set* e, struct timeval* tv) {
  if (!fl_on()) return REAL(select)(n, r, w, e, tv);
  int64_t until = tv == NULL ? -1 : fl.now_us + tv->tv_sec * 1000000LL + tv->tv_usec;
  struct fd_sets saved;
  save_sets(&saved, r, w, e);
  for (;;) {
    struct timeval zero = {0, 0};
    int rc = REAL(select)(n, r, w, e, &zero);
    if (rc != 0 || (tv != NULL && tv->tv_sec == 0 && tv->tv_usec == 0)) return rc;
    restore_sets(&saved, r, w, e);
    int wt = poll_wait(until);
    if (wt <= 0) {
      if (wt == 0) {
        if (r != NULL) FD_ZERO(r);
        if (w != NULL) FD_ZERO(w);
        if (e != NULL) FD_ZERO(e);
      }
      return wt;
    }
  }
}

int pselect(int n, fd_set* r, fd_set* w, fd_set* e, const struct timespec* ts,
            const sigset_t* mask) {
  if (!fl_on()) return REAL(pselect)(n, r, w, e, ts, mask);
  int64_t until = deadline_ts(ts);
  struct fd_sets saved;
  save_sets(&saved, r, w, e);
  for (;;) {
    struct timespec zero = {0, 0};
    int rc = REAL(pselect)(n, r, w, e, &zero, mask);
    if (rc != 0 || (ts != NULL && ts->tv_sec == 0 && ts->tv_nsec == 0)) return rc;
    restore_sets(&saved, r, w, e);
    int wt = poll_wait(until);
    if (wt <= 0) {
      if (wt == 0) {
        if (r != NULL) FD_ZERO(r);
        if (w != NULL) FD_ZERO(w);
        if (e != NULL) FD_ZERO(e);
      }
      return wt;
    }
  }
}

/* ------------------------------------------------------------------------
 * Sleeping: a timer on the simulated clock. A signal that arrived meanwhile
 * is delivered as the sleep ends (the sleep is not cut short). */

static int64_t ts_us(const struct timespec* ts) {
  return ts->tv_sec * 1000000LL + (ts->tv_nsec + 999) / 1000;
}

int nanosleep(const struct timespec* req, struct timespec* rem) {
  if (!fl_on()) return REAL(nanosleep)(req, rem);
  if (req == NULL || req->tv_nsec < 0 || req->tv_nsec >= 1000000000L) {
    errno = EINVAL;
    return -1;
  }
  fl_sleep(ts_us(req));
  if (rem != NULL) rem->tv_sec = rem->tv_nsec = 0;
  return 0;
}

int clock_nanosleep(clockid_t clk, int flags, const struct timespec* req, struct timespec* rem) {
  if (!fl_on()) return REAL(clock_nanosleep)(clk, flags, req, rem);
  int64_t us = ts_us(req);
  if ((flags & TIMER_ABSTIME) != 0) {
    int64_t now = clk == CLOCK_REALTIME ? fl.epoch_us + fl.now_us : fl.now_us;
    us = us > now ? us - now : 0;
  }
  fl_sleep(us);
  if (rem != NULL && (flags & TIMER_ABSTIME) == 0) rem->tv_sec = rem->tv_nsec = 0;
  return 0;
}

unsigned int sleep(unsigned int seconds) {
  if (!fl_on()) return REAL(sleep)(seconds);
  fl_sleep((int64_t)seconds * 1000000);
  return 0;
}

int usleep(useconds_t us) {
  if (!fl_on()) return REAL(usleep)(us);
  fl_sleep(us);
  return 0;
}

/* ------------------------------------------------------------------------
 * Clocks. CPU-time clocks stay real. */

int clock_gettime(clockid_t clk, struct timespec* ts) {
  if (!fl.active) return REAL(clock_gettime)(clk, ts);
  int64_t us;
  switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_TAI:
      us = fl.epoch_us + fl.now_us;
      break;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
      us = fl.now_us;
      break;
    default:
      return REAL(clock_gettime)(clk, ts);
  }
  ts->tv_sec = us / 1000000;
  ts->tv_nsec = (long)(us % 1000000) * 1000;
  return 0;
}

int gettimeofday(struct timeval* restrict tv, void* restrict tz) {
  if (!fl.active) return REAL(gettimeofday)(tv, tz);
  int64_t us = fl.epoch_us + fl.now_us;
  tv->tv_sec = us / 1000000;
  tv->tv_usec = us % 1000000;
  return 0;
}

time_t time(time_t* t) {
  if (!fl.active) return REAL(time)(t);
  time_t s = (time_t)((fl.epoch_us + fl.now_us) / 1000000);
  if (t != NULL) *t = s;
  return s;
}
