#!/usr/bin/env bash
# queue.sh with one known defect: CHECK-THEN-CREATE CLAIM (the RPN-225 race of
# the SwarmSH runbook). A claim looks for the item's lock file, reads the
# item's details, and only then creates the lock file. Two agents that look
# at the same moment both find no lock file and both claim the item. The
# board update that follows takes the lock, but blindly, too late to notice.
source "$(dirname "${BASH_SOURCE[0]}")/queue.sh"

cmd_claim() {
  local agent=$1 pid=$2 item details token now
  require_dir
  now=$(now_ms)
  for item in $(jq -r '.items | to_entries[] | select(.value.status == "pending") | .key' \
    "$(board)"); do
    [[ ! -e $DIR/locks/$item.lock ]] || continue
    details=$(jq -c --arg id "$item" '.items[$id]' "$(board)")  # the window
    printf 'agent=%s pid=%s details=%s\n' "$agent" "$pid" "$details" >"$DIR/locks/$item.lock"
    with_board_lock txn '{out: "claimed \($id) token \(.next_token)",
        board: (.items[$id] = {status: "active", agent: $agent, token: .next_token,
                               lease_until_ms: ($now + $lease)} | .next_token += 1)}' \
      --arg id "$item" --arg agent "$agent" --argjson now "$now" --argjson lease "$LEASE_MS"
    return
  done
  if jq -e 'any(.items[]; .status == "active")' "$(board)" >/dev/null; then
    echo "busy"
  else
    echo "no work"
  fi
}

main "$@"
