#!/bin/sh
# A race found in lockstep inside a shell coordinator's commands replays
# exactly: runs each of interleave-check-then-create and
# interleave-unlocked-rmw (tests/sut/scenarios/) once, checks that it fails
# by the invariant meant for it, then replays the failure N times with
# `faultline replay` and checks that every replay fails the same way and
# writes a trace with the recorded SHA-256 (computed here with sha256sum,
# not taken from faultline's word). Prints one line per replay and a summary.
#
#   tests/sut/interleave_replays.sh FAULTLINE [N]      (N defaults to 10)
#
# Exit 0 when every replay was identical, 1 otherwise, 2 for bad usage.
set -u
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ ! -x "$1" ]; then
  echo "usage: $0 FAULTLINE [N]" >&2
  exit 2
fi
faultline=$1
n=${2:-10}
scenarios=$(cd "$(dirname "$0")/scenarios" && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/interleave-replays.XXXXXX")
trap 'rm -rf "$out"' EXIT
failed=0

# The trace_sha256 of a verdict.json.
recorded_sha() {
  sed -n 's/.*"trace_sha256": *"\([0-9a-f]*\)".*/\1/p' "$1" | head -n 1
}

check() {  # NAME INVARIANT
  name=$1
  invariant=$2
  if "$faultline" run "$scenarios/$name.json" --out "$out" >"$out/$name.log" 2>&1; then
    echo "$name: the run passed; it must fail by $invariant"
    failed=$((failed + 1))
    return
  fi
  run=$out/$name-1
  if ! grep -q "\"name\": *\"$invariant\"" "$run/verdict.json" ||
     ! tr -d ' \n' <"$run/verdict.json" | grep -q "\"name\":\"$invariant\",\"ok\":false"; then
    echo "$name: $invariant did not catch it"
    sed 's/^/  /' "$out/$name.log" | head -20
    failed=$((failed + 1))
    return
  fi
  want=$(recorded_sha "$run/verdict.json")
  got=$(sha256sum "$run/trace.jsonl" | cut -d' ' -f1)
  if [ -z "$want" ] || [ "$want" != "$got" ]; then
    echo "$name: verdict.json says trace sha256 '$want', the trace is $got"
    failed=$((failed + 1))
    return
  fi
  same=0
  i=1
  while [ "$i" -le "$n" ]; do
    rm -rf "${run:?}/replay"
    "$faultline" replay "$run" >"$out/replay.log" 2>&1
    code=$?
    trace=$(find "$run/replay" -name trace.jsonl | head -n 1)
    sha=$( [ -n "$trace" ] && sha256sum "$trace" | cut -d' ' -f1)
    if [ "$code" -eq 1 ] && [ "$sha" = "$want" ]; then
      same=$((same + 1))
      echo "$name replay $i: identical (sha256 $sha)"
    else
      echo "$name replay $i: DIFFERENT (exit $code, sha256 ${sha:-none}, recorded $want)"
      sed 's/^/  /' "$out/replay.log" | tail -5
      failed=$((failed + 1))
    fi
    i=$((i + 1))
  done
  echo "$name: $same/$n replays identical to the recorded trace (sha256 $want)"
}

check interleave-check-then-create single_owner
check interleave-unlocked-rmw exactly_once_effect
[ "$failed" -eq 0 ]
