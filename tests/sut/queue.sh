#!/usr/bin/env bash
# queue.sh: a work queue over a shared directory, in the style of the shell
# coordinators of the runbooks (SwarmSH's coordination_helper.sh, the worker
# runbook): one JSON status board, per-item lock files holding the holder's
# PID, a results ledger, and one subcommand per operation. faultline's tests
# qualify it through the command adapter (docs/external-sut.md); the
# queue-*.sh scripts next to it are the same coordinator with one known
# defect each.
#
#   queue.sh init DIR
#   queue.sh submit DIR N                 items w000001 .. wN, pending
#   queue.sh register DIR AGENT PID
#   queue.sh claim DIR AGENT PID          "claimed ITEM token T" | "busy" | "no work" (always exit 0)
#   queue.sh progress DIR AGENT ITEM T    extend the lease; exit 3 if the claim is not ours
#   queue.sh complete DIR AGENT ITEM T    record the result once; exit 3 if the claim is not ours
#   queue.sh release DIR AGENT ITEM T     give the item back
#   queue.sh reap DIR                     return expired claims to the queue
#   queue.sh dump DIR                     the state as JSON: {"items": {ID: {...}}}
#
# Layout of DIR:
#   work_claims.json  {"next_token": N, "items": {ID: {"status": "pending"|"active"|"completed",
#                      "agent", "token", "lease_until_ms"}}}, replaced atomically (temp + mv)
#   .board.lock       flock held around every read-modify-write of work_claims.json
#   locks/ID.lock     "agent=A pid=P token=T" while ID is claimed
#   results.json      {ID: [{"agent", "token"}, ...]}: every accepted completion (the
#                     protected effect), replaced atomically under the board lock
#   agents/AGENT      "pid=P registered_ms=M"
#
# Leases: a claim holds until lease_until_ms; an expired claim is taken over by
# the next claim (before any pending item) or returned by reap. The clock is
# $QUEUE_NOW_MS when set (faultline passes its clock there), else date. The
# lease is $QUEUE_LEASE_MS (default 30000).
#
# Exit codes: 0 done (claim: see its output), 2 usage, 3 refused (not the
# holder), 1 anything else.

set -euo pipefail
shopt -s nullglob

PROG=${0##*/}

die() {
  printf '%s: %s\n' "$PROG" "$*" >&2
  exit 1
}

usage() {
  sed -n '/^#   queue.sh/s/^#   //p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

now_ms() {
  if [[ -n ${QUEUE_NOW_MS:-} ]]; then
    printf '%s\n' "$QUEUE_NOW_MS"
  else
    date +%s%3N
  fi
}

board() { printf '%s/work_claims.json' "$DIR"; }

# with_board_lock CMD...: runs CMD holding the board's lock.
with_board_lock() {
  local fd
  exec {fd}>>"$DIR/.board.lock"
  flock -w 10 "$fd" || die "timed out waiting for the board lock"
  "$@"  # the lock goes with the process, which ends after this one command
}

# txn JQ_FILTER ARGS...: one read-modify-write of the board. The filter maps
# the board to {out: TEXT, board: NEW_BOARD or null}; NEW_BOARD replaces the
# board (temp file + mv) and TEXT is printed. Returns 3 when TEXT starts with
# "refused". The caller holds the board lock (with_board_lock).
txn() {
  local filter=$1
  shift
  local tmp="$DIR/.work_claims.json.$$" out new
  {
    IFS= read -r out
    IFS= read -r new || true
  } < <(jq -rc "$@" "($filter) | (.out, (.board // empty))" "$(board)")
  if [[ -n $new ]]; then
    printf '%s\n' "$new" >"$tmp"
    mv -f "$tmp" "$(board)"
  fi
  printf '%s\n' "$out"
  [[ $out != refused* ]] || return 3
}

# A jq function: "ok" if $id is claimed by $agent with $token, else why not.
readonly HOLDER='def holder: .items[$id] as $i
  | if $i == null then "unknown item"
    elif $i.status != "active" then "the item is \($i.status)"
    elif $i.agent != $agent or $i.token != $token then "held by \($i.agent) with token \($i.token)"
    else "ok" end;'

require_dir() {
  [[ -f $(board) ]] || die "$DIR is not a queue directory; run: $PROG init $DIR"
}

cmd_init() {
  mkdir -p "$DIR/locks" "$DIR/agents"
  [[ -f $(board) ]] || printf '{"next_token": 1, "items": {}}\n' >"$(board)"
  [[ -f $DIR/results.json ]] || printf '{}\n' >"$DIR/results.json"
}

cmd_submit() {
  local n=$1
  [[ $n =~ ^[0-9]+$ ]] || die "submit needs a count, got '$n'"
  require_dir
  with_board_lock txn '{out: "submitted \($n)", board: (reduce range(1; $n + 1) as $k (.;
      .items[("w" + ($k | tostring | ("000000" + .)[-6:]))] =
        {status: "pending", agent: "", token: 0, lease_until_ms: 0}))}' --argjson n "$n"
}

cmd_register() {
  local agent=$1 pid=$2
  require_dir
  printf 'pid=%s registered_ms=%s\n' "$pid" "$(now_ms)" >"$DIR/agents/$agent"
}

# A jq function: the item to claim at $now: an expired claim first, else the
# first pending item; null if none.
PICK='def pick: (.items | to_entries) as $all
  | [$all[] | select(.value.status == "active" and .value.lease_until_ms <= $now)][0].key
    // [$all[] | select(.value.status == "pending")][0].key;'

claim_locked() {
  local agent=$1 pid=$2 out item token
  out=$(txn "$PICK"'
    pick as $id
    | if $id == null then
        {out: (if any(.items[]; .status == "active") then "busy" else "no work" end)}
      else
        {out: "claimed \($id) token \(.next_token)",
         board: (.items[$id] = {status: "active", agent: $agent, token: .next_token,
                                lease_until_ms: ($now + $lease)} | .next_token += 1)}
      end' --arg agent "$agent" --argjson now "$(now_ms)" --argjson lease "$LEASE_MS")
  if [[ $out == claimed* ]]; then
    read -r _ item _ token <<<"$out"
    printf 'agent=%s pid=%s token=%s\n' "$agent" "$pid" "$token" >"$DIR/locks/$item.lock"
  fi
  printf '%s\n' "$out"
}

cmd_claim() {
  require_dir
  with_board_lock claim_locked "$@"
}

cmd_progress() {
  local agent=$1 item=$2 token=$3
  require_dir
  with_board_lock txn "$HOLDER"'
    holder as $why
    | if $why != "ok" then {out: "refused: lost \($id): \($why)"}
      else {out: "renewed \($id)", board: (.items[$id].lease_until_ms = ($now + $lease))} end' \
    --arg id "$item" --arg agent "$agent" --argjson token "$token" \
    --argjson now "$(now_ms)" --argjson lease "$LEASE_MS"
}

# finish_claim ITEM: the claim is over; its lock file goes.
finish_claim() {
  rm -f "$DIR/locks/$1.lock"
}

# record_result ITEM AGENT TOKEN: records the completion in results.json,
# once: a result already there (left by a holder killed before it could mark
# the item completed) stands.
record_result() {
  local tmp="$DIR/.results.json.$$"
  jq --arg id "$1" --arg agent "$2" --argjson token "$3" \
    'if (.[$id] // []) == [] then .[$id] = [{agent: $agent, token: $token}] else . end' \
    "$DIR/results.json" >"$tmp"
  mv -f "$tmp" "$DIR/results.json"
}

# check_holder ITEM AGENT TOKEN: "ok", or refused (exit 3) if the claim is not ours.
check_holder() {
  txn "$HOLDER"'
    holder as $why
    | if $why != "ok" then {out: "refused: \($id) not completed: \($why)"} else {out: "ok"} end' \
    --arg id "$1" --arg agent "$2" --argjson token "$3" >/dev/null
}

# mark_completed ITEM AGENT TOKEN: the board says done, if the claim is ours.
mark_completed() {
  txn "$HOLDER"'
    holder as $why
    | if $why != "ok" then {out: "refused: \($id) not completed: \($why)"}
      else {out: "completed \($id)",
            board: (.items[$id].status = "completed" | .items[$id].lease_until_ms = 0)} end' \
    --arg id "$1" --arg agent "$2" --argjson token "$3"
}

# The order is what makes a SIGKILL at any point safe: the result first (once),
# then the lock file, then the board. A holder killed in between leaves the
# item active with its result recorded; whoever takes it over after the lease
# completes it without a second result, and no lock file is left behind.
complete_locked() {
  local item=$1 agent=$2 token=$3
  check_holder "$item" "$agent" "$token" || {
    txn "$HOLDER"'holder as $why | {out: "refused: \($id) not completed: \($why)"}' \
      --arg id "$item" --arg agent "$agent" --argjson token "$token"
    return 3
  }
  record_result "$item" "$agent" "$token"
  finish_claim "$item"
  mark_completed "$item" "$agent" "$token"
}

cmd_complete() {
  local agent=$1 item=$2 token=$3
  require_dir
  with_board_lock complete_locked "$item" "$agent" "$token"
}

release_locked() {
  local item=$1 agent=$2 token=$3
  txn "$HOLDER"'
    holder as $why
    | if $why != "ok" then {out: "refused: \($id) not released: \($why)"}
      else {out: "released \($id)",
            board: (.items[$id].status = "pending" | .items[$id].agent = ""
                    | .items[$id].lease_until_ms = 0)} end' \
    --arg id "$item" --arg agent "$agent" --argjson token "$token" || return
  finish_claim "$item"
}

cmd_release() {
  local agent=$1 item=$2 token=$3
  require_dir
  with_board_lock release_locked "$item" "$agent" "$token"
}

reap_locked() {
  local out item
  out=$(txn '[.items | to_entries[]
              | select(.value.status == "active" and .value.lease_until_ms <= $now) | .key] as $old
    | {out: ($old | join(" ")),
       board: (reduce $old[] as $id (.; .items[$id].status = "pending" | .items[$id].agent = ""))}' \
    --argjson now "$(now_ms)")
  for item in $out; do
    finish_claim "$item"
    echo "expired $item"
  done
}

cmd_reap() {
  require_dir
  with_board_lock reap_locked
}

cmd_dump() {
  require_dir
  jq --slurpfile results "$DIR/results.json" \
    '{items: (.items | with_entries(.value = {status: .value.status, agent: .value.agent,
                                               effects: ($results[0][.key] // [] | length)}))}' \
    "$(board)"
}

main() {
  (($# >= 2)) || usage
  local cmd=$1
  DIR=$2
  shift 2
  LEASE_MS=${QUEUE_LEASE_MS:-30000}
  case $cmd in
    init) (($# == 0)) || usage; cmd_init ;;
    submit) (($# == 1)) || usage; cmd_submit "$@" ;;
    register) (($# == 2)) || usage; cmd_register "$@" ;;
    claim) (($# == 2)) || usage; cmd_claim "$@" ;;
    progress | complete | release) (($# == 3)) || usage; "cmd_$cmd" "$@" ;;
    reap) (($# == 0)) || usage; cmd_reap ;;
    dump) (($# == 0)) || usage; cmd_dump ;;
    *) usage ;;
  esac
}

# Sourced by the defective variants, which replace one function and call main.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
