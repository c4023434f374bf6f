#!/usr/bin/env bash
# Copies the seed inputs of one fuzz target into its corpus folder: the
# bundled scenarios and the test suites' inputs, the recorded run directories
# of tests/reports/data, and the target's kept regression inputs.
#   tests/fuzz/seed_corpus.sh TARGET CORPUS_DIR
set -euo pipefail
target=$1 corpus=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$corpus"
n=0
add() { cp -- "$1" "$corpus/seed-$n-$(basename "$1")"; n=$((n + 1)); }
case $target in
  scenario)
    for f in "$root"/scenarios/*.json "$root"/tests/mutants/scenarios/*.json; do
      [[ $(basename "$f") == fmea.json ]] || add "$f"
    done ;;
  sut_block)
    for f in "$root"/tests/sut/*.sut.json; do add "$f"; done
    for f in "$root"/scenarios/*.json; do
      jq -e '.sut' "$f" >/dev/null 2>&1 && jq '.sut' "$f" >"$corpus/seed-sut-$(basename "$f")"
    done ;;
  fmea) add "$root/scenarios/fmea.json" ;;
  control)
    # Recorded agent events as the process would have sent them, and the
    # three parking messages.
    printf '%s\n' '{"hello":{"pid":1,"role":"agent","id":"a0"}}' \
      '{"yield":"claim.locked","item":"w000001"}' '{"sleep_us":2500}' >"$corpus/seed-parking"
    for t in "$root"/tests/reports/data/runs/*/trace.jsonl; do
      jq -c 'select(.proc != "sim") | del(.seq, .t, .proc) | {event: .}' "$t" 2>/dev/null |
        head -200 >"$corpus/seed-events-$n" || true
      n=$((n + 1))
    done ;;
  run_directory)
    for d in "$root"/tests/reports/data/runs/*/; do
      [ -f "$d/verdict.json" ] || continue
      { cat "$d/verdict.json"; printf '\n\x1e\n'
        cat "$d/scenario.resolved.json" 2>/dev/null; printf '\n\x1e\n'
        head -c 30000 "$d/trace.jsonl" 2>/dev/null; } >"$corpus/seed-run-$n"
      n=$((n + 1))
    done ;;
  otlp)
    printf '%s' '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.instance.id","value":{"stringValue":"a0"}}]},"scopeSpans":[{"spans":[{"traceId":"0123456789abcdef0123456789abcdef","spanId":"0123456789abcdef","name":"claim_work"}]}]}]}' \
      >"$corpus/seed-export" ;;
  model_request)
    printf '%s' '{"item":"w000001","prompt":"work on w000001"}' >"$corpus/seed-request" ;;
  *) echo "seed_corpus.sh: unknown target $target" >&2; exit 2 ;;
esac
# The kept regression inputs seed the campaign too.
if [ -d "$root/tests/fuzz/$target" ]; then
  for f in "$root/tests/fuzz/$target"/*; do [ -f "$f" ] && add "$f"; done
fi
exit 0
