#!/usr/bin/env bash
# The include layering of docs/architecture.md, checked on the sources:
#   1. sim/ (with every subfolder), faults/, cli/ and reports/ include nothing
#      from coordinator/: the only contract harness and coordinator share is
#      sim/protocol/, and coordinator/ includes nothing else of sim/;
#   2. the sim core (sim/*.h, sim/*.cc) includes no subfolder of sim/ but
#      sim/protocol/: the subfolders build on the core, never the reverse;
#   3. no cycle between folders (the core, each subfolder of sim/, and each
#      top-level source folder count as one node each).
# Usage: layering_test.sh [SOURCE_ROOT]. Exit 0 when all hold; else 1, with
# every offending include (file:line) or the cycle printed.
set -u
root=${1:-"$(cd "$(dirname "$0")/.." && pwd)"}
cd "$root" || { echo "layering: cannot enter $root" >&2; exit 2; }

folders=(base sim faults cli reports coordinator interpose)
sources() {  # every source file of the given folders, one per line
  local existing=()
  for d in "$@"; do [[ -d $d ]] && existing+=("$d"); done
  ((${#existing[@]})) || return 0
  find "${existing[@]}" -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.c' -o -name '*.cc' \
    -o -name '*.cpp' \) | LC_ALL=C sort
}
# "file:line:path" for every quoted #include of the given files.
includes() {
  local f
  while IFS= read -r f; do
    grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]+"' "$f" /dev/null |
      sed -E 's/^([^:]+):([0-9]+):[^"]*"([^"]+)".*/\1:\2:\3/'
  done
}
# The node a path belongs to: sim/<sub>/... -> sim/<sub>, sim/<file> -> sim,
# <top>/... -> <top>.
node() {
  case $1 in
    sim/*/*) local rest=${1#sim/}; echo "sim/${rest%%/*}" ;;
    sim/*) echo sim ;;
    */*) echo "${1%%/*}" ;;
    *) echo "" ;;
  esac
}

status=0
report() { echo "layering: $1" >&2; status=1; }

all=$(sources "${folders[@]}" | includes)

# 1. Nothing of the harness includes the coordinator; the coordinator includes
#    only the protocol leaf of sim/.
while IFS=: read -r file line path; do
  [[ -n $file ]] || continue
  case $file in
    sim/*|faults/*|cli/*|reports/*)
      [[ $path == coordinator/* ]] &&
        report "$file:$line includes \"$path\": only sim/protocol/ is shared with the coordinator" ;;
    coordinator/*)
      [[ $path == sim/* && $path != sim/protocol/* ]] &&
        report "$file:$line includes \"$path\": the coordinator may include only sim/protocol/" ;;
  esac
done <<< "$all"

# 2. The core includes no subfolder of sim/ but the protocol leaf.
while IFS=: read -r file line path; do
  [[ -n $file ]] || continue
  [[ $(node "$file") == sim ]] || continue
  n=$(node "$path")
  if [[ $n == sim/* && $n != sim/protocol ]]; then
    report "$file:$line includes \"$path\": the sim core includes no subfolder (${n}/ builds on the core)"
  fi
done <<< "$all"

# 3. No cycle between folders: tsort fails on a loop and names its members.
edges=$(while IFS=: read -r file line path; do
  [[ -n $file ]] || continue
  from=$(node "$file"); to=$(node "$path")
  [[ -n $to && $from != "$to" && -e $path ]] && echo "$from $to"
done <<< "$all" | LC_ALL=C sort -u)
if [[ -n $edges ]]; then
  if ! loop=$(tsort <<< "$edges" 2>&1 >/dev/null) || [[ -n $loop ]]; then
    report "an include cycle between folders: $(echo "$loop" | tr '\n' ' ')"
    while read -r from to; do
      echo "  $from -> $to" >&2
    done <<< "$edges"
  fi
fi

((status == 0)) && echo "layering: ok ($(wc -l <<< "$edges") folder dependencies, no cycle)"
exit $status
