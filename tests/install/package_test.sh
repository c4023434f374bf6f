#!/usr/bin/env bash
# The .deb, as `./dev.sh package` makes it (CPack), from this build's
# configuration: the install layout under /usr, dependencies computed from the
# binaries, and the programs run unpacked anywhere.
#   package_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "package_test: FAIL: $*" >&2; exit 1; }
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
libexecdir=$(sed -n 's/^CMAKE_INSTALL_LIBEXECDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
cpack -G DEB -B "$tmp/deb" --config "$build/CPackConfig.cmake" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; fail "cpack -G DEB failed"; }
deb=$(ls "$tmp"/deb/faultline_*.deb)
dpkg-deb -c "$deb" | awk '{print $NF}' >"$tmp/deb.contents"
for f in ./usr/bin/faultline ./usr/bin/swarm "./usr/$libexecdir/faultline/faultline-adapter" \
         "./usr/$libdir/faultline/libfaultline_ioerr.so" ./usr/include/faultline/faultline_agent.h \
         "./usr/$libdir/cmake/faultline/faultlineConfig.cmake" \
         ./usr/share/faultline/scenarios/fmea.json ./usr/share/bash-completion/completions/faultline; do
  grep -qxF "$f" "$tmp/deb.contents" || fail "the .deb lacks $f"
done
grep -q 'libc6' <(dpkg-deb -f "$deb" Depends) || fail "the .deb declares no dependencies"
# swarm opens libpq.so.5 only at its first PostgreSQL connection, so no
# shared-library scan finds it: the package must name it itself.
grep -q 'libpq5' <(dpkg-deb -f "$deb" Depends) || fail "the .deb does not depend on libpq5 (swarm loads it at run time)"
dpkg-deb -x "$deb" "$tmp/debroot"
grep -q '^faultline ' <("$tmp/debroot/usr/bin/faultline" --version) || fail "the unpacked .deb does not run"
echo "package_test: ok"
