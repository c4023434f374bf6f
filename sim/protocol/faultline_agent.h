/* faultline_agent.h: speak faultline's control protocol from C or C++.
 *
 * For programs that want full lockstep control under faultline (DESIGN §3, §9):
 * yield points, sleep, clock and history events in one line each. The wire
 * protocol is described in docs/protocol.md; this header is one implementation
 * of it, in C99 with nothing beyond libc and POSIX, usable from C++ as well.
 *
 *   #include "faultline_agent.h"
 *   fl_start("agent", id);                        // once, first
 *   fl_yield("claim.locked", item);               // before/after a step on shared state
 *   fl_claim_ok(id, item, token, fl_now_us() + lease_us);   // what happened
 *   fl_sleep_us(work_us);                         // instead of usleep/nanosleep
 *
 * Under faultline (FAULTLINE_CTL_FD set by the harness):
 *   - lockstep (FAULTLINE_MODE unset or "lockstep"): fl_yield and fl_sleep_us
 *     block until the harness lets the process go on; fl_now_us reads the
 *     simulated clock the harness sent with its last answer. Only one
 *     controlled process runs at a time, so between two yields the program
 *     must not wait for another process (use non-blocking locks and retry
 *     through fl_sleep_us).
 *   - freerun: fl_yield does nothing, fl_sleep_us sleeps, fl_now_us reads
 *     CLOCK_REALTIME (skewed when FAULTLINE_CLOCK_SKEW says so), and every
 *     event carries the sender's CLOCK_MONOTONIC.
 * Outside faultline every call costs one branch, except that fl_sleep_us
 * sleeps and fl_now_us reads CLOCK_REALTIME.
 *
 * If the channel breaks (the harness is gone, or it answered nonsense) the
 * process exits with status 3 at once: it must never run uncontrolled.
 *
 * Limits: the state is per translation unit (static inline functions with a
 * static state), so call these functions from one .c file of your program and
 * wrap them there if other files need them. One thread. A message is at most
 * FL_MAX_MESSAGE bytes; a longer event ends the process with status 3.
 * Strings passed to the fl_* event helpers are JSON-escaped; the `fields`
 * format of fl_event is inserted as written (it must be valid JSON members).
 */
#ifndef FAULTLINE_AGENT_H_
#define FAULTLINE_AGENT_H_

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef __cplusplus
#define FL__CAST(type, value) static_cast<type>(value)
extern "C" {
#else
#define FL__CAST(type, value) ((type)(value))
#endif

#define FL_MAX_MESSAGE 4096

#if defined(__GNUC__) || defined(__clang__)
#define FL__PRINTF(format_index, first_arg) \
  __attribute__((format(printf, format_index, first_arg)))
#else
#define FL__PRINTF(format_index, first_arg)
#endif

/* Not part of the API: the process's side of the channel. */
typedef struct fl__channel {
  int started;
  int fd; /* -1: not under faultline */
  int lockstep;
  int64_t now_us; /* lockstep: the simulated clock of the last answer */
  int64_t skew_offset_us, skew_drift_ppm, skew_origin_us; /* freerun clock skew */
  char in[512];
  size_t in_len;
  int timed_out; /* the last answer said "timed_out": the command of a "spawned" was */
} fl__channel;

typedef struct fl__buffer {
  char text[FL_MAX_MESSAGE];
  size_t len;
  int overflow;
} fl__buffer;

static inline fl__channel *fl__get(void) {
  static fl__channel channel = {0, -1, 0, 0, 0, 0, 0, {0}, 0, 0};
  return &channel;
}

static inline int64_t fl__clock_us(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return FL__CAST(int64_t, ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

static inline void fl__die(const char *what) {
  fprintf(stderr, "faultline_agent: control channel lost (%s); exiting\n", what);
  _exit(3);
}

static inline void fl__put(fl__buffer *b, const char *s) {
  size_t n = strlen(s);
  if (b->len + n + 1 > sizeof b->text) {
    b->overflow = 1;
    return;
  }
  memcpy(b->text + b->len, s, n);
  b->len += n;
  b->text[b->len] = '\0';
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static inline void fl__put_string(fl__buffer *b, const char *s) {
  char one[8];
  fl__put(b, "\"");
  for (; s != NULL && *s != '\0'; ++s) {
    unsigned char c = FL__CAST(unsigned char, *s);
    if (c == '"' || c == '\\') {
      one[0] = '\\';
      one[1] = FL__CAST(char, c);
      one[2] = '\0';
    } else if (c < 0x20) {
      snprintf(one, sizeof one, "\\u%04x", FL__CAST(unsigned, c));
    } else {
      one[0] = FL__CAST(char, c);
      one[1] = '\0';
    }
    fl__put(b, one);
  }
  fl__put(b, "\"");
}

static inline void fl__put_int(fl__buffer *b, long long v) {
  char digits[32];
  snprintf(digits, sizeof digits, "%lld", v);
  fl__put(b, digits);
}

static inline void fl__send(fl__buffer *b) {
  fl__channel *ch = fl__get();
  const char *p = b->text;
  size_t left;
  fl__put(b, "\n");
  if (b->overflow) fl__die("message longer than FL_MAX_MESSAGE");
  left = b->len;
  while (left > 0) {
    /* MSG_NOSIGNAL: a vanished harness is an error we report, not SIGPIPE. */
    ssize_t n = send(ch->fd, p, left, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = write(ch->fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fl__die("write");
    p += n;
    left -= FL__CAST(size_t, n);
  }
}

/* Waits for {"go": true, "now": US} and takes the simulated clock from it. */
static inline void fl__await_go(void) {
  fl__channel *ch = fl__get();
  for (;;) {
    char *nl = FL__CAST(char *, memchr(ch->in, '\n', ch->in_len));
    if (nl != NULL) {
      size_t line_len = FL__CAST(size_t, nl - ch->in);
      char *now;
      *nl = '\0';
      now = strstr(ch->in, "\"now\":");
      if (strstr(ch->in, "\"go\":true") == NULL || now == NULL) fl__die("unexpected reply");
      ch->now_us = strtoll(now + 6, NULL, 10);
      ch->timed_out = strstr(ch->in, "\"timed_out\":true") != NULL;
      memmove(ch->in, nl + 1, ch->in_len - line_len - 1);
      ch->in_len -= line_len + 1;
      return;
    }
    if (ch->in_len == sizeof ch->in) fl__die("reply too long");
    {
      ssize_t n = read(ch->fd, ch->in + ch->in_len, sizeof ch->in - ch->in_len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fl__die(n == 0 ? "end of file" : "read");
      ch->in_len += FL__CAST(size_t, n);
    }
  }
}

/* Starts the channel: says hello as `role` ("agent", "reaper", ...) with id
 * `id`, and in lockstep waits for the harness's first go. Call once, before
 * anything else. Returns 1 under faultline, 0 outside it. */
static inline int fl_start(const char *role, const char *id) {
  fl__channel *ch = fl__get();
  const char *env, *mode, *skew;
  char *end = NULL;
  long fd;
  fl__buffer b;
  if (ch->started) return ch->fd >= 0;
  ch->started = 1;
  env = getenv("FAULTLINE_CTL_FD");
  if (env == NULL || *env == '\0') return 0;
  fd = strtol(env, &end, 10);
  if (*end != '\0' || fd < 0 || fcntl(FL__CAST(int, fd), F_GETFD) == -1) {
    fprintf(stderr, "faultline_agent: FAULTLINE_CTL_FD=%s is not an open file descriptor\n", env);
    _exit(3);
  }
  ch->fd = FL__CAST(int, fd);
  fcntl(ch->fd, F_SETFD, FD_CLOEXEC); /* what this process runs must not inherit it */
  mode = getenv("FAULTLINE_MODE");
  ch->lockstep = mode == NULL || strcmp(mode, "freerun") != 0;
  skew = getenv("FAULTLINE_CLOCK_SKEW");
  if (!ch->lockstep && skew != NULL && *skew != '\0') {
    long long offset = 0, drift = 0;
    if (sscanf(skew, "%lld:%lld", &offset, &drift) != 2 || drift <= -1000000) {
      fprintf(stderr, "faultline_agent: FAULTLINE_CLOCK_SKEW=%s is not OFFSET_US:DRIFT_PPM\n",
              skew);
      _exit(3);
    }
    ch->skew_offset_us = offset;
    ch->skew_drift_ppm = drift;
    ch->skew_origin_us = fl__clock_us(CLOCK_REALTIME);
  }
  b.len = 0;
  b.overflow = 0;
  b.text[0] = '\0';
  fl__put(&b, "{\"hello\":{\"pid\":");
  fl__put_int(&b, FL__CAST(long long, getpid()));
  fl__put(&b, ",\"role\":");
  fl__put_string(&b, role);
  fl__put(&b, ",\"id\":");
  fl__put_string(&b, id);
  fl__put(&b, "}}");
  fl__send(&b);
  if (ch->lockstep) fl__await_go();
  return 1;
}

/* 1 when the harness decides every step (lockstep), else 0. */
static inline int fl_lockstep(void) {
  fl__channel *ch = fl__get();
  return ch->fd >= 0 && ch->lockstep;
}

/* The clock in microseconds: simulated in lockstep, else CLOCK_REALTIME. */
static inline int64_t fl_now_us(void) {
  fl__channel *ch = fl__get();
  int64_t real;
  if (ch->fd >= 0 && ch->lockstep) return ch->now_us;
  real = fl__clock_us(CLOCK_REALTIME);
  return real + ch->skew_offset_us + ch->skew_drift_ppm * (real - ch->skew_origin_us) / 1000000;
}

/* A yield point: in lockstep, parks here until the harness lets it go on.
 * `point` names the step (reuse the reference's names where the step means
 * the same, see docs/protocol.md); `item` the work item, or "" / NULL. */
static inline void fl_yield(const char *point, const char *item) {
  fl__buffer b;
  if (!fl_lockstep()) return;
  b.len = 0;
  b.overflow = 0;
  fl__put(&b, "{\"yield\":");
  fl__put_string(&b, point);
  fl__put(&b, ",\"item\":");
  fl__put_string(&b, item != NULL ? item : "");
  fl__put(&b, "}");
  fl__send(&b);
  fl__await_go();
}

/* Sleeps `us` microseconds of the clock fl_now_us reads. */
static inline void fl_sleep_us(int64_t us) {
  fl__channel *ch = fl__get();
  struct timespec ts, rest;
  if (us < 0) us = 0;
  if (ch->fd >= 0 && ch->lockstep) {
    fl__buffer b;
    b.len = 0;
    b.overflow = 0;
    fl__put(&b, "{\"sleep_us\":");
    fl__put_int(&b, FL__CAST(long long, us));
    fl__put(&b, "}");
    fl__send(&b);
    fl__await_go();
    return;
  }
  /* A clock that runs fast by drift_ppm ends the sleep early in real time. */
  if (ch->skew_drift_ppm != 0) us = us * 1000000 / (1000000 + ch->skew_drift_ppm);
  ts.tv_sec = FL__CAST(time_t, us / 1000000);
  ts.tv_nsec = FL__CAST(long, (us % 1000000) * 1000);
  while (nanosleep(&ts, &rest) != 0 && errno == EINTR) ts = rest;
}

/* Probes (docs/protocol.md): named points a run can reach, counted by the
 * harness for the verdict and never written to the trace, so adding one
 * changes no trace. A scenario requires probes in its "expect" block; a
 * required probe that no run reached makes the run vacuous.
 *
 *   FL_REACHED("takeover.after_expiry");      // this point was reached
 *   FL_SOMETIMES(queue_len > 8, "queue.deep"); // this condition held at least once
 *
 * Outside faultline they cost one branch (the condition is still evaluated). */
static inline void fl_probe(const char *name, int hit) {
  fl__channel *ch = fl__get();
  fl__buffer b;
  if (ch->fd < 0) return;
  b.len = 0;
  b.overflow = 0;
  fl__put(&b, "{\"event\":{\"type\":\"probe\",\"name\":");
  fl__put_string(&b, name);
  fl__put(&b, hit ? ",\"hit\":true}" : ",\"hit\":false}");
  if (!ch->lockstep) {
    fl__put(&b, ",\"mono_us\":");
    fl__put_int(&b, FL__CAST(long long, fl__clock_us(CLOCK_MONOTONIC)));
  }
  fl__put(&b, "}");
  fl__send(&b);
}
#define FL_REACHED(name) fl_probe((name), 1)
#define FL_SOMETIMES(cond, name) fl_probe((name), (cond) ? 1 : 0)

/* Records a history event of `type` (see sim/trace_event.h for the types the
 * invariants read). `fields` is a printf format of further JSON members,
 * e.g. "\"item\":\"%s\",\"token\":%lld", or NULL / "" for none. */
static inline void fl_event(const char *type, const char *fields, ...) FL__PRINTF(2, 3);
static inline void fl_event(const char *type, const char *fields, ...) {
  fl__channel *ch = fl__get();
  fl__buffer b;
  if (ch->fd < 0) return;
  b.len = 0;
  b.overflow = 0;
  fl__put(&b, "{\"event\":{\"type\":");
  fl__put_string(&b, type);
  if (fields != NULL && *fields != '\0') {
    char formatted[FL_MAX_MESSAGE];
    int n;
    va_list args;
    va_start(args, fields);
    n = vsnprintf(formatted, sizeof formatted, fields, args);
    va_end(args);
    if (n < 0 || FL__CAST(size_t, n) >= sizeof formatted) b.overflow = 1;
    fl__put(&b, ",");
    fl__put(&b, formatted);
  }
  fl__put(&b, "}");
  if (!ch->lockstep) {
    fl__put(&b, ",\"mono_us\":");
    fl__put_int(&b, FL__CAST(long long, fl__clock_us(CLOCK_MONOTONIC)));
  }
  fl__put(&b, "}");
  fl__send(&b);
}

/* The events every coordinator emits, with their common fields. */
static inline void fl__grant_event(const char *type, const char *agent, const char *item,
                                   long long token, int64_t lease_until_us) {
  fl__buffer f;
  if (fl__get()->fd < 0) return;
  f.len = 0;
  f.overflow = 0;
  fl__put(&f, "\"agent\":");
  fl__put_string(&f, agent);
  fl__put(&f, ",\"item\":");
  fl__put_string(&f, item);
  fl__put(&f, ",\"token\":");
  fl__put_int(&f, token);
  if (lease_until_us > 0) {
    fl__put(&f, ",\"lease_until_us\":");
    fl__put_int(&f, FL__CAST(long long, lease_until_us));
  }
  fl__put(&f, ",\"now_us\":");
  fl__put_int(&f, FL__CAST(long long, fl_now_us()));
  if (f.overflow) fl__die("event longer than FL_MAX_MESSAGE");
  fl_event(type, "%s", f.text);
}

/* `agent` registered (config fingerprint "" when the system has none). */
static inline void fl_register(const char *agent, const char *fingerprint) {
  fl__buffer f;
  if (fl__get()->fd < 0) return;
  f.len = 0;
  f.overflow = 0;
  fl__put(&f, "\"agent\":");
  fl__put_string(&f, agent);
  fl__put(&f, ",\"fingerprint\":");
  fl__put_string(&f, fingerprint != NULL ? fingerprint : "");
  fl_event("register", "%s", f.text);
}
/* `item` granted to `agent` with fencing token `token`, valid until lease_until_us. */
static inline void fl_claim_ok(const char *agent, const char *item, long long token,
                               int64_t lease_until_us) {
  fl__grant_event("claim_ok", agent, item, token, lease_until_us);
}
/* The grant's lease was extended to lease_until_us. */
static inline void fl_renew_ok(const char *agent, const char *item, long long token,
                               int64_t lease_until_us) {
  fl__grant_event("renew_ok", agent, item, token, lease_until_us);
}
/* The item's effect (its result in the protected resource) was written. */
static inline void fl_effect(const char *agent, const char *item, long long token) {
  fl__grant_event("effect", agent, item, token, 0);
}
/* The item was marked done under this grant. */
static inline void fl_complete_ok(const char *agent, const char *item, long long token) {
  fl__grant_event("complete_ok", agent, item, token, 0);
}
/* The holder gave the item back unfinished. */
static inline void fl_release(const char *agent, const char *item, long long token,
                              const char *reason) {
  fl__buffer f;
  if (fl__get()->fd < 0) return;
  f.len = 0;
  f.overflow = 0;
  fl__put(&f, "\"agent\":");
  fl__put_string(&f, agent);
  fl__put(&f, ",\"item\":");
  fl__put_string(&f, item);
  fl__put(&f, ",\"token\":");
  fl__put_int(&f, token);
  fl__put(&f, ",\"reason\":");
  fl__put_string(&f, reason != NULL ? reason : "");
  fl_event("release", "%s", f.text);
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FAULTLINE_AGENT_H_ */
