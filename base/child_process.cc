#include "base/child_process.h"

#include <signal.h>

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

}  // namespace base
