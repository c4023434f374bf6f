/* The interposition library's internal interface, shared by its files:
 *   shim_core.c   state, the connection to the scheduler, yielding, paths
 *   shim_fs.c     file-system calls on the coordination directory (yield points)
 *   shim_block.c  calls that can block (modelled), clocks and sleeps
 *   shim_proc.c   fork, exec, posix_spawn, threads
 * Single-threaded by design: a process that starts a thread is reported as an
 * escape (shim_proc.c). Internal names carry the fl_ prefix so that they
 * cannot collide with a program's own. */
#ifndef FAULTLINE_INTERPOSE_SHIM_H_
#define FAULTLINE_INTERPOSE_SHIM_H_

#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

/* The next definition of an interposed function (libc's), resolved on first
 * use and cached in `real_<name>`, which each file declares for the names it
 * interposes. */
#define REAL(name) ((__typeof__(&name))fl_real_symbol(&real_##name, #name))
void* fl_real_symbol(void** cache, const char* name);

/* Process state. `active`: connected and under the scheduler's control;
 * `busy`: inside the library (its own calls, and anything a signal handler
 * does meanwhile, pass straight through). */
struct fl_state {
  int active;
  int busy;
  int needs_hello; /* a fork we did not see (atfork): connect at the next call */
  int ctl_fd;
  int64_t now_us;   /* the simulated clock from the last "go" */
  int64_t epoch_us; /* CLOCK_REALTIME at simulated time 0 */
};
extern struct fl_state fl;

void fl_child_start(void);

/* True when a wrapper should act: the process is controlled and the call does
 * not come from the library itself. */
static inline int fl_on(void) {
  if (__builtin_expect(fl.needs_hello, 0)) fl_child_start();
  return fl.active && !fl.busy;
}

/* How a park ended. A signal that arrived while parked is delivered as the
 * park ends; a blocking call then returns EINTR (kFlIntr) unless the
 * handler asked for SA_RESTART (kFlRestart), as the kernel would. */
enum fl_woken { kFlGo = 0, kFlRestart = 1, kFlIntr = 2 };

/* Parks at a yield point until the scheduler answers; keeps errno. */
void fl_yield(const char* point, const char* item, const char* to);
/* Parks as blocked on `what` (FL_IP_BLOCK_*) until something could have
 * changed, or until simulated time `until_us` (-1: no deadline). */
enum fl_woken fl_block(const char* what, const char* detail, int64_t until_us);
/* Parks until simulated time now + `us`. */
enum fl_woken fl_sleep(int64_t us);
/* Announces without waiting for an answer. */
void fl_announce_fork(int pid);
void fl_announce_exec(const char* path);
/* Says a signal was sent and waits until the scheduler has taken note (a
 * SIGKILLed target is dead by then); the step goes on. */
void fl_announce_signal(int pid, int sig);
void fl_escape(const char* kind, const char* detail);

/* Paths. Writes `path` (against `dirfd`, AT_FDCWD for the working directory)
 * relative to the coordination directory into `out` ("." for the directory
 * itself) and returns 1 when it is at or below it; else 0 and `out` holds
 * the path as given. */
int fl_rel_path(int dirfd, const char* path, char* out, size_t size);
/* The same for what an open descriptor names; 0 for descriptors that are
 * not on the coordination directory (known from the descriptor table the
 * library keeps, no system call). */
int fl_rel_fd(int fd, char* out, size_t size);
/* Descriptor table: whether `fd` names something on the coordination
 * directory. Kept by open, dup*, fcntl(F_DUPFD*) and close. */
void fl_fd_mark(int fd, int on_dir);
int fl_fd_marked(int fd);
/* The working directory changed (chdir, fchdir). */
void fl_cwd_changed(void);
/* The control descriptor is about to be closed or replaced by the program:
 * move it to another number. */
void fl_protect_fd(int fd);

/* Helpers for exec (shim_proc.c): the environment entries a new image needs
 * to stay controlled, and this library's own path. */
extern const char* fl_socket_path;
extern const char* fl_dir;
extern const char* fl_lib_path;

#endif /* FAULTLINE_INTERPOSE_SHIM_H_ */
