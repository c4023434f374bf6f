#!/usr/bin/env bash
# queue.sh with one known defect: UNLOCKED READ-MODIFY-WRITE of one shared JSON
# file. A completion reads results.json first, then waits for the board lock
# to mark the item done, then writes results.json back with its result added,
# holding no lock across the read and the write. Two agents completing at
# once both read the old file, and the one that writes last erases the
# other's result.
source "$(dirname "${BASH_SOURCE[0]}")/queue.sh"

cmd_complete() {
  local agent=$1 item=$2 token=$3 before tmp
  require_dir
  before=$(cat "$DIR/results.json")  # read, no lock
  with_board_lock mark_completed "$item" "$agent" "$token" || return
  finish_claim "$item"
  tmp="$DIR/.results.json.$$"
  jq --arg id "$item" --arg agent "$agent" --argjson token "$token" \
    '.[$id] += [{agent: $agent, token: $token}]' <<<"$before" >"$tmp"  # modify, write
  mv -f "$tmp" "$DIR/results.json"
}

main "$@"
