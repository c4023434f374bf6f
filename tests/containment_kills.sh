#!/bin/sh
# The full containment campaign: faultline SIGKILLed 100 times (or N) at
# random times across runs of the reference coordinator, a shell SUT through
# the adapter, a freerun disk-full scenario, a SUT whose commands leave
# their session and a run on its own PostgreSQL server; after each kill, no process, mount, scratch directory or
# ballast file may be left (checked by the test, which lists any leftover).
# CI runs the same test with 20 kills.
#
#   tests/containment_kills.sh BUILD_DIR [N] [SEED]
#
# Exit 0 when nothing was ever left, 1 otherwise, 2 for bad usage.
set -eu
if [ $# -lt 1 ] || [ $# -gt 3 ]; then
  echo "usage: $0 BUILD_DIR [N] [SEED]" >&2
  exit 2
fi
test_bin=$1/bin/containment_cli_test
if [ ! -x "$test_bin" ]; then
  echo "$0: $test_bin is missing; build the containment_cli_test target" >&2
  exit 2
fi
FAULTLINE_CONTAIN_KILLS=${2:-100}
export FAULTLINE_CONTAIN_KILLS
if [ $# -ge 3 ]; then FAULTLINE_CONTAIN_SEED=$3; export FAULTLINE_CONTAIN_SEED; fi
exec "$test_bin" --gtest_filter='*SigkilledAtRandomTimes*'
