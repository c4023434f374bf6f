#!/usr/bin/env bash
# The progress line of long commands: drawn on a terminal (a pseudo-terminal
# from util-linux's `script`) for `run` of many scenarios, `explore` and
# `report`, with the count, the failures so far and the time left; absent
# when stderr is not a terminal, and under CI.
#   progress_test.sh FAULTLINE SCENARIO_DIR
set -euo pipefail
faultline=$(realpath "$1")
scenarios=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "progress_test: FAIL: $*" >&2; exit 1; }
unset GTEST_SHARD_INDEX GTEST_TOTAL_SHARDS CI_NODE_INDEX CI_NODE_TOTAL JOB_COMPLETION_INDEX \
      JOB_COMPLETIONS
on_tty() { env -u CI script -qefc "$*" /dev/null; }
run="$faultline run $scenarios/killed-worker-small.json $scenarios/storage-errors.json --seeds 2"

on_tty "$run --out tty" >tty.log 2>&1 || fail "run on a terminal: $(cat tty.log)"
# The line while the third of four runs goes on, after two that passed.
grep -q $'\rfaultline run: 2/4 done, 0 failing, [0-9hms]* left\e\[K' tty.log ||
  fail "no progress line for run on a terminal: $(cat -A tty.log)"

$run --out pipe >pipe.out 2>pipe.err || fail "run without a terminal: $(cat pipe.err)"
if grep -qE '[0-9]+/[0-9]+ done' pipe.err || grep -q $'\r' pipe.out pipe.err; then
  fail "a progress line without a terminal: $(cat -A pipe.err)"
fi
CI=true script -qefc "$run --out ci" /dev/null >ci.log 2>&1 || fail "run under CI: $(cat ci.log)"
if grep -qE '[0-9]+/[0-9]+ done' ci.log; then fail "a progress line under CI: $(cat -A ci.log)"; fi

on_tty "$faultline report tty --fmea $scenarios/fmea.json --out report" >report.log 2>&1 ||
  fail "report on a terminal: $(cat report.log)"
grep -q $'\rfaultline report: reading runs: [0-9]/4 done' report.log ||
  fail "no progress line for report on a terminal: $(cat -A report.log)"
$faultline report tty --fmea "$scenarios/fmea.json" --out report2 2>report2.err >/dev/null ||
  fail "report without a terminal: $(cat report2.err)"
if grep -qE '[0-9]+/[0-9]+ done' report2.err; then fail "report drew progress without a terminal"; fi

on_tty "$faultline explore $scenarios/killed-worker-small.json --runs 2 --out explore" \
  >explore.log 2>&1 || fail "explore on a terminal: $(cat explore.log)"
grep -q $'\rexplore: 1 runs, 0 violations, [0-9.]* s left' explore.log ||
  fail "no progress line for explore on a terminal: $(cat -A explore.log)"
$faultline explore "$scenarios/killed-worker-small.json" --runs 2 --out explore2 \
  >/dev/null 2>explore2.err || fail "explore without a terminal: $(cat explore2.err)"
if grep -q 'left' explore2.err; then fail "explore drew progress without a terminal"; fi
echo "progress_test: ok"
