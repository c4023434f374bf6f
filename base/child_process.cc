#include "base/child_process.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

namespace base {

void ResetSignalsForExec() {
  // sigaction fails for SIGKILL, SIGSTOP and the signals libc reserves; those
  // need no reset, so the errors are ignored.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

pid_t ParentPidSeenByChild() {
  // The namespace this process lives in and the one its children are born
  // in; they differ after unshare(CLONE_NEWPID). Unreadable (no /proc): the
  // classic answer.
  struct stat own {};
  struct stat children {};
  if (stat("/proc/self/ns/pid", &own) != 0 ||
      stat("/proc/self/ns/pid_for_children", &children) != 0) {
    return getpid();
  }
  return own.st_ino == children.st_ino && own.st_dev == children.st_dev ? getpid() : 0;
}

}  // namespace base
