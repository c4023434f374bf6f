#!/usr/bin/env bash
# queue.sh as a drifted port (RPN 126, "shell export semantic drift"): a
# rewrite of the claim filter that silently never hands out items whose id
# ends in 7. Everything else behaves like queue.sh; `faultline diff` finds
# the difference against the reference coordinator.
source "$(dirname "${BASH_SOURCE[0]}")/queue.sh"

PICK='def pick: (.items | to_entries | map(select(.key | endswith("7") | not))) as $all
  | [$all[] | select(.value.status == "active" and .value.lease_until_ms <= $now)][0].key
    // [$all[] | select(.value.status == "pending")][0].key;'

main "$@"
