// What /proc says about a process: its state letter, parent, children and
// where it sleeps in the kernel. Linux only; every function returns a neutral
// value (0, '\0', empty) when the process is gone or the file unreadable.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace faultline::proc {

// The state letter of /proc/PID/stat ('R', 'S', 'D', 'Z', 'T', ...); '\0'
// when there is no such process any more (reaped).
char State(pid_t pid);
// True once the process has exited: a zombie, or reaped.
inline bool Exited(pid_t pid) {
  const char s = State(pid);
  return s == '\0' || s == 'Z' || s == 'X';
}
// The parent pid, 0 if unknown.
pid_t Parent(pid_t pid);
// The process group, 0 if unknown.
pid_t Group(pid_t pid);
// The pid and process group as the process itself sees them: the last
// entries of NSpid and NSpgid in /proc/PID/status, which differ from `pid`
// and Group() when it lives in a PID namespace below this process's
// (sim/run_containment.h). 0 if unknown.
pid_t InnerPid(pid_t pid);
pid_t InnerGroup(pid_t pid);
// The PID namespace the process is in (the target of /proc/PID/ns/pid, e.g.
// "pid:[4026532]"); "" if gone.
std::string PidNamespace(pid_t pid);
// The command name (comm), "" if gone.
std::string Command(pid_t pid);
// The children of the process's main thread (/proc/PID/task/PID/children).
std::vector<pid_t> Children(pid_t pid);
// A line for error messages: "pid 123 (bash) state S in pipe_read".
std::string Describe(pid_t pid);

}  // namespace faultline::proc
