#!/usr/bin/env bash
# A hostile system under test: an agent that speaks the control protocol on
# FAULTLINE_CTL_FD and then breaks it in the way MODE names. Used by
# hostile_sut_test.cc; every mode must end the run as a harness error (exit
# 3) naming the agent, within the step timeout, or as a violation (segv).
#   hostile_agent.sh MODE AGENT [TAG]
# TAG marks the caller's processes (the fork modes' children carry it too:
# "hostile_child TAG"); the fork modes write TAG/forked once their children run.
set -u
mode=$1 agent=$2 tag=${3:-}
fd=${FAULTLINE_CTL_FD:?not under faultline}
lockstep=1
[ "${FAULTLINE_MODE:-lockstep}" = freerun ] && lockstep=0
send() { printf '%s\n' "$1" >&"$fd"; }
await() { if [ "$lockstep" = 1 ]; then IFS= read -r _ <&"$fd" || exit 3; fi; }

send "{\"hello\":{\"pid\":$$,\"role\":\"agent\",\"id\":\"$agent\"}}"
await
if [ "$lockstep" = 1 ]; then send '{"yield":"claim.locked","item":""}'; await; fi
case $mode in
  garbage) send 'this is not json' ;;
  half) printf '{"event":{"type":"claim_ok"' >&"$fd"; exec {fd}>&-; sleep 60 ;;
  number_type) send '{"event":{"type":5}}' ;;
  no_type) send '{"event":{"item":"w000001"}}' ;;
  unknown_type) send '{"event":{"type":"i_was_here"}}' ;;
  run_end) send '{"event":{"type":"run_end","end":"completed","completed":true}}' ;;
  exit_other) send '{"event":{"type":"exit","agent":"a1","role":"agent","code":0}}' ;;
  seq_override) send '{"event":{"type":"register","agent":"a0","fingerprint":"","seq":0,"t":0}}' ;;
  second_hello) send "{\"hello\":{\"pid\":$$,\"role\":\"agent\",\"id\":\"$agent\"}}" ;;
  nul_item) send '{"yield":"claim.locked","item":"w1\u0000w2"}' ;;
  bad_utf8) printf '{"event":{"type":"register","agent":"\xff\xfe"}}\n' >&"$fd" ;;
  deep) printf '{"event":{"type":"register","x":%s1%s}}\n' "$(printf '[%.0s' {1..200})" \
          "$(printf ']%.0s' {1..200})" >&"$fd" ;;
  oversized) head -c 3000000 /dev/zero | tr '\0' 'a' >&"$fd"; sleep 60 ;;
  flood) for _ in $(seq 1 2000); do printf '{"yield":"claim.locked","item":""}\n'; done >&"$fd"
         sleep 60 ;;
  close_and_run) exec {fd}>&-; sleep 60 ;;
  segv) kill -SEGV $$ ;;
  event_flood) yes '{"event":{"type":"register","agent":"a0","fingerprint":""}}' >&"$fd" ;;
  fork | fork_and_wait)
    for _ in $(seq 1 1000); do (exec -a "hostile_child $tag" sleep 60) & done
    echo 1000 > "$tag/forked"
    [ "$mode" = fork ] && send 'this is not json' ;;
  *) echo "hostile_agent.sh: unknown mode $mode" >&2; exit 2 ;;
esac
# Whatever faultline does next, never go on by itself.
sleep 60
