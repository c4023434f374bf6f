// What a child process does between fork/clone and exec so that the program
// it runs starts with the signal state a fresh process has.
#pragma once

namespace base {

// Sets every signal's disposition to SIG_DFL and empties the signal mask.
// exec resets caught signals by itself, but an ignored signal (SIG_IGN) and
// the mask survive it, and a parent that blocks signals around the spawn
// (so that no handler runs in the child before exec) hands its mask down.
// Call in the child just before exec, never in a process that keeps running
// its own code: installed handlers are gone afterwards. Async-signal-safe.
void ResetSignalsForExec();

}  // namespace base
