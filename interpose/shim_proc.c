/* libfaultline_interpose.so, processes: new processes and new images stay
 * under control, and what cannot be controlled is reported.
 *
 * fork: the child makes its own connection and waits for "go" before it
 *   returns; the parent announces the child ("fork"), so the scheduler knows
 *   to expect it before it decides the next step. vfork is a fork here (the
 *   child needs its own memory to connect). posix_spawn is announced after
 *   the fact: its child runs nothing of ours before it execs.
 * exec: announced ("exec") so that the closing connection is not taken for
 *   an exit; the environment the new image gets keeps LD_PRELOAD and the
 *   library's variables even when the program dropped them (env -i). A
 *   static binary is reported before it starts: it would run uncontrolled.
 * signals: kill and killpg are announced after the fact, so that the
 *   scheduler wakes a sleeping or blocked target (which takes the signal as
 *   its park ends) and waits for a SIGKILLed one to die before anyone runs.
 * threads: pthread_create is reported: one process, one thread of control. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "interpose/shim.h"
#include "sim/protocol/interpose_protocol.h"

extern char** environ;

static void *real_fork, *real__Fork, *real_posix_spawn, *real_posix_spawnp;
static void *real_execve, *real_execvpe, *real_fexecve, *real_pthread_create;
static void *real_kill, *real_killpg;

/* ------------------------------------------------------------------------
 * New processes. */

pid_t fork(void) {
  if (!fl_on()) return REAL(fork)();
  pid_t pid = REAL(fork)();
  if (pid == 0) {
    fl_child_start();
  } else if (pid > 0) {
    fl_announce_fork(pid);
  }
  return pid;
}

pid_t _Fork(void) {
  if (!fl_on()) return REAL(_Fork)();
  pid_t pid = REAL(_Fork)();
  if (pid == 0) {
    fl_child_start();
  } else if (pid > 0) {
    fl_announce_fork(pid);
  }
  return pid;
}

pid_t vfork(void) {
  if (!fl_on()) return REAL(fork)();
  return fork();
}

/* ------------------------------------------------------------------------
 * The environment of a new image. */

static int has_entry(char* const* envp, const char* name, const char* must_contain) {
  size_t n = strlen(name);
  for (char* const* e = envp; e != NULL && *e != NULL; ++e) {
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') {
      return must_contain == NULL || strstr(*e + n + 1, must_contain) != NULL;
    }
  }
  return 0;
}

static void put_entry(char** out, size_t* count, const char* name, const char* value) {
  size_t len = strlen(name) + strlen(value) + 2;
  char* e = malloc(len);
  if (e == NULL) return;
  snprintf(e, len, "%s=%s", name, value);
  out[(*count)++] = e;
}

/* `envp` with the library's variables put back where missing; `envp` itself
 * when nothing is missing. The copy is never freed: exec replaces the image
 * (and a failed exec leaks a few bytes). */
static char* const* controlled_env(char* const* envp) {
  if (fl_lib_path == NULL) return envp;
  char epoch[32];
  snprintf(epoch, sizeof epoch, "%lld", (long long)fl.epoch_us);
  int need_sock = !has_entry(envp, FL_IP_SOCKET_ENV, fl_socket_path);
  int need_dir = !has_entry(envp, FL_IP_DIR_ENV, NULL);
  int need_epoch = !has_entry(envp, FL_IP_EPOCH_ENV, NULL);
  int need_preload = !has_entry(envp, "LD_PRELOAD", fl_lib_path);
  if (!need_sock && !need_dir && !need_epoch && !need_preload) return envp;
  size_t n = 0;
  while (envp != NULL && envp[n] != NULL) ++n;
  char** out = malloc((n + 5) * sizeof *out);
  if (out == NULL) return envp;
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    const char* e = envp[i];
    if ((need_sock && strncmp(e, FL_IP_SOCKET_ENV "=", sizeof FL_IP_SOCKET_ENV) == 0) ||
        (need_preload && strncmp(e, "LD_PRELOAD=", 11) == 0)) {
      continue;
    }
    out[count++] = envp[i];
  }
  if (need_sock) put_entry(out, &count, FL_IP_SOCKET_ENV, fl_socket_path);
  if (need_dir) put_entry(out, &count, FL_IP_DIR_ENV, fl_dir);
  if (need_epoch) put_entry(out, &count, FL_IP_EPOCH_ENV, epoch);
  if (need_preload) put_entry(out, &count, "LD_PRELOAD", fl_lib_path);
  out[count] = NULL;
  return out;
}

/* ------------------------------------------------------------------------
 * Static binaries: an ELF executable without a program interpreter never
 * loads this library. */

static int is_static_elf(const char* path) {
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  Elf64_Ehdr eh;
  int is_static = 0;
  if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh &&
      memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
      (eh.e_type == ET_EXEC || eh.e_type == ET_DYN) && eh.e_phentsize == sizeof(Elf64_Phdr)) {
    is_static = 1;
    for (int i = 0; i < eh.e_phnum && is_static; ++i) {
      Elf64_Phdr ph;
      off_t at = (off_t)eh.e_phoff + (off_t)i * (off_t)sizeof ph;
      if (pread(fd, &ph, sizeof ph, at) != (ssize_t)sizeof ph || ph.p_type == PT_INTERP) {
        is_static = 0;
      }
    }
  }
  syscall(SYS_close, fd);
  return is_static;
}

/* `file` found the way execvp finds it, into `out`; 0 if not found. */
static int search_path(const char* file, char* out, size_t size) {
  if (strchr(file, '/') != NULL) return snprintf(out, size, "%s", file) < (int)size;
  const char* path = getenv("PATH");
  if (path == NULL) path = "/bin:/usr/bin";
  while (*path != '\0') {
    const char* end = strchrnul(path, ':');
    int n = (int)(end - path);
    if (snprintf(out, size, "%.*s/%s", n, path, file) < (int)size &&
        syscall(SYS_faccessat, AT_FDCWD, out, X_OK) == 0) {
      return 1;
    }
    path = *end == ':' ? end + 1 : end;
  }
  return 0;
}

static void before_exec(const char* path) {
  if (is_static_elf(path)) fl_escape(FL_IP_ESCAPE_STATIC, path);
  fl_announce_exec(path);
}

/* ------------------------------------------------------------------------
 * exec. */

int execve(const char* path, char* const argv[], char* const envp[]) {
  if (!fl_on()) return REAL(execve)(path, argv, envp);
  before_exec(path);
  return REAL(execve)(path, argv, controlled_env(envp));
}

int execvpe(const char* file, char* const argv[], char* const envp[]) {
  if (!fl_on()) return REAL(execvpe)(file, argv, envp);
  char path[PATH_MAX];
  before_exec(search_path(file, path, sizeof path) ? path : file);
  return REAL(execvpe)(file, argv, controlled_env(envp));
}

int execv(const char* path, char* const argv[]) { return execve(path, argv, environ); }

int execvp(const char* file, char* const argv[]) { return execvpe(file, argv, environ); }

int fexecve(int fd, char* const argv[], char* const envp[]) {
  if (!fl_on()) return REAL(fexecve)(fd, argv, envp);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  before_exec(path);
  return REAL(fexecve)(fd, argv, controlled_env(envp));
}

/* The execl family: the list made an argv. */
static char** list_args(const char* arg0, va_list ap, char*** envp_out) {
  va_list count_ap;
  va_copy(count_ap, ap);
  size_t n = 1;
  while (va_arg(count_ap, char*) != NULL) ++n;
  va_end(count_ap);
  char** argv = malloc((n + 1) * sizeof *argv);
  if (argv == NULL) return NULL;
  argv[0] = (char*)arg0;
  for (size_t i = 1; i <= n; ++i) argv[i] = va_arg(ap, char*); /* the last one is NULL */
  if (envp_out != NULL) *envp_out = va_arg(ap, char**);
  return argv;
}

int execl(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  char** argv = list_args(arg, ap, NULL);
  va_end(ap);
  if (argv == NULL) return -1;
  int r = execve(path, argv, environ);
  free(argv);
  return r;
}

int execlp(const char* file, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  char** argv = list_args(arg, ap, NULL);
  va_end(ap);
  if (argv == NULL) return -1;
  int r = execvpe(file, argv, environ);
  free(argv);
  return r;
}

int execle(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  char** envp = NULL;
  char** argv = list_args(arg, ap, &envp);
  va_end(ap);
  if (argv == NULL) return -1;
  int r = execve(path, argv, envp);
  free(argv);
  return r;
}

/* ------------------------------------------------------------------------
 * posix_spawn: the child execs at once; announce it once it exists. */

int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  if (!fl_on()) return REAL(posix_spawn)(pid, path, actions, attr, argv, envp);
  if (is_static_elf(path)) fl_escape(FL_IP_ESCAPE_STATIC, path);
  pid_t child = 0;
  int r = REAL(posix_spawn)(&child, path, actions, attr, argv, controlled_env(envp));
  if (r == 0) {
    fl_announce_fork(child);
    if (pid != NULL) *pid = child;
  }
  return r;
}

int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
                 const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  if (!fl_on()) return REAL(posix_spawnp)(pid, file, actions, attr, argv, envp);
  char path[PATH_MAX];
  if (search_path(file, path, sizeof path) && is_static_elf(path)) {
    fl_escape(FL_IP_ESCAPE_STATIC, path);
  }
  pid_t child = 0;
  int r = REAL(posix_spawnp)(&child, file, actions, attr, argv, controlled_env(envp));
  if (r == 0) {
    fl_announce_fork(child);
    if (pid != NULL) *pid = child;
  }
  return r;
}

/* ------------------------------------------------------------------------
 * Threads. */

int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
                   void* arg) {
  if (fl_on()) fl_escape(FL_IP_ESCAPE_THREAD, "pthread_create");
  return REAL(pthread_create)(thread, attr, start, arg);
}

/* ------------------------------------------------------------------------
 * Signals. */

int kill(pid_t pid, int sig) {
  int r = REAL(kill)(pid, sig);
  if (r == 0 && sig != 0 && fl_on() && pid != getpid()) fl_announce_signal(pid, sig);
  return r;
}

int killpg(pid_t pgrp, int sig) {
  int r = REAL(killpg)(pgrp, sig);
  if (r == 0 && sig != 0 && fl_on()) fl_announce_signal(pgrp > 0 ? -pgrp : 0, sig);
  return r;
}
