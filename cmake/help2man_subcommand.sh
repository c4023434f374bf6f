#!/bin/sh
# help2man's view of one faultline subcommand: `help2man "this FAULTLINE SUB"`
# runs it with --help (the subcommand's help) and --version (faultline's).
faultline=$1 sub=$2
shift 2
case "$1" in
  --version) exec "$faultline" --version ;;
  *) exec "$faultline" "$sub" "$@" ;;
esac
