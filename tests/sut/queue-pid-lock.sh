#!/usr/bin/env bash
# queue.sh with one known defect: a PID LOCK FILE NEVER CHECKED after SIGKILL.
# A claimed item's lock file names its holder's PID, and the queue trusts it:
# neither a claim nor the reaper ever checks whether that process still lives
# or whether its lease ran out. When a worker is SIGKILLed while holding an
# item, the item is locked forever; every later claim passes it by.
source "$(dirname "${BASH_SOURCE[0]}")/queue.sh"

PICK='def pick: [.items | to_entries[] | select(.value.status == "pending")][0].key;'

reap_locked() {
  :  # every claim has a lock file, and a lock file means "held"
}

main "$@"
