/* Starts a thread and waits for it: a program the interposition library
 * cannot control (tests/interpose/interpose_test.cc expects an escape). */
#include <pthread.h>
#include <stddef.h>

static void* run(void* arg) { return arg; }

int main(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, run, NULL) != 0) return 1;
  return pthread_join(t, NULL);
}
