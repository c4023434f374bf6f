#!/bin/sh
# The trace hashes of every bundled scenario, for refactors: a change that
# only moves code must not change a single lockstep trace.
#
#   tests/trace_hashes.sh FAULTLINE [EXPECTED]
#
# Runs every scenario of scenarios/ (the fmea.json catalogue is skipped by
# faultline itself) in lockstep over seeds 1, 2 and 3 with the faultline
# binary FAULTLINE, and prints "<scenario>-<seed> <trace_sha256>" per run,
# sorted. With EXPECTED (a file of such lines), compares instead: prints the
# runs whose hash differs, is missing or is new, and exits 1 if there is any.
# A run without a trace hash (a harness error) prints MISSING as its hash.
# Exit 2 for bad usage. Takes about a minute on two cores.
#
# tests/data/trace-hashes.txt is the list made at commit 872f340, before the
# split of the large files (the seam refactor): refactors compare against it;
# when behaviour changes on purpose, regenerate it and say which runs changed
# and why in the commit.
#
# The corrupt-file scenarios once quoted the length of a damaged agent record,
# which holds the agent's pid, so their hashes depended on how many digits the
# machine's pids had; the coordinator's corruption message no longer carries a
# length, and the list holds the hashes made after that fix.
#
# Not a CTest: traces legitimately change whenever behaviour does.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 FAULTLINE [EXPECTED]" >&2
  exit 2
fi
faultline=$1
expected=${2:-}
if [ ! -x "$faultline" ]; then
  echo "$0: $faultline is not an executable faultline binary" >&2
  exit 2
fi
if [ -n "$expected" ] && [ ! -r "$expected" ]; then
  echo "$0: cannot read $expected" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/trace-hashes.XXXXXX")
trap 'rm -rf "$out"' EXIT INT TERM

# Violations and harness errors show up as changed or MISSING hashes; the
# exit code of the runs themselves says nothing more here.
"$faultline" run "$root"/scenarios/*.json --seed 1 --seeds 3 --mode lockstep --out "$out/runs" \
  >"$out/run.log" 2>&1 || true

for dir in "$out"/runs/*/; do
  [ -f "$dir/scenario.resolved.json" ] || continue
  id=$(basename "$dir")
  hash=$(jq -r '.trace_sha256 // "MISSING"' "$dir/verdict.json" 2>/dev/null || echo MISSING)
  echo "$id $hash"
done | LC_ALL=C sort >"$out/hashes.txt"

if [ -z "$expected" ]; then
  cat "$out/hashes.txt"
  exit 0
fi

LC_ALL=C sort "$expected" >"$out/expected.txt"
# join -a: every id of either side; a missing side prints as "-".
LC_ALL=C join -a 1 -a 2 -e - -o 0,1.2,2.2 "$out/expected.txt" "$out/hashes.txt" |
  awk '$2 != $3 { print $1 ": expected " $2 ", got " $3; bad = 1 }
       END { exit bad }' >"$out/diff.txt" && same=1 || same=0
if [ "$same" = 1 ]; then
  echo "trace hashes: all $(wc -l <"$out/expected.txt") runs identical to $expected"
  exit 0
fi
cat "$out/diff.txt"
echo "trace hashes: $(wc -l <"$out/diff.txt") of $(wc -l <"$out/expected.txt") runs differ from $expected; the end of faultline's output:" >&2
tail -n 20 "$out/run.log" >&2
exit 1
