#!/usr/bin/env bash
# faultline in someone else's build: `cmake --install` into a temporary
# prefix, moved elsewhere afterwards (the binaries find their helpers relative
# to themselves), then an outside project (tests/install/project) configured
# against it with find_package(faultline), built, and its ctest run as two
# shards with GoogleTest's variables: every run of the suite happens in
# exactly one shard, and the tests carry their failure modes as labels.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }
unset GTEST_SHARD_INDEX GTEST_TOTAL_SHARDS CI_NODE_INDEX CI_NODE_TOTAL JOB_COMPLETION_INDEX \
      JOB_COMPLETIONS GTEST_SHARD_STATUS_FILE

cmake --install "$build" --prefix "$tmp/staged" >/dev/null
mv "$tmp/staged" "$tmp/prefix"
prefix=$tmp/prefix
# GNUInstallDirs' lib directory of the build's configuration (lib, lib64 or lib/<arch>).
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
libexecdir=$(sed -n 's/^CMAKE_INSTALL_LIBEXECDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
for f in bin/faultline bin/swarm "$libexecdir/faultline/faultline-adapter" \
         "$libdir/faultline/libfaultline_ioerr.so" "$libdir/faultline/libfaultline_interpose.so" \
         "$libdir/faultline/libfaultline_wallclock.so" \
         include/faultline/faultline_agent.h include/faultline/control_protocol.h \
         share/faultline/scenarios/fmea.json share/faultline/scenarios/killed-worker.json \
         share/doc/faultline/README.md share/doc/faultline/ci.md \
         share/doc/faultline/ci/github-actions.yml share/bash-completion/completions/faultline \
         "$libdir/cmake/faultline/faultlineConfig.cmake" \
         "$libdir/cmake/faultline/FaultlineScenarios.cmake"; do
  [ -e "$prefix/$f" ] || fail "cmake --install did not install $f"
done
[ ! -e "$prefix/bin/faultline-adapter" ] || fail "faultline-adapter belongs in libexec, not bin"

grep -Eq '^faultline [0-9]+\.[0-9]+\.[0-9]+' <("$prefix/bin/faultline" --version) ||
  fail "faultline --version says: $("$prefix/bin/faultline" --version)"

# Outside any checkout: the installed scenarios and catalogue are the defaults.
cd "$tmp"
grep -q "share/faultline/scenarios/killed-worker.json" <("$prefix/bin/faultline" list scenarios) ||
  fail "faultline list scenarios does not show the installed scenarios"

# The outside project. Its scenarios: an io_error one (the preload library
# from lib/faultline), and with QUEUE_SUT one against a shell coordinator
# (the command adapter from libexec/faultline).
cmake -S "$src/tests/install/project" -B "$tmp/project" -DCMAKE_PREFIX_PATH="$prefix" \
  -DQUEUE_SUT="$src/tests/sut/queue.sut.json" >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log"; fail "the outside project does not configure"; }
cmake --build "$tmp/project" >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; fail "the outside project does not build"; }
cd "$tmp/project"

# Labels: the failure modes of the scenario and of its folder's catalogue.
labelled() { ctest -N -L "^$1\$" >"$tmp/labels.log" && grep -c "Test *#" "$tmp/labels.log"; }
grep -q 'faultline.storage-errors' <(ctest -N -L '^storage-eio$') ||
  fail "faultline.storage-errors is not labelled storage-eio"
grep -q 'faultline.killed-worker-small' <(ctest -N -L '^worker-crash$') ||
  fail "faultline.killed-worker-small is not labelled worker-crash"
[ "$(labelled ours)" = 3 ] || fail "not every test is labelled ours"

# Two shards: the suite is 2 scenarios x 2 seeds + 1 queue scenario = 5 runs.
for shard in 0 1; do
  GTEST_SHARD_INDEX=$shard GTEST_TOTAL_SHARDS=2 ctest --output-on-failure \
    >"$tmp/shard$shard.log" 2>&1 || { cat "$tmp/shard$shard.log"; fail "shard $shard failed"; }
done
runs=$(cd faultline-runs && ls -d */ | grep -v junit | tr -d / | sort | tr '\n' ' ')
[ "$runs" = "killed-worker-small-3 killed-worker-small-4 queue-killed-worker-1 storage-errors-1 storage-errors-2 " ] ||
  fail "the runs of both shards are: $runs"
[ "$(ls faultline-runs/junit | wc -l)" = 3 ] || fail "not one JUnit file per test: $(ls faultline-runs/junit)"
# Run index 4 (the queue scenario, after 4 reference runs) is shard 0's; in
# shard 1 that test has no run and reports itself skipped.
grep -q 'queue.queue-killed-worker .*Passed' "$tmp/shard0.log" ||
  fail "shard 0 did not run the queue scenario: $(cat "$tmp/shard0.log")"
grep -Eq 'queue.queue-killed-worker .*Skipped' "$tmp/shard1.log" ||
  fail "shard 1 did not skip the queue scenario: $(cat "$tmp/shard1.log")"
for shard in 0 1; do
  grep -q '100% tests passed' "$tmp/shard$shard.log" || fail "shard $shard: $(cat "$tmp/shard$shard.log")"
done

# The report of both shards, with the project's catalogue.
"$prefix/bin/faultline" report faultline-runs --out "$tmp/report" \
  --fmea "$src/tests/install/project/scenarios/fmea.json" >/dev/null || fail "faultline report failed"
[ -s "$tmp/report/fmea-report.html" ] || fail "no fmea-report.html"
echo "install_test: ok"
