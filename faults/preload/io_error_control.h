/* The control page shared by the io_error fault (in the harness) and the
 * LD_PRELOAD layer (libfaultline_ioerr.so, in the processes it breaks).
 *
 * The fault writes a file of exactly sizeof(struct faultline_ioerr_control)
 * bytes into the run's scratch directory before any process starts, with
 * every setting filled in and `armed` 0, and maps it shared. Each chosen
 * process gets LD_PRELOAD=<the .so>, FAULTLINE_IOERR_CTL=<the file> and
 * FAULTLINE_IOERR_SLOT=<its row of `injected`>; the preload maps the same
 * file shared at load time.
 *
 * Contract: the settings (magic .. path_contains) never change after the
 * processes start. `armed`, `matched` and `injected` are only accessed with
 * the GCC __atomic builtins, by both sides. The preload only reads `armed`
 * and only adds to the counters; the fault only stores `armed` and reads the
 * counters.
 *
 * Plain C, so that the preload needs nothing beyond libc and libdl. */
#ifndef FAULTLINE_FAULTS_PRELOAD_IO_ERROR_CONTROL_H_
#define FAULTLINE_FAULTS_PRELOAD_IO_ERROR_CONTROL_H_

#include <stdint.h>

#define FAULTLINE_IOERR_MAGIC 0x4f494c46u /* "FLIO" */
#define FAULTLINE_IOERR_VERSION 1u
#define FAULTLINE_IOERR_MAX_SLOTS 256
#define FAULTLINE_IOERR_PATH_BYTES 1024
#define FAULTLINE_IOERR_CONTAINS_BYTES 256

/* Environment variables the fault gives the processes it breaks. */
#define FAULTLINE_IOERR_CTL_ENV "FAULTLINE_IOERR_CTL"
#define FAULTLINE_IOERR_SLOT_ENV "FAULTLINE_IOERR_SLOT"
/* The preload's file name, as built into build-X/lib. */
#define FAULTLINE_IOERR_LIBRARY "libfaultline_ioerr.so"

/* The kinds of call that can be made to fail. */
enum faultline_ioerr_kind {
  FAULTLINE_IOERR_WRITE = 0,  /* write, writev, pwrite, pwrite64 */
  FAULTLINE_IOERR_FSYNC = 1,  /* fsync, fdatasync */
  FAULTLINE_IOERR_RENAME = 2, /* rename, renameat, renameat2 */
  FAULTLINE_IOERR_OPEN = 3,   /* open, openat, creat, their 64 and _2 forms */
  FAULTLINE_IOERR_KINDS = 4
};

struct faultline_ioerr_control {
  uint32_t magic;   /* FAULTLINE_IOERR_MAGIC */
  uint32_t version; /* FAULTLINE_IOERR_VERSION */
  uint32_t armed;   /* nonzero: inject (atomic) */
  int32_t error;    /* the errno injected: EIO or ENOSPC */
  uint32_t calls;   /* bit (1u << kind) set: that kind of call fails */
  /* Of the calls that pass the filters while armed, every nth fails (per
   * kind; 1: every one). */
  uint32_t every_nth[FAULTLINE_IOERR_KINDS];
  /* Only files at or under one of these directories are hit (the same
   * directory as given and with its symbolic links resolved); both empty:
   * any file. */
  char dir[FAULTLINE_IOERR_PATH_BYTES];
  char dir_resolved[FAULTLINE_IOERR_PATH_BYTES];
  /* And only paths containing this ("" : any). */
  char path_contains[FAULTLINE_IOERR_CONTAINS_BYTES];
  /* Calls that passed every filter while armed, per kind (atomic). */
  uint64_t matched[FAULTLINE_IOERR_KINDS];
  /* Errors injected, per process slot and kind (atomic). */
  uint64_t injected[FAULTLINE_IOERR_MAX_SLOTS][FAULTLINE_IOERR_KINDS];
};

#endif /* FAULTLINE_FAULTS_PRELOAD_IO_ERROR_CONTROL_H_ */
