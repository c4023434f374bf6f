#!/usr/bin/env bash
# bash completion (cli/completion.bash) against the program itself: it offers
# every subcommand of `faultline --help` and, for each, every flag of
# `faultline <command> --help`, nothing else; and the values of fixed sets.
#   completion_test.sh FAULTLINE COMPLETION_FILE
set -euo pipefail
faultline=$1
# shellcheck source=/dev/null
source "$2"
fail() { echo "completion_test: FAIL: $*" >&2; exit 1; }

complete_words() {  # the words of the command line so far, the last being completed
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _faultline
  printf '%s\n' "${COMPREPLY[@]}" | sort -u | tr '\n' ' '
}

commands=$("$faultline" --help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && /^  [a-z]/ {print $1}' |
           sort | tr '\n' ' ')
[ -n "$commands" ] || fail "no subcommands in faultline --help"
offered=$(complete_words faultline "" | tr ' ' '\n' | grep -v '^-' | sort | tr '\n' ' ')
[ "$offered" = "$commands" ] || fail "subcommands offered: '$offered'; faultline --help: '$commands'"

for command in $commands; do
  flags=$("$faultline" "$command" --help | grep -oE '^ +(-[a-zA-Z], ?)?--[a-z][a-z-]*' |
          grep -oE -- '--[a-z-]+' | sort -u | tr '\n' ' ')
  offered=$(complete_words faultline "$command" --)
  [ "$offered" = "$flags" ] ||
    fail "faultline $command: flags offered '$offered'; its --help has '$flags'"
done

[ "$(complete_words faultline run x.json --mode '')" = "freerun lockstep " ] || fail "run --mode"
[ "$(complete_words faultline list s)" = "scenarios settings " ] || fail "list topics"
[ "$(complete_words faultline report --timelines f)" = "failing " ] || fail "report --timelines"
echo "completion_test: ok"
