#!/usr/bin/env bash
# The qualification suite on the PostgreSQL store (docs/scenario-format.md,
# "Stores"): `faultline run FILES --store postgres` as `./dev.sh main --store
# postgres` runs it, then `faultline report`, over a small mixed suite:
#
#   - a scenario that can run on the server runs there, every fault landed;
#   - one whose fault acts on the shared directory's state files, and one
#     with an external SUT, are skipped, each saying why, and the suite passes;
#   - the report is written from the runs on the server;
#   - --store postgres over only such scenarios exits 2 (nothing was tested);
#   - a scenario file that asks for "store": "postgres" with such a fault is
#     refused when loaded, naming the fault (exit 2);
#   - dev.sh main refuses a bad --store before it installs or builds anything.
#
#   tests/scenarios/store_suite_test.sh FAULTLINE SOURCE_DIR
set -euo pipefail

faultline=$1
src=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/store-suite.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# The mixed suite, the way dev.sh main runs it.
status=0
"$faultline" run "$src/scenarios/killed-worker.json" "$src/scenarios/io-error.json" \
  "$src/scenarios/external-queue-sh.json" --seeds 1 --store postgres --require-landed \
  --out "$work/runs" --junit "$work/junit.xml" >"$work/run.log" 2>&1 || status=$?
cat "$work/run.log"
[ "$status" -eq 0 ] || fail "the suite on --store postgres exited $status, expected 0"
grep -q '^io-error: skipped, not applicable on --store postgres: .*/faults/0/kind: fault "io_error" acts on the coordinator.s state files' \
  "$work/run.log" || fail "io-error was not skipped with its reason"
grep -q '^external-queue-sh: skipped, not applicable on --store postgres: .*/store: .*external SUT' \
  "$work/run.log" || fail "external-queue-sh was not skipped with its reason"
[ -f "$work/runs/killed-worker-1/verdict.json" ] || fail "killed-worker did not run"
[ ! -e "$work/runs/io-error-1" ] || fail "io-error ran although it was skipped"
[ "$(jq -r '.store' "$work/runs/killed-worker-1/scenario.resolved.json")" = postgres ] ||
  fail "killed-worker did not run on the server"
[ "$(jq -r '.ok' "$work/runs/killed-worker-1/verdict.json")" = true ] || fail "killed-worker failed"

"$faultline" report "$work/runs" --out "$work/report" --fmea "$src/scenarios/fmea.json" \
  >"$work/report.log" 2>&1 ||
  fail "faultline report exited $?: $(cat "$work/report.log")"
[ -s "$work/report/fmea-report.json" ] || fail "no report"
jq -e '.totals.runs == 1 and .totals.passed == 1 and .runs[0].scenario == "killed-worker"' \
  "$work/report/fmea-report.json" >/dev/null ||
  fail "the report does not show the one run: $(jq -c .totals "$work/report/fmea-report.json")"

# Nothing of the runs given can run there.
status=0
"$faultline" run "$src/scenarios/io-error.json" --store postgres --require-landed \
  --out "$work/none" >"$work/none.log" 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "--store postgres over io-error alone exited $status, expected 2"
grep -q 'none of the runs given can run on --store postgres' "$work/none.log" ||
  fail "no message for a suite that tests nothing: $(cat "$work/none.log")"

# A file of its own on the server with a fault of the state files.
jq '.store = "postgres" | .name = "io-error-on-postgres"' \
  <(grep -v '^ *//' "$src/scenarios/io-error.json") >"$work/io-error-on-postgres.json"
status=0
"$faultline" validate "$work/io-error-on-postgres.json" >"$work/validate.log" 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "validate exited $status for io_error on postgres, expected 2"
grep -q 'io-error-on-postgres.json: /faults/0/kind: fault "io_error" acts on the coordinator.s state files in the shared directory, which a run with "store": "postgres" does not have' \
  "$work/validate.log" || fail "unexpected refusal: $(cat "$work/validate.log")"

# dev.sh main checks its flags first (nothing installed, nothing built).
status=0
"$src/dev.sh" main --store nosuch >"$work/dev.log" 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "dev.sh main --store nosuch exited $status, expected 2"
grep -q -- "--store fs|postgres" "$work/dev.log" || fail "dev.sh main: $(cat "$work/dev.log")"
echo "PASS"
