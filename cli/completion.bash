# bash completion for faultline: its subcommands, each one's flags, the values
# of flags with a fixed set, and files or directories elsewhere. Installed to
# share/bash-completion/completions/faultline; in a checkout:
#   source cli/completion.bash
# tests/install/completion_test.sh checks it against `faultline <command> --help`.

_faultline_flags() {
  case "$1" in
    run) echo "--seed --seeds --mode --store --sut --out --swarm --keep --check-determinism
               --require-landed --shard --first-index --dry-run --junit --help" ;;
    replay) echo "--swarm --stop-at --until --step --stop-report --help" ;;
    show) echo "--around --steps --after --help" ;;
    explore) echo "--runs --time-budget --shrink-budget --out --seed --swarm --shrink --guide --help" ;;
    diff) echo "--sut --seed --out --swarm --help" ;;
    validate) echo "--fmea --help" ;;
    report) echo "--out --fmea --generated --timelines --help" ;;
    list) echo "--dir --json --help" ;;
    sink) echo "--port --host --record --mode --help" ;;
  esac
}

_faultline() {
  local cur prev command word
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD - 1]}
  command=""
  for word in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$word" in -*) ;; *) command=$word; break ;; esac
  done
  if [ -z "$command" ]; then
    COMPREPLY=($(compgen -W "run replay show explore diff validate report list sink --help --version" -- "$cur"))
    return
  fi
  case "$command:$prev" in
    run:--mode) COMPREPLY=($(compgen -W "lockstep freerun" -- "$cur")); return ;;
    run:--store) COMPREPLY=($(compgen -W "fs postgres" -- "$cur")); return ;;
    report:--timelines) COMPREPLY=($(compgen -W "auto all failing none" -- "$cur")); return ;;
    sink:--mode) COMPREPLY=($(compgen -W "up 503 blackhole" -- "$cur")); return ;;
    replay:--until) COMPREPLY=($(compgen -W "violation" -- "$cur")); return ;;
    show:--around) COMPREPLY=($(compgen -W "violation" -- "$cur")); return ;;
    *:--out|*:--dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    *:--seed|*:--seeds|*:--shard|*:--first-index|*:--runs|*:--time-budget|*:--shrink-budget|\
    *:--port|*:--host|*:--generated|*:--stop-at|*:--steps|*:--after) return ;;
    *:--sut|*:--swarm|*:--junit|*:--fmea|*:--shrink|*:--record|*:--stop-report)
      COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_faultline_flags "$command")" -- "$cur"))
  elif [ "$command" = list ]; then
    COMPREPLY=($(compgen -W "faults invariants scenarios settings" -- "$cur"))
  elif [ "$command" = replay ] || [ "$command" = show ]; then
    COMPREPLY=($(compgen -d -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}

complete -o filenames -F _faultline faultline
