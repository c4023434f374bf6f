/* c_agent: a tiny work queue over a shared directory, written in C99 against
 * sim/protocol/faultline_agent.h: a program that speaks faultline's control
 * protocol itself (observe "protocol", docs/external-sut.md). The tests run it
 * under faultline in both modes.
 *
 *   c_agent init DIR
 *   c_agent submit DIR N
 *   c_agent agent DIR ID WORK_MIN_MS WORK_MAX_MS SEED LEASE_MS
 *   c_agent dump DIR                  {"items": {ID: {"status", "effects"}}}
 *
 * Layout: DIR/pending/ID, DIR/claimed/ID, DIR/done/ID, DIR/ledger/ID. A claim
 * is rename(pending/ID, claimed/ID): one agent wins. The effect is a file
 * created with O_EXCL in ledger/, so it is written once. There are no leases
 * to expire: an agent killed while holding an item leaves it claimed (this
 * queue is for fault-free qualification of the header, not a coordinator).
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/protocol/faultline_agent.h"

#define MAX_ITEMS 100000
#define ID_LEN 64

static void die(const char *what, const char *path) {
  fprintf(stderr, "c_agent: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

static void path_of(char *out, size_t size, const char *dir, const char *sub, const char *id) {
  int n = snprintf(out, size, "%s/%s/%s", dir, sub, id);
  if (n < 0 || (size_t)n >= size) {
    errno = ENAMETOOLONG;
    die("path too long:", dir);
  }
}

static int compare_ids(const void *a, const void *b) {
  return strcmp((const char *)a, (const char *)b);
}

/* The entries of DIR/sub, sorted (so that lockstep runs are reproducible). */
static size_t list(const char *dir, const char *sub, char (*ids)[ID_LEN], size_t max) {
  char path[4096];
  DIR *d;
  struct dirent *e;
  size_t n = 0;
  path_of(path, sizeof path, dir, sub, "");
  d = opendir(path);
  if (d == NULL) die("cannot list", path);
  while ((e = readdir(d)) != NULL && n < max) {
    if (e->d_name[0] == '.' || strlen(e->d_name) >= ID_LEN) continue;
    memcpy(ids[n++], e->d_name, strlen(e->d_name) + 1);
  }
  closedir(d);
  qsort(ids, n, ID_LEN, compare_ids);
  return n;
}

static int cmd_init(const char *dir) {
  const char *subs[] = {"", "pending", "claimed", "done", "ledger"};
  size_t i;
  char path[4096];
  for (i = 0; i < sizeof subs / sizeof subs[0]; ++i) {
    path_of(path, sizeof path, dir, subs[i], "");
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die("cannot create", path);
  }
  return 0;
}

static int cmd_submit(const char *dir, long n) {
  long i;
  char id[ID_LEN], path[4096];
  for (i = 1; i <= n; ++i) {
    int fd;
    if (snprintf(id, sizeof id, "w%06ld", i) >= (int)sizeof id) return 1;
    path_of(path, sizeof path, dir, "pending", id);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) die("cannot create", path);
    close(fd);
  }
  return 0;
}

static unsigned long long next_random(unsigned long long *state) {
  unsigned long long z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Works on `id` (claimed by us) and completes it. */
static void work_and_complete(const char *dir, const char *agent, const char *id, long work_ms) {
  char ledger[4096], claimed[4096], done[4096];
  int fd;
  fl_sleep_us((int64_t)work_ms * 1000);
  fl_yield("complete.locked", id);
  path_of(ledger, sizeof ledger, dir, "ledger", id);
  fd = open(ledger, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) die("cannot write the effect", ledger);
  if (write(fd, agent, strlen(agent)) < 0) die("cannot write the effect", ledger);
  close(fd);
  fl_effect(agent, id, 1);
  fl_yield("complete.ledger_written", id);
  path_of(claimed, sizeof claimed, dir, "claimed", id);
  path_of(done, sizeof done, dir, "done", id);
  if (rename(claimed, done) != 0) die("cannot mark done", claimed);
  fl_complete_ok(agent, id, 1);
  FL_REACHED("queue.completed");
}

static int cmd_agent(const char *dir, const char *agent, long work_min, long work_max,
                     unsigned long long seed, long lease_ms) {
  static char ids[MAX_ITEMS][ID_LEN];
  unsigned long long rng = seed;
  fl_start("agent", agent);
  fl_register(agent, "");
  for (;;) {
    size_t n = list(dir, "pending", ids, MAX_ITEMS), i;
    int claimed = 0;
    if (n == 0) return 0; /* nothing left to claim */
    FL_SOMETIMES(n > MAX_ITEMS, "queue.overfull"); /* a condition that never holds here */
    for (i = 0; i < n && !claimed; ++i) {
      char from[4096], to[4096];
      fl_yield("claim.locked", ids[i]);
      path_of(from, sizeof from, dir, "pending", ids[i]);
      path_of(to, sizeof to, dir, "claimed", ids[i]);
      if (rename(from, to) != 0) {
        if (errno == ENOENT) continue; /* another agent took it */
        die("cannot claim", from);
      }
      fl_claim_ok(agent, ids[i], 1, fl_now_us() + (int64_t)lease_ms * 1000);
      fl_yield("claim.state_written", ids[i]);
      claimed = 1;
      work_and_complete(dir, agent, ids[i],
                        work_min + (long)(next_random(&rng) % (unsigned long long)(work_max -
                                                                                 work_min + 1)));
    }
  }
}

static int cmd_dump(const char *dir) {
  static char ids[MAX_ITEMS][ID_LEN];
  const char *subs[] = {"pending", "claimed", "done"};
  size_t s, i, n;
  int first = 1;
  printf("{\"items\": {");
  for (s = 0; s < 3; ++s) {
    n = list(dir, subs[s], ids, MAX_ITEMS);
    for (i = 0; i < n; ++i) {
      char ledger[4096];
      struct stat st;
      path_of(ledger, sizeof ledger, dir, "ledger", ids[i]);
      printf("%s\"%s\": {\"status\": \"%s\", \"effects\": %d}", first ? "" : ", ", ids[i],
             subs[s], stat(ledger, &st) == 0 ? 1 : 0);
      first = 0;
    }
  }
  printf("}}\n");
  return 0;
}

static int usage(void) {
  fprintf(stderr,
          "usage: c_agent init DIR | submit DIR N | dump DIR\n"
          "       c_agent agent DIR ID WORK_MIN_MS WORK_MAX_MS SEED LEASE_MS\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "init") == 0) return cmd_init(argv[2]);
  if (argc == 4 && strcmp(argv[1], "submit") == 0) return cmd_submit(argv[2], atol(argv[3]));
  if (argc == 3 && strcmp(argv[1], "dump") == 0) return cmd_dump(argv[2]);
  if (argc == 8 && strcmp(argv[1], "agent") == 0) {
    long work_min = atol(argv[4]), work_max = atol(argv[5]);
    if (work_max < work_min) return usage();
    return cmd_agent(argv[2], argv[3], work_min, work_max, strtoull(argv[6], NULL, 10),
                     atol(argv[7]));
  }
  return usage();
}
