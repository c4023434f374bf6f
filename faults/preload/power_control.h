/* The control page shared by the power_loss fault (in the harness) and the
 * durability journal of the LD_PRELOAD layer (libfaultline_ioerr.so,
 * power_journal.c), loaded into every process of the system under test.
 *
 * The fault writes a file of exactly sizeof(struct faultline_power_control)
 * bytes into the run's scratch directory before any process starts, maps it
 * shared, and gives every process LD_PRELOAD=<the .so> and
 * FAULTLINE_POWER_CTL=<the file>. The layer maps the same file at load time,
 * takes a shared flock on it (held as long as the process or any fork of it
 * lives), and for files at or under `dir` appends what matters for
 * durability to its journal, <journal_dir>/<pid>.jnl (O_APPEND, one write per
 * record; the harness's machine does not lose power, so nothing is synced).
 *
 * Records, in order of `seq` across every journal (a header line of
 * tab-separated fields; F and C are followed by <len> raw bytes):
 *   F seq pid ino len     the file's content, read just before an fsync or
 *                         fdatasync that succeeded: durable from then on
 *   C seq pid ino len     the file's content just before it lost a name
 *                         (unlink, rename over it): not durable, only known
 *   S seq pid dir n       a directory fsync that succeeded; n lines
 *                         "ino type name" follow: the entries read just before
 *   N seq pid ino type dir name   a new file (open with O_CREAT that created it)
 *   D seq pid ino type dir name   a new directory (mkdir)
 *   L seq pid ino type dir name   a name added or replaced (link, rename's target)
 *   U seq pid ino type dir name   a name removed (unlink, rename's source)
 * `dir` is relative to the coordination directory ("." for itself); type is
 * 'f' or 'd'.
 *
 * The trigger "at the n-th call" (the fault's "call" option): the fault sets
 * trigger_* before the processes start. Every fsync or fdatasync of a file
 * or directory at or under `dir`, and every rename whose source or target is
 * there, is a call; one of trigger_calls' kinds whose path (relative to
 * `dir`; a rename's source or target) matches trigger_path (fnmatch, `*`
 * matching `/` too; "" any) adds one to `matched`. The process whose call makes
 * it trigger_nth fills in tripped_*, sets `tripped` and `off`, and kills
 * itself: before the call (trigger_after 0: the call never happens) or once
 * the call has returned and its record is journaled (1). In lockstep only
 * one process runs at a time, so which call is the n-th depends on the
 * schedule alone.
 *
 * Contract: magic .. trigger_path never change after the processes start.
 * `seq`, `off`, `matched` and `tripped` are only accessed with the GCC
 * __atomic builtins. The layer adds to `seq` and `matched`, reads `off`, and
 * sets `off` and `tripped` once (after writing tripped_*); the fault sets
 * `off` while the power is off (a layer that sees it set kills its own
 * process before doing the call), clears it when the power is back, and
 * takes an exclusive flock once every process is gone.
 *
 * Plain C, so that the preload needs nothing beyond libc and libdl. */
#ifndef FAULTLINE_FAULTS_PRELOAD_POWER_CONTROL_H_
#define FAULTLINE_FAULTS_PRELOAD_POWER_CONTROL_H_

#include <stdint.h>

#define FAULTLINE_POWER_MAGIC 0x5057524cu /* "LRWP" */
#define FAULTLINE_POWER_VERSION 2u
#define FAULTLINE_POWER_PATH_BYTES 1024
/* A file larger than this is journaled by its length only (len = -1 in the
 * header, no bytes): the reconstruction then keeps it as it is. */
#define FAULTLINE_POWER_MAX_CONTENT (4u << 20)

#define FAULTLINE_POWER_CTL_ENV "FAULTLINE_POWER_CTL"
#define FAULTLINE_POWER_PATTERN_BYTES 256

/* trigger_calls: the kinds of call counted. */
#define FAULTLINE_POWER_CALL_FSYNC 1u  /* fsync, fdatasync */
#define FAULTLINE_POWER_CALL_RENAME 2u /* rename, renameat, renameat2 */

struct faultline_power_control {
  uint32_t magic;   /* FAULTLINE_POWER_MAGIC */
  uint32_t version; /* FAULTLINE_POWER_VERSION */
  uint32_t off;     /* nonzero: the power is off (atomic) */
  uint32_t reserved;
  uint64_t seq; /* the last sequence number handed out (atomic) */
  char dir[FAULTLINE_POWER_PATH_BYTES];          /* as given */
  char dir_resolved[FAULTLINE_POWER_PATH_BYTES]; /* symbolic links resolved */
  char journal_dir[FAULTLINE_POWER_PATH_BYTES];
  /* The trigger (see above); trigger_calls 0: none. */
  uint32_t trigger_calls;
  uint32_t trigger_after; /* 1: after the n-th call took effect; 0: before it */
  uint64_t trigger_nth;
  char trigger_path[FAULTLINE_POWER_PATTERN_BYTES];
  uint64_t matched; /* calls counted so far (atomic) */
  /* Written by the process whose call was the n-th, then `tripped` set. */
  uint32_t tripped; /* atomic */
  int32_t tripped_pid;
  char tripped_call[16];                             /* "fsync", "fdatasync", "rename" */
  char tripped_path[FAULTLINE_POWER_PATH_BYTES];     /* relative to dir; a rename's target */
  char tripped_from[FAULTLINE_POWER_PATH_BYTES];     /* a rename's source, else "" */
};

#endif /* FAULTLINE_FAULTS_PRELOAD_POWER_CONTROL_H_ */
