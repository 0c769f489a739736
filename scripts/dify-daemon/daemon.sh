#!/usr/bin/env bash
# The real Dify plugin daemon for end-to-end tests of the plugin runtime:
#   install   daemon binaries (dify-plugin-daemon server + dify-commandline), uv, a Python 3.12
#   start     Redis (Debian's redis-server) + PostgreSQL (scripts/services/postgres.sh) + the daemon
#             server with remote debugging on loopback; writes $MEM0_RUN_DIR/dify-daemon.env
#   stop      the daemon, Redis, and PostgreSQL when `start` started it
#   status    exit 0 when the daemon answers /health/check
#
# The daemon is pinned to commit bdb5642a (2026-08-21) of github.com/langgenius/dify-plugin-daemon,
# the version the protocol contract was written against. Binaries come from, in order:
#   1. the cache ($MEM0_CACHE_DIR/dify-daemon-<commit>/bin) when an earlier install put them there;
#   2. DIFY_DAEMON_BIN_DIR: a directory with prebuilt `dify-plugin-daemon` and `dify-commandline`;
#   3. `go install` of that pseudo-version from the Go module proxy (Go >= 1.26).
# On 2026-11-26 the Go module proxy reachable here refused the module ("not available"), so on a
# fresh machine `install` fails with that reason and scripts/test.sh reports the real-daemon tests
# as not run. The local runtime needs uv (installed from PyPI, pinned) and a
# Python 3.12 that uv can find (python3.12 on PATH or a pyenv 3.12); without one, `start` still
# works and the test reports that the local-runtime path cannot run.
#
# Env: MEM0_DIFY_DAEMON_PORT (55002), MEM0_DIFY_DEBUG_PORT (55003), MEM0_DIFY_REDIS_PORT (56379),
#      MEM0_DIFY_INNER_API_PORT (55004: Dify's inner API as the daemon sees it; tests serve it),
#      MEM0_CACHE_DIR (/var/cache/mem0-dify), MEM0_RUN_DIR (/tmp/mem0-dify-services).
set -euo pipefail
SERVICE=dify-daemon
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../services/lib.sh
. "$REPO/scripts/services/lib.sh"

DAEMON_MODULE=github.com/langgenius/dify-plugin-daemon
DAEMON_VERSION=v0.0.0-20260821083658-bdb5642a1900
UV_VERSION=0.13.8
HOME_DIR="$CACHE_DIR/dify-daemon-${DAEMON_VERSION##*-}"
BIN="$HOME_DIR/bin"
UV="$HOME_DIR/uv-venv/bin/uv"
HOST=127.0.0.1
PORT=${MEM0_DIFY_DAEMON_PORT:-55002}
DEBUG_PORT=${MEM0_DIFY_DEBUG_PORT:-55003}
REDIS_PORT=${MEM0_DIFY_REDIS_PORT:-56379}
# Dify's inner API, where the daemon sends backwards invocations (model calls); the tests serve a
# stand-in on this port while they need it
INNER_API_PORT=${MEM0_DIFY_INNER_API_PORT:-55004}
INNER_API_KEY=mem0-dify-test-inner-key
REDIS_PASSWORD=difyai123456
SERVER_KEY=mem0-dify-test-server-key
BASE="$RUN_DIR/dify-daemon"

install_daemon() {
  if [[ -x $BIN/dify-plugin-daemon && -x $BIN/dify-commandline ]]; then
    return 0
  fi
  mkdir -p "$BIN"
  if [[ -n ${DIFY_DAEMON_BIN_DIR:-} ]]; then
    log "copying prebuilt daemon binaries from $DIFY_DAEMON_BIN_DIR"
    cp "$DIFY_DAEMON_BIN_DIR/dify-plugin-daemon" "$DIFY_DAEMON_BIN_DIR/dify-commandline" "$BIN/"
    return 0
  fi
  need go
  local t0 gobin
  t0=$(now)
  gobin=$(mktemp -d)
  log "go install $DAEMON_MODULE/cmd/{server,commandline}@$DAEMON_VERSION"
  if GOBIN=$gobin go install "$DAEMON_MODULE/cmd/server@$DAEMON_VERSION" "$DAEMON_MODULE/cmd/commandline@$DAEMON_VERSION" \
    >"$gobin.log" 2>&1; then
    mv "$gobin/server" "$BIN/dify-plugin-daemon"
    mv "$gobin/commandline" "$BIN/dify-commandline"
    log "installed the daemon in $(elapsed "$t0")s"
    return 0
  fi
  log "the Go module proxy did not serve the daemon: $(tail -n 2 "$gobin.log" | tr '\n' ' ')"
  die "no daemon binaries: the Go module proxy does not serve $DAEMON_MODULE@$DAEMON_VERSION; set DIFY_DAEMON_BIN_DIR to prebuilt binaries"
}

install_uv() {
  [[ -x $UV ]] && return 0
  need python3
  log "installing uv==$UV_VERSION from PyPI"
  python3 -m venv "$HOME_DIR/uv-venv"
  "$HOME_DIR/uv-venv/bin/pip" install -q "uv==$UV_VERSION"
}

# Prints the directory of a working python3.12, or nothing.
python312_dir() {
  local p
  p=$(command -v python3.12 2>/dev/null || true)
  if [[ -n $p ]] && "$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
    dirname "$(readlink -f "$p")"
    return 0
  fi
  for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /opt/python*/bin/python3.12; do
    if [[ -x $p ]] && "$p" -c 'import sys' 2>/dev/null; then
      dirname "$p"
      return 0
    fi
  done
}

install_redis() {
  command -v redis-server >/dev/null 2>&1 && return 0
  log "installing Debian's redis-server"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null 2>&1; } \
    || die "cannot install redis-server"
}

install() {
  mkdir -p "$HOME_DIR"
  with_lock dify-daemon install_daemon
  with_lock dify-daemon install_uv
  install_redis
}

start_redis() {
  local pid
  pid=$(read_pid "$BASE/redis.pid")
  if pid_alive "$pid" redis-server; then return 0; fi
  require_port_free "$HOST" "$REDIS_PORT"
  redis-server --bind "$HOST" --port "$REDIS_PORT" --requirepass "$REDIS_PASSWORD" --save '' --appendonly no \
    --daemonize yes --pidfile "$BASE/redis.pid" --logfile "$BASE/redis.log" --dir "$BASE" >/dev/null
  for _ in $(seq 50); do
    redis-cli -h "$HOST" -p "$REDIS_PORT" -a "$REDIS_PASSWORD" --no-auth-warning ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  show_log_tail "$BASE/redis.log"
  die "redis did not start"
}

# Sets DAEMON_ENV: the daemon's whole environment (started with env -i), for the Python 3.12 in $1.
daemon_env() {
  local py_dir=$1 path=$PATH
  [[ -n $py_dir ]] && path="$py_dir:$PATH"
  # shellcheck disable=SC2154 # MEM0_TEST_PG_* come from the postgres env file
  DAEMON_ENV=(
    HOME="$HOME" PATH="$path"
    SERVER_HOST="$HOST" SERVER_PORT="$PORT" SERVER_KEY="$SERVER_KEY" PLATFORM=local
    DIFY_INNER_API_URL="http://$HOST:$INNER_API_PORT" DIFY_INNER_API_KEY="$INNER_API_KEY"
    DB_TYPE=postgresql DB_HOST="$MEM0_TEST_PG_HOST" DB_PORT="$MEM0_TEST_PG_PORT" DB_USERNAME=postgres
    DB_PASSWORD=unused-trusted DB_DATABASE=dify_plugin DB_DEFAULT_DATABASE=postgres DB_SSL_MODE=disable
    REDIS_HOST="$HOST" REDIS_PORT="$REDIS_PORT" REDIS_PASSWORD="$REDIS_PASSWORD"
    PLUGIN_STORAGE_TYPE=local PLUGIN_STORAGE_LOCAL_ROOT="$BASE/storage"
    PLUGIN_WORKING_PATH="$BASE/cwd" PLUGIN_INSTALLED_PATH=plugin PLUGIN_PACKAGE_CACHE_PATH=plugin_packages
    PLUGIN_MEDIA_CACHE_PATH=assets
    PLUGIN_REMOTE_INSTALLING_ENABLED=true PLUGIN_REMOTE_INSTALLING_HOST="$HOST"
    PLUGIN_REMOTE_INSTALLING_PORT="$DEBUG_PORT"
    UV_PATH="$UV" UV_PYTHON_DOWNLOADS=never PYTHON_INTERPRETER_PATH="${py_dir:+$py_dir/python3.12}"
    FORCE_VERIFYING_SIGNATURE=false PIP_MIRROR_AUTO_DETECT=false
    ROUTINE_POOL_SIZE=1000 MAX_PLUGIN_PACKAGE_SIZE=52428800
    PROMETHEUS_ENABLED=false ENABLE_OTEL=false SENTRY_ENABLED=false
  )
}

start() {
  install
  mkdir -p "$BASE"
  local pg_env="$RUN_DIR/postgres.env"
  if [[ ! -f $pg_env ]]; then
    "$REPO/scripts/services/postgres.sh" start >/dev/null
    touch "$BASE/started-postgres"
  fi
  # shellcheck disable=SC1090
  . "$pg_env"
  start_redis
  local pid py_dir
  py_dir=$(python312_dir || true)
  pid=$(read_pid "$BASE/daemon.pid")
  if ! pid_alive "$pid" dify-plugin-daemon; then
    require_port_free "$HOST" "$PORT"
    require_port_free "$HOST" "$DEBUG_PORT"
    rm -rf "$BASE/cwd" "$BASE/storage"
    mkdir -p "$BASE/cwd" "$BASE/storage"
    daemon_env "$py_dir"
    (cd "$BASE" && env -i "${DAEMON_ENV[@]}" "$BIN/dify-commandline" migrate >"$BASE/migrate.log" 2>&1) || true
    # exec: the recorded PID is the daemon's own (setsid execs in place in a background job)
    (cd "$BASE" && exec env -i "${DAEMON_ENV[@]}" setsid "$BIN/dify-plugin-daemon") </dev/null >"$BASE/daemon.log" 2>&1 &
    echo $! >"$BASE/daemon.pid"
    pid=$(read_pid "$BASE/daemon.pid")
    local t0
    t0=$(now)
    until curl -fsS "http://$HOST:$PORT/health/check" >/dev/null 2>&1; do
      if ! proc_running "$pid"; then
        show_log_tail "$BASE/daemon.log"
        die "the daemon exited during start"
      fi
      if awk -v e="$(elapsed "$t0")" 'BEGIN { exit !(e > 90) }'; then
        show_log_tail "$BASE/daemon.log"
        die "the daemon did not answer /health/check within 90 s"
      fi
      sleep 0.3
    done
    log "daemon up on $HOST:$PORT (debugging $HOST:$DEBUG_PORT) in $(elapsed "$t0")s"
  fi
  local py_note=""
  [[ -z $py_dir ]] && py_note="no Python 3.12 found: the daemon's local runtime cannot create plugin venvs"
  [[ -n $py_note ]] && log "$py_note"
  write_env "$SERVICE" \
    "MEM0_TEST_DIFY_DAEMON_URL=http://$HOST:$PORT" \
    "MEM0_TEST_DIFY_DAEMON_KEY=$SERVER_KEY" \
    "MEM0_TEST_DIFY_DEBUG_ADDR=$HOST:$DEBUG_PORT" \
    "MEM0_TEST_DIFY_INNER_API_ADDR=$HOST:$INNER_API_PORT" \
    "MEM0_TEST_DIFY_INNER_API_KEY=$INNER_API_KEY" \
    "MEM0_TEST_DIFY_COMMANDLINE=$BIN/dify-commandline" \
    "MEM0_TEST_DIFY_UV=$UV" \
    "MEM0_TEST_DIFY_PYTHON312_DIR=$py_dir" \
    "MEM0_TEST_DIFY_DAEMON_LOG=$BASE/daemon.log"
}

stop() {
  local pid
  pid=$(read_pid "$BASE/daemon.pid")
  [[ -n $pid ]] && kill_pid "$pid" dify-plugin-daemon 30
  pid=$(read_pid "$BASE/redis.pid")
  [[ -n $pid ]] && kill_pid "$pid" redis-server 10
  if [[ -f $BASE/started-postgres ]]; then
    "$REPO/scripts/services/postgres.sh" stop
  fi
  rm -rf "$BASE" "$RUN_DIR/$SERVICE.env"
}

status() { curl -fsS "http://$HOST:$PORT/health/check" >/dev/null 2>&1; }

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
