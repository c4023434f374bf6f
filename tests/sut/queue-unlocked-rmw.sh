#!/usr/bin/env bash
# queue.sh with one known defect: UNLOCKED READ-MODIFY-WRITE of one shared JSON
# file. A completion is recorded in results.json after the board lock has
# been released: read, add, write back. Two agents completing at once both
# read the old file, and the one that writes last erases the other's result.
source "$(dirname "${BASH_SOURCE[0]}")/queue.sh"

cmd_complete() {
  local agent=$1 item=$2 token=$3
  require_dir
  with_board_lock mark_completed "$item" "$agent" "$token" || return
  finish_claim "$item"
  record_result "$item" "$agent" "$token"  # no lock held here
}

main "$@"
