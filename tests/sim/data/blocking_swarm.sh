#!/usr/bin/env bash
# A stand-in coordinator whose agents block outside the control channel: they
# say hello, are let go, and then sleep in the kernel without reaching another
# yield point. The engine's watchdog must report this as an uncontrolled block.
set -euo pipefail
case "$1" in
  init) mkdir -p "$2/items" "$2/locks" "$2/tmp" "$2/claims" "$2/ledger" ;;
  submit) : ;;
  agent|reaper)
    printf '{"hello":{"pid":%d,"role":"%s","id":"x"}}\n' "$$" "$1" >&"${FAULTLINE_CTL_FD}"
    read -r _ <&"${FAULTLINE_CTL_FD}"
    exec sleep 1000 ;;
esac
