#!/bin/sh
# --check-determinism of queue.sh under "interleave": "syscalls", with an agent
# killed while its command runs and a crash inside a command, over a range of
# seeds (docs/determinism.md). Every run must pass its invariants and give the
# same trace twice; prints one line per seed and a summary.
#
#   tests/sut/interleave_determinism.sh FAULTLINE FIRST LAST
#
# Exit 0 when every seed passed, 1 otherwise, 2 for bad usage.
set -u
if [ $# -ne 3 ] || [ ! -x "$1" ]; then
  echo "usage: $0 FAULTLINE FIRST LAST" >&2
  exit 2
fi
faultline=$1
scenario=$(dirname "$0")/../../scenarios/interleave-queue-sh.json
out=$(mktemp -d "${TMPDIR:-/tmp}/interleave-determinism.XXXXXX")
trap 'rm -rf "$out"' EXIT
failed=0
seed=$2
while [ "$seed" -le "$3" ]; do
  if "$faultline" run "$scenario" --seed "$seed" --out "$out" --check-determinism \
      >"$out/log" 2>&1; then
    echo "seed $seed: ok, same trace twice"
  else
    echo "seed $seed: FAILED"
    sed 's/^/  /' "$out/log" | head -20
    failed=$((failed + 1))
  fi
  rm -rf "${out:?}"/interleave-queue-sh-*
  seed=$((seed + 1))
done
echo "interleave determinism: $failed of $(($3 - $2 + 1)) seeds failed"
[ "$failed" -eq 0 ]
