#!/usr/bin/env bash
# Proves that tests/layering_test.sh can fail: it must pass on a small tree
# laid out by the rules, and fail on each kind of breach added to it.
set -u
check=$(realpath "${1:?usage: layering_selftest.sh PATH/TO/layering_test.sh}") || exit 2
[[ -x $check ]] || { echo "not executable: $check" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# A tree that keeps the rules: cli -> sim/sut -> sim -> sim/protocol <- coordinator.
make_tree() {
  rm -rf "$tmp/t" && mkdir -p "$tmp/t"/{sim/protocol,sim/sut,sim/invariants,faults,cli,reports,coordinator,base}
  cd "$tmp/t" || exit 2
  echo '#pragma once' > sim/protocol/control_protocol.h
  echo '#pragma once' > base/status.h
  printf '#include "sim/protocol/control_protocol.h"\n#include "base/status.h"\n' > sim/engine.h
  printf '#include "sim/engine.h"\n' > sim/sut/reference_sut.h
  printf '#include "sim/engine.h"\n' > sim/invariants/single_owner.h
  printf '#include "sim/engine.h"\n' > faults/kill_agent.cc
  printf '#include "sim/engine.h"\n' > reports/report.cc
  printf '#include "sim/sut/reference_sut.h"\n#include "sim/invariants/single_owner.h"\n' > cli/main.cc
  printf '#include "sim/protocol/control_protocol.h"\n#include "base/status.h"\n' > coordinator/agent.cc
}

expect() {  # expect pass|fail DESCRIPTION
  local want=$1 what=$2 rc
  "$check" "$tmp/t" > "$tmp/out" 2>&1
  rc=$?
  # A breach is exit 1 with the rule named, not any failure (a missing file).
  if [[ $want == pass && $rc -ne 0 ]] ||
     [[ $want == fail && ($rc -ne 1 || $(grep -c '^layering: ' "$tmp/out") -eq 0) ]]; then
    echo "FAILED: expected $want for: $what" >&2
    cat "$tmp/out" >&2
    failures=$((failures + 1))
  else
    echo "ok: $want for: $what"
  fi
}

make_tree; expect pass "a tree that keeps the rules"
make_tree; echo '#include "coordinator/status.h"' >> sim/sut/reference_sut.h
expect fail "sim/sut/ including coordinator/"
make_tree; echo '#include "coordinator/status.h"' >> faults/kill_agent.cc
expect fail "faults/ including coordinator/"
make_tree; echo '#include "coordinator/status.h"' >> reports/report.cc
expect fail "reports/ including coordinator/"
make_tree; echo '#include "coordinator/status.h"' >> cli/main.cc
expect fail "cli/ including coordinator/"
make_tree; echo '#include "sim/engine.h"' >> coordinator/agent.cc
expect fail "coordinator/ including the sim core"
make_tree; echo '#include "sim/sut/reference_sut.h"' >> sim/engine.h
expect fail "the core including sim/sut/"
make_tree; printf '#include "sim/invariants/single_owner.h"\n' > sim/run.cc
expect fail "the core including sim/invariants/"
make_tree; echo '#include "sim/invariants/single_owner.h"' >> sim/sut/reference_sut.h
echo '#include "sim/sut/reference_sut.h"' >> sim/invariants/single_owner.h
expect fail "a cycle between two subfolders"
make_tree; echo '#include "cli/main.cc"' >> faults/kill_agent.cc
echo '#include "faults/kill_agent.cc"' >> reports/report.cc
echo '#include "reports/report.cc"' >> cli/main.cc
expect fail "a cycle through three top-level folders"

((failures == 0)) || exit 1
