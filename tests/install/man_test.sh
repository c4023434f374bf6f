#!/usr/bin/env bash
# Man pages from --help (the `man` target, help2man): faultline.1 with the
# subcommands and --version's version, one page per subcommand with its
# flags, swarm.1; each one renders.
#   man_test.sh BUILD_DIR
set -euo pipefail
build=$1
fail() { echo "man_test: FAIL: $*" >&2; exit 1; }
cmake --build "$build" --target man >"$build/man-target.log" 2>&1 ||
  fail "the man target failed: $(cat "$build/man-target.log")"
version=$("$build/bin/faultline" --version | awk '{print $2}')
page=$build/man/faultline.1
grep -q "^\.TH FAULTLINE \"1\".*faultline $version" "$page" || fail "faultline.1 has no .TH with $version"
for command in run replay explore diff validate report list sink; do
  grep -q "$command" "$page" || fail "faultline.1 does not list $command"
  [ -s "$build/man/faultline-$command.1" ] || fail "no faultline-$command.1"
done
grep -qF -- '\-\-dry\-run' "$build/man/faultline-run.1" || fail "faultline-run.1 lacks run's flags"
grep -q -- 'JOB_COMPLETION_INDEX' "$build/man/faultline-run.1" || fail "faultline-run.1 lacks --shard's text"
grep -q '^\.TH SWARM' "$build/man/swarm.1" || fail "no swarm.1"
if command -v groff >/dev/null; then
  groff -man -Tutf8 -z -ww "$page" 2>"$build/man-groff.log" || fail "faultline.1 does not render"
fi
echo "man_test: ok"
