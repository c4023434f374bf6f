#!/bin/sh
# `faultline explore` finds the races inside a shell coordinator's commands in
# lockstep ("interleave": "syscalls") and shrinks each to its minimal
# scenario: check-then-create to 2 agents and 1 item, unlocked-rmw to 2
# agents and 2 items (its minimum: docs/external-sut.md section 7). The
# families are tests/sut/scenarios/interleave-*.json with the agent count
# and the items made ranges ([2, 3] and [1, 4]), so that explore may shrink
# them. Prints explore's summary and one line per family.
#
#   tests/sut/interleave_explore.sh FAULTLINE
#
# Needs jq (as the shell SUT does). Exit 0 when both shrank to their
# minimum, 1 otherwise, 2 for bad usage.
set -u
if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 FAULTLINE" >&2
  exit 2
fi
faultline=$1
sut_dir=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/interleave-explore.XXXXXX")
trap 'rm -rf "$out"' EXIT
failed=0

explore() {  # NAME INVARIANT AGENTS ITEMS
  name=$1
  family=$out/$name.json
  # The scenario files open with // comments, which jq does not read.
  grep -v '^ *//' "$sut_dir/scenarios/$name.json" |
    jq --arg cwd "$sut_dir" '.agents.count = [2, 3] | .work.items = [1, 4] | .sut.cwd = $cwd' \
      >"$family" || { echo "$name: cannot write the family"; failed=$((failed + 1)); return; }
  CI=1 "$faultline" explore "$family" --runs 20 --time-budget 900 --shrink-budget 900 \
    --out "$out/$name" >"$out/$name.log" 2>&1
  code=$?
  sed -n '/^VIOLATION\|^shrunk\|^  agents\|^minimal/p' "$out/$name.log"
  minimal=$out/$name/minimal.json
  if [ "$code" -ne 1 ] || [ ! -f "$minimal" ]; then
    echo "$name: explore exited $code without a minimal scenario"
    sed 's/^/  /' "$out/$name.log" | tail -20
    failed=$((failed + 1))
    return
  fi
  agents=$(grep -v '^ *//' "$minimal" | jq '.agents.count')
  items=$(grep -v '^ *//' "$minimal" | jq '.work.items')
  if ! grep -q "violates $2 again" "$out/$name.log" || [ "$agents" != "$3" ] ||
     [ "$items" != "$4" ]; then
    echo "$name: shrunk to $agents agents and $items items; want $3 and $4, violating $2"
    failed=$((failed + 1))
    return
  fi
  echo "$name: shrunk to $agents agents and $items items, $2 violated again"
}

explore interleave-check-then-create single_owner 2 1
explore interleave-unlocked-rmw exactly_once_effect 2 2
[ "$failed" -eq 0 ]
