# shellcheck shell=bash
# Shared helpers for scripts/services/*.sh. Sourced, never executed.
#
# Conventions:
#   - progress and errors go to stderr; `start` prints only `export VAR=...`
#     lines on stdout, so `eval "$(scripts/services/postgres.sh start)"` works;
#   - downloads and unpacked packages live in $CACHE_DIR (outside the clone);
#   - each service keeps data, logs and its PID file in $RUN_DIR/<name>/ and
#     writes $RUN_DIR/<name>.env.

CACHE_DIR=${MEM0_CACHE_DIR:-/var/cache/mem0-dify}
RUN_DIR=${MEM0_RUN_DIR:-/tmp/mem0-dify-services}
# shellcheck disable=SC2034 # used by the scripts that source this file
SERVICES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '[%s %s] %s\n' "${SERVICE:-services}" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || die "required command '$c' not found"
  done
}

# Monotonic-ish seconds with decimals, for timing messages.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# with_lock NAME CMD...: run CMD while holding an exclusive lock in the cache,
# so that two concurrent installs of the same package don't race.
with_lock() {
  local name=$1; shift
  mkdir -p "$CACHE_DIR/locks"
  (
    flock -w 1800 9 || die "timed out waiting for lock $name"
    "$@"
  ) 9>"$CACHE_DIR/locks/$name.lock"
}

# pip_fetch_wheel PKG==VER SHA256 DEST_VAR [pip download options...]
# Downloads one wheel (no deps, binary only) into $CACHE_DIR/wheels unless a
# file with the right sha256 is already there; sets DEST_VAR to its path.
pip_fetch_wheel() {
  local spec=$1 sha=$2 __var=$3; shift 3
  local dir="$CACHE_DIR/wheels" name=${spec%%==*} ver=${spec#*==} f tmp
  mkdir -p "$dir"
  # Wheel file names normalise '-' to '_'.
  f=$(find "$dir" -maxdepth 1 -name "${name//-/_}-${ver}-*.whl" -print -quit)
  if [[ -n $f ]] && echo "$sha  $f" | sha256sum -c --status; then
    printf -v "$__var" '%s' "$f"; return 0
  fi
  [[ -n $f ]] && { log "cached $f has a wrong sha256, downloading again"; rm -f "$f"; }
  local py
  py=$(command -v python3 || command -v python) || die "python3 (for pip) not found"
  tmp=$(mktemp -d "$dir/.dl.XXXXXX")
  log "pip download $spec"
  if ! "$py" -m pip download --quiet --no-cache-dir --no-deps --only-binary :all: \
       "$@" -d "$tmp" "$spec" >&2; then
    rm -rf "$tmp"; die "pip download $spec failed"
  fi
  f=$(find "$tmp" -maxdepth 1 -name '*.whl' -print -quit)
  [[ -n $f ]] || { rm -rf "$tmp"; die "pip download $spec produced no wheel"; }
  if ! echo "$sha  $f" | sha256sum -c --status; then
    log "sha256 mismatch for $(basename "$f"): got $(sha256sum "$f" | cut -d' ' -f1), want $sha"
    rm -rf "$tmp"; die "refusing an unverified wheel"
  fi
  mv -f "$f" "$dir/"
  rm -rf "$tmp"
  printf -v "$__var" '%s' "$dir/$(basename "$f")"
}

# unzip_into WHEEL DIR: unpack a whole wheel atomically into DIR (replacing it).
unzip_into() {
  local whl=$1 dest=$2 tmp
  need unzip
  tmp=$(mktemp -d "$(dirname "$dest")/.unzip.XXXXXX")
  unzip -q -o "$whl" -d "$tmp" || { rm -rf "$tmp"; die "unzip $whl failed"; }
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

# port_open HOST PORT: true if something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# require_port_free HOST PORT [WAIT_S=5]: waits a little (a just-killed server's
# children may still hold the socket), then fails if the port is still taken.
require_port_free() {
  local i
  for ((i = 0; i < ${3:-5} * 10; i++)); do
    port_open "$1" "$2" || return 0
    sleep 0.1
  done
  die "port $1:$2 is already in use by another process (set the port variable to another value)"
}

# wait_gone PID [WAIT_S]: wait until PID no longer exists at all (zombies included).
wait_gone() {
  local i
  [[ $1 =~ ^[0-9]+$ ]] || return 0
  for ((i = 0; i < ${2:-10} * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# pid_alive PID [MARKER]: process exists and (if MARKER given) its command
# line contains MARKER, which guards against a recycled PID.
pid_alive() {
  local pid=$1 marker=${2:-}
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ -z $marker ]] && return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"
}

# proc_running PID: the process exists and is not a zombie. Used right after
# launching a child, whose command line only shows the marker once it has exec'd.
proc_running() {
  local st
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  st=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

# read_pid FILE: print the PID stored in FILE (first line), or nothing.
read_pid() { [[ -f $1 ]] && head -n1 "$1" | tr -dc '0-9'; true; }

# kill_pid PID MARKER [TIMEOUT_S]: SIGTERM, wait, then SIGKILL.
kill_pid() {
  local pid=$1 marker=$2 t=${3:-30} i
  pid_alive "$pid" "$marker" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < t * 10; i++)); do
    pid_alive "$pid" "$marker" || return 0
    sleep 0.1
  done
  log "PID $pid did not exit after ${t}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_alive "$pid" "$marker" || return 0
    sleep 0.1
  done
  die "PID $pid survived SIGKILL"
}

# wait_ready NAME PID LOGFILE MARKER TIMEOUT_S WHAT CHECK...: after launching NAME as PID, run the
# command CHECK... every 0.2 s until it succeeds, then log "ready: WHAT". If the process exits, or
# is not ready after TIMEOUT_S (it is then killed), show the end of LOGFILE and die.
wait_ready() {
  local name=$1 pid=$2 logfile=$3 marker=$4 timeout=$5 what=$6 i t0
  shift 6
  t0=$(now)
  for ((i = 0; i < timeout * 5; i++)); do
    if ! proc_running "$pid"; then
      show_log_tail "$logfile"
      die "$name exited during start-up"
    fi
    if "$@"; then
      log "ready: $what (PID $pid) after $(elapsed "$t0")s"
      return 0
    fi
    sleep 0.2
  done
  show_log_tail "$logfile"
  kill_pid "$pid" "$marker" 10
  die "$name not ready after ${timeout}s"
}

# stop_pidfile PIDFILE MARKER GRACE_S: stop the server whose PID is in PIDFILE if it is still the
# process with MARKER in its command line (SIGTERM, SIGKILL after GRACE_S); remove PIDFILE.
stop_pidfile() {
  local pid
  pid=$(read_pid "$1")
  if [[ -n $pid ]] && pid_alive "$pid" "$2"; then
    log "stopping PID $pid"
    kill_pid "$pid" "$2" "$3"
  fi
  rm -f "$1"
}

# write_env NAME VAR=VALUE...: write $RUN_DIR/NAME.env (export lines) and print it.
write_env() {
  local name=$1; shift
  local f="$RUN_DIR/$name.env" kv
  {
    echo "# written by scripts/services/$name.sh at $(date -Iseconds)"
    for kv in "$@"; do
      printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"
    done
  } >"$f.tmp"
  mv -f "$f.tmp" "$f"
  grep '^export ' "$f"
  log "env file: $f"
}

# show_log_tail FILE: dump the end of a log to stderr (used on failures).
show_log_tail() {
  [[ -f $1 ]] || return 0
  log "last lines of $1:"
  tail -n "${2:-40}" "$1" >&2 || true
}
