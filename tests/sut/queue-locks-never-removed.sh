#!/usr/bin/env bash
# queue.sh with one known defect: LOCK FILES NEVER REMOVED (the RPN-180 lock
# accumulation of the SwarmSH runbook). Completing, releasing or expiring a
# claim leaves its lock file behind, so locks/ grows with every item done.
source "$(dirname "${BASH_SOURCE[0]}")/queue.sh"

finish_claim() {
  :  # the lock file stays
}

main "$@"
