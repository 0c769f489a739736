#!/usr/bin/env bash
# Start/stop several test services at once.
#
#   all.sh start   [names...]   start in parallel; prints every `export` line
#                               on stdout; if one fails, stops all the named ones
#   all.sh stop    [names...]
#   all.sh install|restart|status [names...]
#
# names: postgres arcadedb neo4j (default: all three). Each service also writes
# $MEM0_RUN_DIR/<name>.env; `. scripts/services/env.sh` loads whichever exist.
#
# Typical test runner:
#   S=scripts/services
#   trap '$S/all.sh stop postgres arcadedb' EXIT
#   $S/all.sh start postgres arcadedb >/dev/null
#   . $S/env.sh
#   cargo test
set -euo pipefail
SERVICE=all
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL=(postgres arcadedb neo4j)
cmd=${1:-}
shift || true
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=("${ALL[@]}")
for n in "${names[@]}"; do
  [[ -x $SERVICES_DIR/$n.sh ]] || die "unknown service '$n' (known: ${ALL[*]})"
done

case "$cmd" in
  start)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    t0=$(now)
    declare -A pids=()
    for n in "${names[@]}"; do
      "$SERVICES_DIR/$n.sh" start >"$tmp/$n.out" &
      pids[$n]=$!
    done
    failed=()
    for n in "${names[@]}"; do
      wait "${pids[$n]}" || failed+=("$n")
    done
    if [[ ${#failed[@]} -gt 0 ]]; then
      log "failed to start: ${failed[*]}; stopping ${names[*]}"
      for n in "${names[@]}"; do "$SERVICES_DIR/$n.sh" stop || true; done
      exit 1
    fi
    for n in "${names[@]}"; do cat "$tmp/$n.out"; done
    log "started ${names[*]} in $(elapsed "$t0")s; env files in $RUN_DIR"
    ;;
  stop | status | install | restart)
    rc=0
    for n in "${names[@]}"; do "$SERVICES_DIR/$n.sh" "$cmd" || rc=1; done
    exit "$rc"
    ;;
  *)
    echo "usage: $0 {start|stop|restart|status|install} [${ALL[*]}]" >&2
    exit 2
    ;;
esac
