#!/bin/bash
# Soak: one faultline process runs a scenario seed after seed (default the
# kitchen-sink scenario: every process fault at once) for a given time, and
# its own resident memory and open descriptors are sampled from /proc. At the
# end: a table over time and a verdict, FLAT or GROWING.
#
#   bench/soak.sh [-d SECONDS] [-i SAMPLE_SECONDS] [-o DIR] FAULTLINE [SCENARIO]
#
#   -d  how long to run (default 3600)
#   -i  sampling interval (default 10)
#   -a  only print the table and verdict of an earlier soak's samples.csv
#   -o  where the run directories and samples go (default: a fresh temp dir;
#       finished run directories are deleted as it goes, the samples stay in
#       DIR/samples.csv: elapsed_s,runs,rss_kb,fds,threads; fds is the
#       fewest of ten readings over a second)
#
# Verdict, over the samples after the first fifth of the time (warm-up:
# allocator arenas and caches fill during the first runs):
#   - memory: a least-squares line through RSS; FLAT when what it grows over
#     the measured span is under max(2 MiB, 5% of the median RSS);
#   - descriptors: FLAT when the fewest open descriptors seen in the last
#     quarter of the measured span are no more than the fewest in its first
#     quarter (between runs the count returns to the same floor; a sample
#     taken mid-run also shows that run's own fds, so the floor is compared).
# Exit 0 FLAT, 1 GROWING, 2 bad usage or a faultline that did not start.
#
set -euo pipefail

duration=3600
interval=10
out=""
analyse=""
while getopts "d:i:o:a:" opt; do
  case $opt in
    d) duration=$OPTARG ;;
    i) interval=$OPTARG ;;
    o) out=$OPTARG ;;
    a) analyse=$OPTARG ;;
    *) echo "usage: $0 [-d SECONDS] [-i SAMPLE_SECONDS] [-o DIR] FAULTLINE [SCENARIO]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
verdict() {
  awk -F, '
  BEGIN { n = 0 }
  NR == 1 { next }
  { t[n] = $1; r[n] = $2; rss[n] = $3; fd[n] = $4; n++ }
  END {
    if (n < 4) { print "too few samples for a verdict"; exit 2 }
    printf "%10s %8s %10s %6s\n", "elapsed_s", "runs", "rss_kb", "fds"
    step = n > 20 ? int(n / 20) : 1
    for (i = 0; i < n; i += step) printf "%10d %8d %10d %6d\n", t[i], r[i], rss[i], fd[i]
    printf "%10d %8d %10d %6d\n", t[n-1], r[n-1], rss[n-1], fd[n-1]
    # The measured span: after the first fifth of the time.
    warm = t[n-1] / 5; m = 0
    for (i = 0; i < n; i++) if (t[i] >= warm) { mt[m] = t[i]; mr[m] = rss[i]; mf[m] = fd[i]; m++ }
    if (m < 3) { print "too few samples after the warm-up for a verdict"; exit 2 }
    sx = sy = sxx = sxy = 0
    for (i = 0; i < m; i++) { sx += mt[i]; sy += mr[i]; sxx += mt[i]*mt[i]; sxy += mt[i]*mr[i] }
    den = m * sxx - sx * sx
    slope = den != 0 ? (m * sxy - sx * sy) / den : 0    # KiB per second
    span = mt[m-1] - mt[0]
    growth = slope * span
    # Median RSS of the measured span.
    for (i = 0; i < m; i++) s[i] = mr[i]
    for (i = 1; i < m; i++) { v = s[i]; j = i - 1; while (j >= 0 && s[j] > v) { s[j+1] = s[j]; j-- } s[j+1] = v }
    median = s[int(m / 2)]
    limit = median * 0.05; if (limit < 2048) limit = 2048
    minf = maxf = mf[0]; for (i = 0; i < m; i++) { if (mf[i] < minf) minf = mf[i]; if (mf[i] > maxf) maxf = mf[i] }
    # A leak raises the floor: the fewest descriptors seen in the last quarter
    # of the span against the fewest in its first quarter.
    q = int(m / 4); if (q < 1) q = 1
    early = mf[0]; for (i = 0; i < q; i++) if (mf[i] < early) early = mf[i]
    late = mf[m-1]; for (i = m - q; i < m; i++) if (mf[i] < late) late = mf[i]
    mem_flat = growth < limit
    fd_flat = late <= early
    printf "runs: %d in %d s\n", r[n-1], t[n-1]
    printf "memory: median RSS %d KiB; trend %+.1f KiB over the last %d s (%+.3f KiB/min; limit %d KiB): %s\n",
           median, growth, span, slope * 60, limit, mem_flat ? "FLAT" : "GROWING"
    printf "descriptors: %d..%d; fewest %d in the first quarter of the measured span, %d in the last: %s\n",
           minf, maxf, early, late, fd_flat ? "FLAT" : "GROWING"
    verdict = mem_flat && fd_flat
    printf "verdict: %s\n", verdict ? "FLAT" : "GROWING"
    exit verdict ? 0 : 1
  }' "$1"
}

if [ -n "$analyse" ]; then
  [ -r "$analyse" ] || { echo "$0: cannot read $analyse" >&2; exit 2; }
  verdict "$analyse"
  exit $?
fi
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 [-d SECONDS] [-i SAMPLE_SECONDS] [-o DIR] FAULTLINE [SCENARIO]" >&2
  exit 2
fi
faultline=$1
here=$(cd "$(dirname "$0")" && pwd)
scenario=${2:-$here/../scenarios/kitchen-sink.json}
if [ ! -x "$faultline" ]; then echo "$0: $faultline is not executable" >&2; exit 2; fi
if [ ! -r "$scenario" ]; then echo "$0: cannot read the scenario $scenario" >&2; exit 2; fi
case $duration$interval in *[!0-9]*) echo "$0: -d and -i take whole seconds" >&2; exit 2 ;; esac
if [ -z "$out" ]; then out=$(mktemp -d "${TMPDIR:-/tmp}/faultline-soak-XXXXXX"); fi
mkdir -p "$out/runs"
samples=$out/samples.csv
echo "elapsed_s,runs,rss_kb,fds,threads" > "$samples"

# Seeds after seeds: the run never ends by itself within any soak.
"$faultline" run "$scenario" --seeds 1000000 --out "$out/runs" > "$out/faultline.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
sleep 0.2
if [ ! -r "/proc/$pid/status" ]; then
  echo "$0: faultline did not start; see $out/faultline.log" >&2
  exit 2
fi

start=$(date +%s)
runs=0
while :; do
  now=$(date +%s)
  elapsed=$((now - start))
  [ "$elapsed" -ge "$duration" ] && break
  [ -r "/proc/$pid/status" ] || { echo "$0: faultline ended early; see $out/faultline.log" >&2; break; }
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "")
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "")
  # The fewest of a second's worth of readings: a run in progress holds its
  # own descriptors (agents' control channels, the trace), and the floor
  # between runs is what a leak would raise.
  fds=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    n=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
    if [ "$n" -gt 0 ] && { [ -z "$fds" ] || [ "$n" -lt "$fds" ]; }; then fds=$n; fi
    sleep 0.1
  done
  # Finished runs are counted and deleted, so the disk stays flat too: those
  # with a verdict, but never the newest (faultline may still be writing it).
  newest=$(ls -td "$out"/runs/*/ 2>/dev/null | head -1 || true)
  for d in "$out"/runs/*/; do
    [ -f "$d/verdict.json" ] && [ "$d" != "$newest" ] || continue
    rm -rf "$d" 2>/dev/null || continue
    runs=$((runs + 1))
  done
  [ -n "$rss" ] && [ -n "$fds" ] && echo "$elapsed,$runs,$rss,$fds,$threads" >> "$samples"
  sleep "$interval"
done
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
trap - EXIT

verdict "$samples"

