#!/usr/bin/env bash
# The two Quick start commands of the README live here:
#   ./dev.sh main   install what is missing, build, run the main job
#   ./dev.sh test   install what is missing, build, run every test
#   ./dev.sh package  build the .deb (CPack) with man pages
# Everything comes from Debian 12 packages; nothing is downloaded at build time.
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DIR=${BUILD_DIR:-build}
PACKAGES=(
  build-essential cmake pkg-config util-linux procps
  jq  # the bash coordinator the external-SUT tests qualify (tests/sut/queue.sh)
  googletest libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
  nlohmann-json3-dev libfmt-dev libcli11-dev
  libboost1.81-dev libboost-filesystem1.81-dev libssl-dev libcpp-httplib-dev
  libpq-dev      # swarm's PostgreSQL backend (coordinator/pg_*)
  postgresql-15  # the server its tests start privately, and every "store": "postgres" run (docs/postgres.md)
  help2man      # man pages from --help (the man target, ./dev.sh package)
  python3-yaml  # the CI recipes' test (tests/install/ci_recipes_test.py)
)
# Only `test` needs these: the FMEA report's HTML is opened in headless Chromium.
TEST_PACKAGES=(chromium)
# Only `fuzz` needs these: clang and its libFuzzer/sanitizer runtimes.
FUZZ_PACKAGES=(clang libclang-rt-14-dev)

usage() {
  cat <<USAGE
usage: ./dev.sh main [--seeds N] [--store fs|postgres] | test | build | package | deps | fuzz [SECONDS]

  main    install missing packages, build, run the main job: the qualification suite —
          every bundled scenario (scenarios/*.json) against the reference coordinator
          over N seeds each (default 3; a release qualification uses more, e.g.
          --seeds 50) — and write the FMEA evidence report:
          out/report/fmea-report.{html,md,json}, out/report/junit.xml; runs in out/runs.
          --store postgres: every scenario that can run on PostgreSQL, on PostgreSQL
          (the others are skipped, saying why; docs/scenario-format.md, "Stores")
  test    install missing packages, build, run every test (ctest)
  build   install missing packages and build only
  package install missing packages and build the Debian package with CPack (prefix /usr,
          no tests or benchmarks, man pages included): PACKAGE_DIR/faultline_<version>_<arch>.deb
  deps    install missing packages only
  fuzz    build the libFuzzer targets with clang (build-fuzz/, FAULTLINE_FUZZ=ON) and
          run each for SECONDS (default 60), corpora seeded from scenarios/, tests/
          and recorded traces; a crash or hang stops with its input under
          build-fuzz/findings/<target>/: fix it and keep the input in tests/fuzz/<target>/

Environment: BUILD_DIR (default: build), PACKAGE_DIR (default: build-package),
SANITIZE=ON for an ASan/UBSan build,
SEEDS (main: seeds per scenario when --seeds is not given),
STORE (main: the store when --store is not given; default: each scenario's own).
USAGE
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "dev.sh: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build() {
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFAULTLINE_SANITIZE="${SANITIZE:-OFF}" >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)"
}

# The libFuzzer campaign (docs/fuzzing.md): every target of fuzz/entries.h
# for $1 seconds, one after the other; prints executions per second.
fuzz() {
  local seconds=${1:-60} dir=${FUZZ_BUILD_DIR:-build-fuzz} status=0
  CC=clang CXX=clang++ cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFAULTLINE_FUZZ=ON -DFAULTLINE_BUILD_TESTS=OFF -DFAULTLINE_BUILD_BENCH=OFF >/dev/null
  cmake --build "$dir" -j "$(nproc)" --target fuzz_all
  for target in scenario sut_block fmea control run_directory otlp model_request; do
    local corpus="$dir/corpus/$target" findings="$dir/findings/$target"
    mkdir -p "$corpus" "$findings"
    tests/fuzz/seed_corpus.sh "$target" "$corpus"
    echo "dev.sh fuzz: $target for ${seconds}s"
    "$dir/bin/fuzz_$target" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -artifact_prefix="$findings/" -print_final_stats=1 \
      >"$dir/fuzz-$target.log" 2>&1 || status=1
    grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|ERROR|crash-|timeout-" \
      "$dir/fuzz-$target.log" | sed "s/^/  $target: /" || true
  done
  [ "$status" = 0 ] || echo "dev.sh fuzz: findings under $dir/findings/ (logs $dir/fuzz-*.log)" >&2
  return "$status"
}

# The .deb: its own build directory, configured for /usr (GNUInstallDirs then
# picks Debian's multiarch lib directory), without tests or benchmarks.
package() {
  local dir=${PACKAGE_DIR:-build-package}
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
    -DFAULTLINE_BUILD_TESTS=OFF -DFAULTLINE_BUILD_BENCH=OFF >/dev/null
  cmake --build "$dir" -j "$(nproc)"
  cmake --build "$dir" --target man
  (cd "$dir" && cpack -G DEB)
  echo "dev.sh: $(ls "$dir"/faultline_*.deb)"
}

case "${1:-}" in
  deps) install_deps ;;
  fuzz) install_deps "${FUZZ_PACKAGES[@]}"
        if [ $# -gt 1 ] && ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
          echo "dev.sh fuzz: SECONDS must be a positive integer, got '$2'" >&2; exit 2
        fi
        fuzz "${2:-60}" ;;
  build) install_deps; build ;;
  package) install_deps; package ;;
  main) seeds=${SEEDS:-3}
        store=${STORE:-}
        shift
        while [ $# -gt 0 ]; do
          if [ "$1" = "--seeds" ] && [[ "${2:-}" =~ ^[1-9][0-9]*$ ]]; then seeds=$2; shift 2
          elif [ "$1" = "--store" ] && [[ "${2:-}" =~ ^(fs|postgres)$ ]]; then store=$2; shift 2
          else
            echo "dev.sh main: unexpected arguments '$*'; expected --seeds N (N >= 1)," \
              "--store fs|postgres" >&2
            usage >&2; exit 2
          fi
        done
        store_args=()
        [ -n "$store" ] && store_args=(--store "$store")
        install_deps; build
        rm -rf out/runs out/report
        status=0
        "$BUILD_DIR/bin/faultline" run scenarios/*.json --seeds "$seeds" "${store_args[@]}" \
          --out out/runs --junit out/junit.xml || status=$?
        "$BUILD_DIR/bin/faultline" report out/runs --out out/report || status=$((status ? status : $?))
        echo "dev.sh: FMEA evidence report in out/report/fmea-report.html (and .md, .json, junit.xml)"
        exit "$status" ;;
  test) install_deps "${TEST_PACKAGES[@]}"; build
        cd "$BUILD_DIR" && ctest --output-on-failure -j "$(nproc)" --timeout 600 ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
