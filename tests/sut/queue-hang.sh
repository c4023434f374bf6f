#!/usr/bin/env bash
# queue.sh whose claim hangs: it waits on a background process that never
# ends (a sleep 987654 standing for a network call without a timeout). The
# harness must report the hang at the command's timeout and leave no process
# of it behind, the background one included.
source "$(dirname "${BASH_SOURCE[0]}")/queue.sh"

cmd_claim() {
  sleep 987654 &
  wait
}

main "$@"
