/* libfaultline_wallclock.so: the wall clock of a process whose clock the
 * clock_step fault steps in freerun (sim/fault.h, ClockControl::Step).
 *
 * Interposes the libc entry points that read the wall clock —
 * clock_gettime for CLOCK_REALTIME, CLOCK_REALTIME_COARSE and CLOCK_TAI,
 * gettimeofday, time — and adds the step the simulator wrote into the
 * process's step page: FAULTLINE_WALL_STEP names a file of one int64_t
 * (microseconds, the sum of the steps so far), which this library maps read
 * only at load time and the simulator changes while the process runs. Every
 * other clock (CLOCK_MONOTONIC, CLOCK_BOOTTIME, ...) is untouched: that is
 * what a step of the host's clock does.
 *
 * Safe to load anywhere: without the variable, or with a file it cannot map,
 * every call goes straight to libc. What it cannot reach: static binaries,
 * raw syscall(2), and programs that read the vDSO themselves. Plain C, libc
 * and libdl only, no sanitizer (it is loaded into processes of any build). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "sim/protocol/wall_clock_step.h"

static const int64_t kNoStep = 0;
/* Points at kNoStep until the page is mapped: the one load every read makes. */
static const int64_t* step_us = &kNoStep;

typedef int (*clock_gettime_fn)(clockid_t, struct timespec*);
static void* real_clock_gettime;

static clock_gettime_fn real_gettime(void) {
  void* f = __atomic_load_n(&real_clock_gettime, __ATOMIC_RELAXED);
  if (f == NULL) {
    f = dlsym(RTLD_NEXT, "clock_gettime");
    __atomic_store_n(&real_clock_gettime, f, __ATOMIC_RELAXED);
  }
  return (clock_gettime_fn)f;
}

__attribute__((constructor)) static void map_step_page(void) {
  const char* path = getenv(FAULTLINE_WALL_STEP_ENV);
  if (path == NULL || *path == '\0') return;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    dprintf(2, "faultline wall clock: cannot open %s; the wall clock is not stepped\n", path);
    return;
  }
  void* page = mmap(NULL, sizeof(int64_t), PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (page == MAP_FAILED) {
    dprintf(2, "faultline wall clock: cannot map %s; the wall clock is not stepped\n", path);
    return;
  }
  step_us = (const int64_t*)page;
}

static void add_step(struct timespec* ts, int64_t us) {
  int64_t ns = (int64_t)ts->tv_nsec + (us % 1000000) * 1000;
  int64_t sec = (int64_t)ts->tv_sec + us / 1000000;
  if (ns < 0) {
    ns += 1000000000;
    sec -= 1;
  } else if (ns >= 1000000000) {
    ns -= 1000000000;
    sec += 1;
  }
  ts->tv_sec = (time_t)sec;
  ts->tv_nsec = (long)ns;
}

static int is_wall(clockid_t id) {
  return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_TAI;
}

int clock_gettime(clockid_t id, struct timespec* ts) {
  int rc = real_gettime()(id, ts);
  if (rc == 0 && ts != NULL && is_wall(id)) {
    const int64_t us = __atomic_load_n(step_us, __ATOMIC_RELAXED);
    if (us != 0) add_step(ts, us);
  }
  return rc;
}

int gettimeofday(struct timeval* restrict tv, void* restrict tz) {
  struct timespec ts;
  (void)tz; /* obsolete; glibc ignores it as well */
  if (tv == NULL) return 0;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return -1;
  tv->tv_sec = ts.tv_sec;
  tv->tv_usec = ts.tv_nsec / 1000;
  return 0;
}

time_t time(time_t* out) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (time_t)-1;
  if (out != NULL) *out = ts.tv_sec;
  return ts.tv_sec;
}
