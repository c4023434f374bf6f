#!/usr/bin/env bash
# Records runs of every mutant of the zoo as detection evidence for the FMEA
# report (docs/fmea-report.md, "D' measured"): each mutant's scenario over
# seeds 1..N with swarm-mutant, one run directory per mutant and seed under
# OUT/<mutant>/. Each verdict carries "mutant": NAME. A run that catches its
# mutant exits 1; that is the point, so exit codes 0 and 1 are both fine here.
# Usage: record_zoo.sh BUILD_DIR OUT [SEEDS (default 20)] [MUTANT...]
set -u
build=${1:?usage: record_zoo.sh BUILD_DIR OUT [SEEDS] [MUTANT...]}
out=${2:?usage: record_zoo.sh BUILD_DIR OUT [SEEDS] [MUTANT...]}
seeds=${3:-20}
shift $(( $# < 3 ? $# : 3 ))
here=$(cd "$(dirname "$0")" && pwd)
faultline=$build/bin/faultline
mutant_bin=$(cd "$build/bin" && pwd)/swarm-mutant
[[ -x $faultline && -x $mutant_bin ]] || { echo "record_zoo: no $faultline or $mutant_bin" >&2; exit 2; }
mutants=("$@")
((${#mutants[@]})) || mapfile -t mutants < <("$mutant_bin" --list)
mkdir -p "$out" || exit 2
status=0
for m in "${mutants[@]}"; do
  SWARM_MUTANT=$m "$faultline" run "$here/scenarios/$m.json" --seed 1 --seeds "$seeds" \
    --swarm "$mutant_bin" --out "$out/$m" > "$out/$m.log" 2>&1
  rc=$?
  if ((rc != 0 && rc != 1)); then
    echo "record_zoo: $m: faultline run exited $rc (see $out/$m.log)" >&2
    status=3
  fi
  echo "$m: $(grep -c 'VIOLATION' "$out/$m.log") of $seeds runs caught"
done
exit $status
