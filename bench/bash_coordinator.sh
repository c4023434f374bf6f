#!/usr/bin/env bash
# A shared-directory work queue in plain bash, flock -n and mv: the coordinator users
# would otherwise script by hand. It does the same work as `swarm` (claim an item,
# write its effect to the ledger once, mark it done) so bench/ can compare throughput.
# It is correct under concurrency but NOT durable: nothing is fsynced (see bench/README.md).
#
#   bash_coordinator.sh init DIR
#   bash_coordinator.sh submit DIR --items N
#   bash_coordinator.sh agent DIR --id ID [--exit-when-idle]
#   bash_coordinator.sh status DIR
#
# Layout: DIR/pending/ DIR/claimed/ DIR/done/ DIR/ledger/ DIR/locks/.
# Items are files named w000001, w000002, ... (zero-padded, so globs list them in order).
# Temporary files start with a dot and are invisible to the globs below.
#
# Claim protocol, per item:
#   1. flock -n on DIR/locks/<item>.lock (a separate lock file, never the item file);
#   2. re-check that DIR/pending/<item> still exists (the directory listing may be stale);
#   3. mv it to DIR/claimed/<item> and append "claimed agent=... token=... at=...";
#   4. close the lock.
# Complete: check the claim line carries our token, write the effect line to a temp file
# and mv it to DIR/ledger/<item>, mv the item to DIR/done/, remove the lock file.
# An agent that takes the lock and finds the item gone removes the lock file before
# releasing it, so every process that creates a lock file also removes that path later
# and no lock files are left once all agents have finished.
#
# Exit codes: 0 success, 1 error (message on stderr), 2 usage error.

set -euo pipefail
shopt -s nullglob

readonly PROG=${0##*/}
readonly STATES=(pending claimed 'done' ledger locks)

die() {
  printf '%s: %s\n' "$PROG" "$*" >&2
  exit 1
}

usage() {
  cat >&2 <<EOF
usage: $PROG init DIR
       $PROG submit DIR --items N
       $PROG agent DIR --id ID [--exit-when-idle]
       $PROG status DIR
EOF
  exit 2
}

require_layout() {
  local dir=$1 s
  for s in "${STATES[@]}"; do
    [[ -d $dir/$s ]] || die "$dir is not a coordination directory (missing $s/); run: $PROG init $dir"
  done
}

cmd_init() {
  (($# == 1)) || usage
  local dir=$1 s
  for s in "${STATES[@]}"; do
    mkdir -p -- "$dir/$s"
  done
}

# Items are numbered after the highest number handed out so far (DIR/seq), so repeated
# submits extend the queue. Files are built in a hidden staging directory and moved into
# pending/ with one mv; each rename is atomic, so agents never see a half-written item.
cmd_submit() {
  (($# >= 1)) || usage
  local dir=$1 items=
  shift
  while (($#)); do
    case $1 in
      --items)
        (($# >= 2)) || usage
        items=$2
        shift 2
        ;;
      *) usage ;;
    esac
  done
  [[ $items =~ ^[0-9]+$ ]] || die "--items needs a non-negative integer, got '${items}'"
  items=$((10#$items))
  require_layout "$dir"

  local seq_lock fd
  seq_lock=$dir/.seq.lock
  exec {fd}>>"$seq_lock"
  flock "$fd"  # submit is not on the measured path; waiting here is fine

  local last=0
  if [[ -e $dir/seq ]]; then
    read -r last <"$dir/seq" || true
    [[ $last =~ ^[0-9]+$ ]] || die "$dir/seq is corrupt: '${last}'"
    last=$((10#$last))
  fi
  ((last + items <= 999999)) || die "item numbers would exceed w999999"

  local staging=$dir/.submit.$$ i name now=$EPOCHREALTIME
  mkdir -- "$staging"
  for ((i = last + 1; i <= last + items; i++)); do
    printf -v name 'w%06d' "$i"
    printf 'item=%s submitted=%s\n' "$name" "$now" >"$staging/$name"
  done
  local staged=("$staging"/*)
  if ((${#staged[@]})); then
    mv -t "$dir/pending" -- "${staged[@]}"
  fi
  rmdir -- "$staging"

  printf '%d\n' "$((last + items))" >"$dir/.seq.tmp"
  mv -fT -- "$dir/.seq.tmp" "$dir/seq"
  exec {fd}>&-
}

# FNV-1a of the agent id, so agents start their scans at different offsets.
id_hash() {
  local s=$1 j c h=2166136261
  for ((j = 0; j < ${#s}; j++)); do
    printf -v c '%d' "'${s:j:1}"
    h=$((((h ^ c) * 16777619) & 0xffffffff))
  done
  HASH=$h
}

# try_claim ITEM: returns 0 with the item in claimed/ and TOKEN set, 1 if another agent
# holds the lock or already took the item.
try_claim() {
  local item=$1 fd
  local src=$DIR/pending/$item lock=$DIR/locks/$item.lock
  [[ -e $src ]] || return 1  # listing is stale: cheap skip without touching the lock
  exec {fd}>>"$lock" || return 1
  if ! flock -n "$fd"; then
    exec {fd}>&-
    return 1
  fi
  if [[ ! -e $src ]]; then
    # Lost the race after the pre-check. Remove the lock file we may have re-created.
    rm -f -- "$lock"
    exec {fd}>&-
    return 1
  fi
  if ! mv -T -- "$src" "$DIR/claimed/$item"; then
    exec {fd}>&-
    die "agent $AGENT_ID: mv of $item to claimed/ failed while holding its lock"
  fi
  GRANTS=$((GRANTS + 1))
  TOKEN=$AGENT_ID:$GRANTS
  printf 'claimed agent=%s token=%s at=%s\n' "$AGENT_ID" "$TOKEN" "$EPOCHREALTIME" \
    >>"$DIR/claimed/$item"
  exec {fd}>&-
  return 0
}

# complete ITEM TOKEN: the effect of ITEM goes to the ledger exactly once.
complete() {
  local item=$1 token=$2 line last=
  local claimed=$DIR/claimed/$item ledger=$DIR/ledger/$item
  [[ -e $claimed ]] || die "agent $AGENT_ID: $item vanished from claimed/ before completion"
  while IFS= read -r line; do
    if [[ $line == claimed\ * ]]; then last=$line; fi
  done <"$claimed"
  [[ "$last " == *" token=$token "* ]] ||
    die "agent $AGENT_ID: $item is no longer ours (last claim: '${last}')"
  [[ ! -e $ledger ]] || die "agent $AGENT_ID: ledger entry for $item already exists"
  local tmp=$DIR/ledger/.$item.$AGENT_ID.$$.tmp
  printf 'effect item=%s agent=%s token=%s at=%s\n' "$item" "$AGENT_ID" "$token" \
    "$EPOCHREALTIME" >"$tmp"
  mv -T -- "$tmp" "$ledger"
  mv -T -- "$claimed" "$DIR/done/$item"
  rm -f -- "$DIR/locks/$item.lock"
  COMPLETED=$((COMPLETED + 1))
}

cmd_agent() {
  (($# >= 1)) || usage
  DIR=$1
  shift
  AGENT_ID=
  local exit_when_idle=0
  while (($#)); do
    case $1 in
      --id)
        (($# >= 2)) || usage
        AGENT_ID=$2
        shift 2
        ;;
      --exit-when-idle)
        exit_when_idle=1
        shift
        ;;
      *) usage ;;
    esac
  done
  [[ $AGENT_ID =~ ^[A-Za-z0-9_.-]+$ ]] ||
    die "--id needs a name of letters, digits, '_', '.', '-', got '${AGENT_ID}'"
  require_layout "$DIR"

  GRANTS=0
  COMPLETED=0
  TOKEN=
  id_hash "$AGENT_ID"
  local offset=$HASH items count start k item
  while :; do
    items=("$DIR"/pending/w*)
    count=${#items[@]}
    if ((count == 0)); then
      if ((exit_when_idle)); then break; fi
      sleep 0.1
      continue
    fi
    start=$((offset % count))
    for ((k = 0; k < count; k++)); do
      item=${items[(start + k) % count]##*/}
      if try_claim "$item"; then
        complete "$item" "$TOKEN"
      fi
    done
  done
  printf 'agent=%s completed=%d\n' "$AGENT_ID" "$COMPLETED"
}

count_entries() {
  local files=("$@")
  printf '%d' "${#files[@]}"
}

cmd_status() {
  (($# == 1)) || usage
  local dir=$1
  require_layout "$dir"
  printf 'pending=%s claimed=%s done=%s ledger=%s locks=%s\n' \
    "$(count_entries "$dir"/pending/*)" \
    "$(count_entries "$dir"/claimed/*)" \
    "$(count_entries "$dir"/done/*)" \
    "$(count_entries "$dir"/ledger/*)" \
    "$(count_entries "$dir"/locks/*.lock)"
}

main() {
  (($# >= 1)) || usage
  local cmd=$1
  shift
  case $cmd in
    init) cmd_init "$@" ;;
    submit) cmd_submit "$@" ;;
    agent) cmd_agent "$@" ;;
    status) cmd_status "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
