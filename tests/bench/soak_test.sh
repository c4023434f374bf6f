#!/usr/bin/env bash
# bench/soak.sh in CI: its verdict on recorded samples (flat, a memory leak, a
# descriptor leak: each must be told apart), bad usage, and a short live soak
# of the real faultline that must sample, print a table and a verdict, and
# leave neither faultline nor its finished run directories behind.
#   tests/bench/soak_test.sh SOAK_SH FAULTLINE
set -u
soak=${1:?usage: soak_test.sh SOAK_SH FAULTLINE}
faultline=${2:?usage: soak_test.sh SOAK_SH FAULTLINE}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# An hour of samples every 10 s: RSS around 13 MiB with noise, the descriptor
# floor 9 with run-time peaks; $1 KiB of RSS and $2 descriptors added per hour.
samples() {
  awk -v rss_leak="$1" -v fd_leak="$2" 'BEGIN {
    print "elapsed_s,runs,rss_kb,fds,threads"
    srand(7)
    for (t = 0; t <= 3600; t += 10) {
      rss = 13000 + int(rand() * 600) + int(rss_leak * t / 3600)
      fds = 9 + int(fd_leak * t / 3600) + (t % 30 == 0 ? 40 : 0)
      printf "%d,%d,%d,%d,1\n", t, t / 2, rss, fds
    }
  }'
}

expect() {  # expect EXIT PATTERN DESCRIPTION RSS_LEAK FD_LEAK
  local want=$1 pattern=$2 what=$3 rc
  samples "$4" "$5" > "$tmp/samples.csv"
  "$soak" -a "$tmp/samples.csv" > "$tmp/out" 2>&1
  rc=$?
  if [ "$rc" != "$want" ] || ! grep -q "$pattern" "$tmp/out"; then
    fail "$what: exit $rc (want $want), output:"
    cat "$tmp/out" >&2
  fi
}
expect 0 "verdict: FLAT" "flat samples" 0 0
expect 1 "^memory: .*GROWING" "RSS growing 8 MiB an hour" 8192 0
expect 1 "^descriptors: .*GROWING" "the descriptor floor rising by 20" 0 20
# Growth under the limit (2 MiB, or 5 % of the median) is noise, not a leak.
expect 0 "^memory: .*FLAT" "RSS growing 512 KiB an hour" 512 0

"$soak" -d 10 > "$tmp/usage" 2>&1
[ $? = 2 ] || fail "no FAULTLINE argument must be exit 2"
"$soak" -d ten "$faultline" > "$tmp/usage" 2>&1
[ $? = 2 ] || fail "-d ten must be exit 2"

# Live: 12 s of the default (kitchen-sink) scenario, sampled without pause.
"$soak" -d 12 -i 0 -o "$tmp/live" "$faultline" > "$tmp/live.out" 2>&1
rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
  fail "a 12 s soak ended with exit $rc, not a verdict:"
  cat "$tmp/live.out" "$tmp/live/faultline.log" >&2 2>/dev/null
fi
grep -q "^verdict: " "$tmp/live.out" || fail "the live soak printed no verdict"
rows=$(($(wc -l < "$tmp/live/samples.csv") - 1))
[ "$rows" -ge 4 ] || fail "the live soak took $rows samples in 12 s"
if awk -F, 'NR > 1 && ($3 <= 0 || $4 <= 0) { bad = 1 } END { exit !bad }' "$tmp/live/samples.csv"; then
  fail "a sample without RSS or descriptors: $(cat "$tmp/live/samples.csv")"
fi
# The soak's faultline ends with it (poll: SIGTERM ends it after its run).
deadline=$((SECONDS + 30))
while pgrep -f -- "--out $tmp/live/runs" > /dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
pgrep -f -- "--out $tmp/live/runs" > /dev/null && fail "the soak's faultline outlived the script"
left=$(find "$tmp/live/runs" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$left" -le 3 ] || fail "$left run directories left; finished ones must be deleted as the soak goes"

[ "$failures" = 0 ] && echo "soak_test: all checks passed"
[ "$failures" = 0 ]
