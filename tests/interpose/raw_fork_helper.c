/* Forks with a raw system call, past the interposition library's fork
 * wrapper: the child neither connects nor is announced, and exits at once;
 * the parent then sleeps. A process the scheduler cannot control
 * (tests/interpose/interpose_test.cc expects the run to fail). */
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  const struct timespec pause = {0, 1000000};
  long pid = syscall(SYS_fork);
  if (pid == 0) _exit(0);
  if (pid < 0) return 1;
  nanosleep(&pause, NULL);
  return 0;
}
