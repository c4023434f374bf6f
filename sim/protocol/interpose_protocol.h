/* interpose_protocol.h: the wire protocol between the interposition library
 * (interpose/, libfaultline_interpose.so, loaded into unmodified programs by
 * LD_PRELOAD) and its scheduler (sim/interposed_processes.h).
 *
 * A leaf header in plain C (macros only) so that the C library and the C++
 * scheduler share one spelling. docs/interposition.md describes the model.
 *
 * Transport: every process (each one: after fork, and again after exec)
 * makes its own SOCK_STREAM connection to the Unix socket named in
 * FL_IP_SOCKET_ENV and sends one JSON object per line ('\n'-terminated).
 *
 * process -> scheduler                                     scheduler -> process
 *   {"hello":{"pid":P,"ppid":Q,"argv0":A}}                   {"go":true,"now":US}
 *   {"yield":POINT,"item":PATH[,"to":PATH]}                  {"go":true,"now":US}
 *   {"blocked":WHAT,"item":DETAIL[,"until":US]}              {"go":true,"now":US}
 *   {"sleep_us":D}                                           {"go":true,"now":US}
 *   {"fork":CHILD_PID}                                       (no reply)
 *   {"exec":PATH}                                            (no reply)
 *   {"signal":PID,"sig":S}                                   {"go":true,"now":US}
 *   {"escape":KIND,"detail":TEXT}                            (no reply)
 *
 * "now" is the simulated clock in microseconds since the start of the run;
 * the process reads CLOCK_REALTIME as FL_IP_EPOCH_ENV + now and the
 * monotonic clocks as now, unchanged until the next reply. "blocked" means:
 * the call would block in the kernel; answer when something that could
 * unblock it has happened (or at "until", a simulated deadline); the process
 * then retries and may send "blocked" again. "fork" names a child the sender
 * just created (the child's hello follows on its own connection); "exec"
 * says the sender's connection is about to close because it runs a new
 * image, whose hello follows. "signal" says the sender sent signal S to PID
 * (0 or less: a process group): a sleeping or blocked target must run to
 * take it, and one sent SIGKILL is dead (a zombie) before the answer, which
 * does not end the sender's step.
 * "escape" reports something the scheduler
 * cannot control (a thread, a static binary); the run must fail. */
#ifndef FAULTLINE_SIM_PROTOCOL_INTERPOSE_PROTOCOL_H_
#define FAULTLINE_SIM_PROTOCOL_INTERPOSE_PROTOCOL_H_

/* Environment: the socket to connect to (unset: the library is inert). */
#define FL_IP_SOCKET_ENV "FAULTLINE_INTERPOSE_SOCKET"
/* Calls on paths at or below this directory are yield points. */
#define FL_IP_DIR_ENV "FAULTLINE_INTERPOSE_DIR"
/* CLOCK_REALTIME at simulated time 0, in microseconds since the epoch. */
#define FL_IP_EPOCH_ENV "FAULTLINE_INTERPOSE_EPOCH_US"
/* The library's own path, for a launcher that puts it into LD_PRELOAD of
 * what it starts (the command adapter, "interleave": "syscalls"); the
 * launcher itself is not preloaded, so the variables above are inert in it. */
#define FL_IP_LIB_ENV "FAULTLINE_INTERPOSE_LIB"

/* Message keys. */
#define FL_IP_HELLO "hello"
#define FL_IP_PID "pid"
#define FL_IP_PPID "ppid"
#define FL_IP_ARGV0 "argv0"
#define FL_IP_YIELD "yield"
#define FL_IP_ITEM "item"
#define FL_IP_TO "to"
#define FL_IP_BLOCKED "blocked"
#define FL_IP_UNTIL "until"
#define FL_IP_SLEEP_US "sleep_us"
#define FL_IP_FORK "fork"
#define FL_IP_EXEC "exec"
#define FL_IP_SIGNAL "signal"
#define FL_IP_SIG "sig"
#define FL_IP_ESCAPE "escape"
#define FL_IP_DETAIL "detail"
#define FL_IP_GO "go"
#define FL_IP_NOW "now"

/* Yield points, one per family of calls (the libc spellings of one call,
 * open/open64/openat/__open_2/creat/fopen, share a name, so a fault names
 * what the program does, not which wrapper libc picked). */
#define FL_IP_POINT_OPEN "sys.open"
#define FL_IP_POINT_STAT "sys.stat"
#define FL_IP_POINT_ACCESS "sys.access"
#define FL_IP_POINT_RENAME "sys.rename"
#define FL_IP_POINT_LINK "sys.link"
#define FL_IP_POINT_SYMLINK "sys.symlink"
#define FL_IP_POINT_UNLINK "sys.unlink"
#define FL_IP_POINT_MKDIR "sys.mkdir"
#define FL_IP_POINT_RMDIR "sys.rmdir"
#define FL_IP_POINT_FLOCK "sys.flock"
#define FL_IP_POINT_FCNTL_LOCK "sys.fcntl_lock"
#define FL_IP_POINT_WRITE "sys.write"
#define FL_IP_POINT_TRUNCATE "sys.truncate"
#define FL_IP_POINT_FSYNC "sys.fsync"
#define FL_IP_POINT_CLOSE "sys.close" /* a descriptor on the directory */

/* What a blocked process waits for. */
#define FL_IP_BLOCK_WAIT "wait"   /* a child to change state (wait4, waitid) */
#define FL_IP_BLOCK_READ "read"   /* a pipe, FIFO or socket to have data */
#define FL_IP_BLOCK_WRITE "write" /* a pipe or FIFO to have room */
#define FL_IP_BLOCK_POLL "poll"   /* poll/select: any of its descriptors */
#define FL_IP_BLOCK_FLOCK "flock" /* flock(LOCK_EX/LOCK_SH) without LOCK_NB */
#define FL_IP_BLOCK_FCNTL_LOCK "fcntl_lock" /* F_SETLKW, F_OFD_SETLKW */

/* What escapes control. */
#define FL_IP_ESCAPE_THREAD "thread"
#define FL_IP_ESCAPE_STATIC "static_binary"

#endif /* FAULTLINE_SIM_PROTOCOL_INTERPOSE_PROTOCOL_H_ */
