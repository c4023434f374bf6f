/* A tiny program the io_error preload test runs under LD_PRELOAD: each
 * argument is one file operation, and one line per operation on stdout says
 * how it went ("write ok", "fsync EIO"). Plain C and no sanitizer, like the
 * preload, so that it can be loaded into it in every build.
 *
 *   open:P creat:P openr:P openat:D:N   open (write/create, creat, read-only,
 *                                       openat relative to directory D);
 *                                       the descriptor becomes the current one
 *   write pwrite writev fsync fdatasync on the current descriptor
 *   rename:A:B renameat:A:B
 *   stderr          write(2) to descriptor 2
 *   fopen:P         fopen + fputs + fclose (stdio, which the layer cannot reach)
 *   syscall_write   syscall(SYS_write) on the current descriptor
 *   dup2:N          the current descriptor is also N, and N becomes current */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static int current = -1;

static void report(const char* op, long rc) {
  if (rc >= 0) {
    printf("%s ok\n", op);
  } else {
    printf("%s %s\n", op, errno == EIO ? "EIO" : errno == ENOSPC ? "ENOSPC" : strerror(errno));
  }
  fflush(stdout);
}

static long opened(int fd) {
  if (fd >= 0) current = fd;
  return fd;
}

static long stdio_write(const char* path) {
  FILE* f = fopen(path, "w");
  if (f == NULL) return -1;
  int ok = fputs("written through stdio\n", f) >= 0;
  ok = fclose(f) == 0 && ok;
  return ok ? 0 : -1;
}

static long run(char* cmd) {
  static const char kData[] = "probe data\n";
  char* arg = strchr(cmd, ':');
  char* arg2 = NULL;
  if (arg != NULL) {
    *arg++ = '\0';
    arg2 = strchr(arg, ':');
    if (arg2 != NULL) *arg2++ = '\0';
  }
  if (strcmp(cmd, "open") == 0) return opened(open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  if (strcmp(cmd, "creat") == 0) return opened(creat(arg, 0644));
  if (strcmp(cmd, "openr") == 0) return opened(open(arg, O_RDONLY));
  if (strcmp(cmd, "openat") == 0) {
    int dir = open(arg, O_RDONLY | O_DIRECTORY);
    if (dir < 0) return -1;
    long fd = opened(openat(dir, arg2, O_WRONLY | O_CREAT | O_TRUNC, 0644));
    int err = errno;
    close(dir);
    errno = err;
    return fd;
  }
  if (strcmp(cmd, "write") == 0) return write(current, kData, sizeof kData - 1);
  if (strcmp(cmd, "pwrite") == 0) return pwrite(current, kData, sizeof kData - 1, 0);
  if (strcmp(cmd, "writev") == 0) {
    struct iovec iov = {(void*)kData, sizeof kData - 1};
    return writev(current, &iov, 1);
  }
  if (strcmp(cmd, "fsync") == 0) return fsync(current);
  if (strcmp(cmd, "fdatasync") == 0) return fdatasync(current);
  if (strcmp(cmd, "rename") == 0) return rename(arg, arg2);
  if (strcmp(cmd, "renameat") == 0) return renameat(AT_FDCWD, arg, AT_FDCWD, arg2);
  if (strcmp(cmd, "stderr") == 0) return write(2, "probe: stderr still works\n", 26);
  if (strcmp(cmd, "fopen") == 0) return stdio_write(arg);
  if (strcmp(cmd, "syscall_write") == 0) {
    return syscall(SYS_write, current, kData, sizeof kData - 1);
  }
  if (strcmp(cmd, "dup2") == 0) return opened(dup2(current, atoi(arg)));
  fprintf(stderr, "io_error_probe: unknown operation %s\n", cmd);
  exit(2);
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char op[4096];
    snprintf(op, sizeof op, "%s", argv[i]);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(op, ":"), op);
    report(name, run(op));
  }
  return 0;
}
