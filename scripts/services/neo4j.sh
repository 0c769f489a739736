#!/usr/bin/env bash
# Real Neo4j 5 (community, embedded) with its Bolt connector, for graph tests.
# The jars come from the Maven registry (neo4j-launcher/pom.xml); a tiny Java
# launcher (neo4j-launcher/src/main/java/Neo4jLauncher.java) starts it.
#
#   neo4j.sh install   mvn dependency:copy-dependencies + javac into $MEM0_CACHE_DIR
#   neo4j.sh start     fresh database dir, Bolt on loopback, user neo4j with a
#                      fixed password; waits until a Bolt client ran RETURN 1;
#                      prints and writes $MEM0_RUN_DIR/neo4j.env
#   neo4j.sh restart   stop + start keeping the data
#   neo4j.sh stop      stop (by PID) and delete the data and env file
#   neo4j.sh status    exit 0 if running and ready
#
# Env: MEM0_NEO4J_BOLT_PORT (57688), MEM0_NEO4J_PASSWORD (neo4jpass, >= 8 chars),
#      MEM0_NEO4J_HEAP (768m), MEM0_NEO4J_CDS (1: record/use a class-data-sharing
#      archive, 0: don't), MEM0_NEO4J_JAVA_HOME (a Java 17..21; default:
#      the java on PATH, else one from /usr/lib/jvm), MEM0_CACHE_DIR, MEM0_RUN_DIR.
set -euo pipefail
SERVICE=neo4j
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LAUNCHER_DIR="$SERVICES_DIR/neo4j-launcher"
POM="$LAUNCHER_DIR/pom.xml"
SRC="$LAUNCHER_DIR/src/main/java/Neo4jLauncher.java"
M2_REPO="$CACHE_DIR/m2"

HOST=127.0.0.1
BOLT_PORT=${MEM0_NEO4J_BOLT_PORT:-57688}
PASSWORD=${MEM0_NEO4J_PASSWORD:-neo4jpass}
HEAP=${MEM0_NEO4J_HEAP:-768m}
USER_NAME=neo4j
START_TIMEOUT=${MEM0_NEO4J_START_TIMEOUT:-180}

BASE="$RUN_DIR/neo4j"
HOME_DIR="$BASE/home"
LOGFILE="$BASE/neo4j.log"
PIDFILE="$BASE/neo4j.pid"
ENVFILE="$RUN_DIR/neo4j.env"
MARKER="-Dmem0.neo4j.home=$HOME_DIR"

java_major() { "$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }

# Sets JHOME to a JDK whose major version is 17..21 (Neo4j 5.26 supports 17 and 21).
find_java() {
  local c m cands=()
  [[ -n ${MEM0_NEO4J_JAVA_HOME:-} ]] && cands+=("$MEM0_NEO4J_JAVA_HOME")
  if command -v javac >/dev/null 2>&1; then
    cands+=("$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")")
  fi
  [[ -n ${JAVA_HOME:-} ]] && cands+=("$JAVA_HOME")
  for c in /usr/lib/jvm/*; do cands+=("$c"); done
  for c in "${cands[@]}"; do
    [[ -x $c/bin/java && -x $c/bin/javac ]] || continue
    m=$(java_major "$c")
    if [[ -n $m ]] && ((m >= 17 && m <= 21)); then JHOME=$c; return 0; fi
  done
  return 1
}

ensure_tools() {
  need flock sha256sum setsid
  if ! find_java || ! command -v mvn >/dev/null 2>&1; then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
      die "need a JDK 17..21 and Maven (set MEM0_NEO4J_JAVA_HOME)"
    fi
    log "installing openjdk-17-jdk-headless and maven with apt-get"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      openjdk-17-jdk-headless maven >&2
    find_java || die "no JDK 17..21 found after apt-get install"
  fi
}

key() { cat "$POM" "$@" | sha256sum | cut -c1-12; }

set_paths() {
  LIB="$CACHE_DIR/neo4j/lib-$(key)"
  # The CDS archive is tied to the exact JDK: key the classes dir on its path and version.
  CLASSES="$CACHE_DIR/neo4j/classes-$(echo "$JHOME $("$JHOME/bin/java" -version 2>&1)" | key "$SRC" -)"
}

JVM_OPTS=(-Xms128m "-Xmx$HEAP" -XX:+UseG1GC -XX:-OmitStackTraceInFastThrow -XX:+DisableExplicitGC
  -Djdk.nio.maxCachedBufferSize=1024 -Dio.netty.tryReflectionSetAccessible=true
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED)

# Class-data-sharing archive recorded by one training start at install time:
# cuts JVM class loading (thousands of Neo4j classes) on every later start.
CDS=${MEM0_NEO4J_CDS:-1}

classpath() { echo "$CLASSES/neo4j-launcher.jar:$LIB/*"; }

train_cds() {
  local home port p
  home=$(mktemp -d "$CACHE_DIR/neo4j/.train.XXXXXX")
  for ((p = 57790; p < 57800; p++)); do port_open "$HOST" "$p" || { port=$p; break; }; done
  [[ -n ${port:-} ]] || { rm -rf "$home"; log "no free port for the CDS training run; skipping"; return 0; }
  log "recording a class-data-sharing archive (one training start on port $port)"
  if "$JHOME/bin/java" "${JVM_OPTS[@]}" "-XX:ArchiveClassesAtExit=$home/app.jsa" \
       -Dmem0.neo4j.exitAfterReady=true -cp "$(classpath)" Neo4jLauncher \
       "$home/home" "$HOST" "$port" "training-only-password" </dev/null >"$home/log" 2>&1 \
     && [[ -s $home/app.jsa ]]; then
    mv "$home/app.jsa" "$CLASSES/app.jsa"
  else
    log "CDS training run failed (ignored, starts will just be slower):"
    tail -n 20 "$home/log" >&2 || true
  fi
  rm -rf "$home"
}

do_install() {
  set_paths
  local t0 tmp
  t0=$(now)
  if [[ ! -f $LIB/.installed ]]; then
    mkdir -p "$CACHE_DIR/neo4j"
    tmp=$(mktemp -d "$CACHE_DIR/neo4j/.lib.XXXXXX")
    log "mvn dependency:copy-dependencies ($(grep -o '<neo4j.version>[^<]*' "$POM" | cut -d'>' -f2))"
    if ! JAVA_HOME=$JHOME mvn -B -q -Dstyle.color=never -f "$POM" "-Dmaven.repo.local=$M2_REPO" \
         dependency:copy-dependencies "-DoutputDirectory=$tmp" -DincludeScope=runtime \
         >"$tmp.mvn.log" 2>&1; then
      show_log_tail "$tmp.mvn.log"
      rm -rf "$tmp" "$tmp.mvn.log"; die "mvn dependency:copy-dependencies failed"
    fi
    rm -f "$tmp.mvn.log"
    rm -rf "$LAUNCHER_DIR/target"
    touch "$tmp/.installed"
    rm -rf "$LIB"; mv "$tmp" "$LIB"
    log "jars: $(find "$LIB" -name '*.jar' | wc -l) files, $(du -sh "$LIB" | cut -f1)"
  fi
  if [[ ! -f $CLASSES/.installed ]]; then
    # Compiled into a jar: CDS refuses non-empty directories on the class path.
    tmp=$(mktemp -d "$CACHE_DIR/neo4j/.classes.XXXXXX")
    "$JHOME/bin/javac" -nowarn -cp "$LIB/*" -d "$tmp/classes" "$SRC" >&2 || { rm -rf "$tmp"; die "javac failed"; }
    "$JHOME/bin/jar" cf "$tmp/neo4j-launcher.jar" -C "$tmp/classes" . && rm -rf "$tmp/classes"
    rm -rf "$CLASSES"; mv "$tmp" "$CLASSES"
    [[ $CDS == 1 ]] && train_cds
    touch "$CLASSES/.installed"
  fi
  log "installed in $(elapsed "$t0")s (lib $LIB)"
}

server_pid() { read_pid "$PIDFILE"; }
running() { local p; p=$(server_pid); [[ -n $p ]] && pid_alive "$p" "$MARKER"; }

# READY is printed by the launcher after its own Bolt client ran RETURN 1.
check_ready() { running && grep -q '^READY' "$LOGFILE" 2>/dev/null && port_open "$HOST" "$BOLT_PORT"; }

launch() {
  require_port_free "$HOST" "$BOLT_PORT"
  mkdir -p "$HOME_DIR"
  if [[ -f $LOGFILE ]]; then mv -f "$LOGFILE" "$LOGFILE.prev"; fi
  (
    cd "$BASE"
    local cds=()
    if [[ $CDS == 1 && -f $CLASSES/app.jsa ]]; then cds=("-XX:SharedArchiveFile=$CLASSES/app.jsa" -Xlog:cds=off); fi
    exec setsid "$JHOME/bin/java" "${JVM_OPTS[@]}" "${cds[@]}" "$MARKER" -cp "$(classpath)" \
      Neo4jLauncher "$HOME_DIR" "$HOST" "$BOLT_PORT" "$PASSWORD" </dev/null >>"$LOGFILE" 2>&1
  ) &
  echo $! >"$PIDFILE"
  wait_ready Neo4j "$(server_pid)" "$LOGFILE" "$MARKER" "$START_TIMEOUT" "Bolt $HOST:$BOLT_PORT" check_ready
}

emit_env() {
  write_env neo4j \
    "MEM0_TEST_NEO4J_BOLT=$HOST:$BOLT_PORT" \
    "MEM0_TEST_NEO4J_URI=bolt://$HOST:$BOLT_PORT" \
    "MEM0_TEST_NEO4J_USER=$USER_NAME" \
    "MEM0_TEST_NEO4J_PASSWORD=$PASSWORD" \
    "MEM0_TEST_NEO4J_DB=neo4j"
}

# stop_server GRACE_S: SIGTERM (clean shutdown), SIGKILL after GRACE_S.
stop_server() { stop_pidfile "$PIDFILE" "$MARKER" "${1:-60}"; }

prepare() {
  [[ ${#PASSWORD} -ge 8 ]] || die "MEM0_NEO4J_PASSWORD must have at least 8 characters"
  ensure_tools
  with_lock neo4j do_install
  set_paths
  mkdir -p "$RUN_DIR"
}

do_start() {
  prepare
  if running; then
    if check_ready; then
      log "already running (PID $(server_pid))"
      emit_env
      return 0
    fi
    log "running but not ready; restarting from scratch"
    stop_server 3
  fi
  rm -rf "$BASE"
  mkdir -p "$BASE"
  launch
  emit_env
}

do_restart() {
  prepare
  if [[ ! -d $HOME_DIR/data ]]; then
    log "nothing to restart, starting fresh"
    do_start
    return
  fi
  stop_server 60
  launch
  emit_env
}

do_stop() {
  # The data is deleted right after, so don't wait long for a clean shutdown
  # (it takes 5-10 s on 2 busy cores).
  stop_server 3
  rm -rf "$BASE"
  rm -f "$ENVFILE"
  log "stopped"
}

do_status() {
  if check_ready; then
    log "running (PID $(server_pid)): Bolt $HOST:$BOLT_PORT"
    return 0
  fi
  log "not running"
  return 1
}

case "${1:-}" in
  install) ensure_tools; with_lock neo4j do_install ;;
  start) do_start ;;
  restart) do_restart ;;
  stop) do_stop ;;
  status) do_status ;;
  *) echo "usage: $0 {install|start|restart|stop|status}" >&2; exit 2 ;;
esac
