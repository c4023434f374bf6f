/* The durability journal of the power_loss fault, inside the LD_PRELOAD
 * layer (power_control.h describes the records). io_error_preload.c's
 * wrappers of fsync, fdatasync, rename* and open* call these around the real
 * call; power_journal.c interposes link, unlink and mkdir itself.
 *
 * Without FAULTLINE_POWER_CTL every hook returns at once. A hook that cannot
 * tell what a call does (a path too long, a stat that fails) journals
 * nothing for it: the reconstruction then keeps what it finds there. */
#ifndef FAULTLINE_FAULTS_PRELOAD_POWER_JOURNAL_H_
#define FAULTLINE_FAULTS_PRELOAD_POWER_JOURNAL_H_

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

/* What a hook noted before the call, for its end. */
struct fpj_pending {
  int active;     /* 0: nothing to journal */
  int trip;       /* the trigger's n-th call: the power goes after it (power_control.h) */
  const char* call;                                /* fsync: the function's name */
  int existed;    /* open: the path existed before */
  uint64_t seq;   /* taken before the call */
  ino_t ino;      /* rename: the source's inode */
  char type;      /* 'f' or 'd' */
  char* record;   /* fsync: the record, built before the call (malloc) */
  size_t length;
  char dir[PATH_MAX], name[NAME_MAX + 1];        /* the (new) name */
  char old_dir[PATH_MAX], old_name[NAME_MAX + 1];  /* rename's source */
};

/* Kills the calling process if the power is off. */
void fpj_gate(void);

/* `call` names the function ("fsync", "fdatasync"). */
void fpj_sync_begin(int fd, const char* call, struct fpj_pending* p);
void fpj_sync_end(struct fpj_pending* p, int rc);

void fpj_rename_begin(int olddirfd, const char* oldpath, int newdirfd, const char* newpath,
                      struct fpj_pending* p);
void fpj_rename_end(struct fpj_pending* p, int rc);

void fpj_open_begin(int dirfd, const char* path, int flags, struct fpj_pending* p);
void fpj_open_end(struct fpj_pending* p, int fd);

#endif /* FAULTLINE_FAULTS_PRELOAD_POWER_JOURNAL_H_ */
