#!/usr/bin/env bash
# Installs the benchmark's Python side under $MEM0_CACHE_DIR/bench:
#   tools/   harness venv (uv, numpy, matplotlib, psycopg2) — never measured
#   seed/    the re-created seed plugin, unpacked like the Dify daemon does it, with its .venv
#            installed by `uv pip install -r requirements.txt` (pinned: mem0ai 1.0.1, dify_plugin 0.6.1)
# and records the seed's install timings/footprint in $BENCH_OUT/install_python.json.
#
#   bench/install.sh            install if missing (idempotent)
#   bench/install.sh --measure  also re-time a cold (empty uv cache) and warm install into scratch dirs
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${MEM0_CACHE_DIR:-/var/cache/mem0-dify}/bench
OUT=${BENCH_OUT:-$HERE/results}
log() { printf '[bench-install %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
find_py312() {
  local c
  for c in "${BENCH_PYTHON:-}" /usr/bin/python3.12 /usr/local/bin/python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 python3.12; do
    [[ -n $c ]] || continue
    if "$c" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then
      command -v "$c"; return 0
    fi
  done
  return 1
}
PY312=$(find_py312) || { log "need Python 3.12 (set BENCH_PYTHON)"; exit 1; }
export UV_PYTHON_DOWNLOADS=never PIP_DISABLE_PIP_VERSION_CHECK=1
mkdir -p "$CACHE" "$OUT"


TOOLS=$CACHE/tools
if [[ ! -x $TOOLS/bin/uv ]] || ! cmp -s "$HERE/requirements-tools.txt" "$TOOLS/.requirements"; then
  log "tools venv $TOOLS"
  rm -rf "$TOOLS"
  "$PY312" -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q -r "$HERE/requirements-tools.txt"
  cp "$HERE/requirements-tools.txt" "$TOOLS/.requirements"
fi
UV=$TOOLS/bin/uv

# The seed package as the daemon sees it: a directory of 0644 files, then `uv venv .venv --python 3.12`,
# `uv pip install -r requirements.txt`, `python -m compileall -x '\.venv|\.uv-cache' .`
install_plugin_dir() { # SRC DEST UV_CACHE -> prints "venv_s install_s compile_s"
  local src=$1 dest=$2 cache=$3 t0 t1 t2 t3
  rm -rf "$dest"; mkdir -p "$dest"
  (cd "$src" && tar cf - --exclude=.venv --exclude=__pycache__ --exclude='*.pyc' .) | (cd "$dest" && tar xf -)
  find "$dest" -type f -exec chmod 0644 {} +
  t0=$(now)
  (cd "$dest" && "$UV" venv -q --python "$PY312" .venv)
  t1=$(now)
  (cd "$dest" && VIRTUAL_ENV=$dest/.venv UV_CACHE_DIR=$cache "$UV" pip install -q -r requirements.txt) >&2
  t2=$(now)
  (cd "$dest" && .venv/bin/python -m compileall -q -x '\.venv|\.uv-cache' . >/dev/null 2>&1 || true)
  t3=$(now)
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN { printf "%.3f %.3f %.3f\n", b-a, c-b, d-c }'
}

SEED=$CACHE/seed
if [[ ! -x $SEED/.venv/bin/python ]] || ! cmp -s "$HERE/python_seed/requirements.txt" "$SEED/requirements.txt" \
   || [[ -n $(cd "$HERE/python_seed" && find . -newer "$SEED/.installed" -type f 2>/dev/null | head -1) ]]; then
  log "seed plugin $SEED"
  read -r v i c < <(install_plugin_dir "$HERE/python_seed" "$SEED" "$CACHE/uv-cache")
  touch "$SEED/.installed"
  log "seed installed (venv ${v}s, uv pip install ${i}s, compileall ${c}s)"
fi

if [[ ${1:-} == --measure ]]; then
  # Byte-compile the seed venv like a pip install would (the daemon does not; the baseline's
  # start figures were taken on a byte-compiled venv) — done once on the kept venv below.
  runs=()
  for kind in cold warm warm warm; do
    scratch=$CACHE/install-probe
    cache=$CACHE/uv-cache
    if [[ $kind == cold ]]; then cache=$CACHE/uv-cache-cold; rm -rf "$cache"; fi
    read -r v i c < <(install_plugin_dir "$HERE/python_seed" "$scratch" "$cache")
    bytes=$(du -sb "$scratch/.venv" | cut -f1)
    files=$(find "$scratch/.venv" -type f | wc -l)
    pkgs=$(VIRTUAL_ENV=$scratch/.venv "$UV" pip freeze 2>/dev/null | wc -l)
    log "$kind: venv ${v}s install ${i}s compileall ${c}s venv ${bytes} B ${files} files ${pkgs} packages"
    runs+=("{\"kind\":\"$kind\",\"venv_s\":$v,\"install_s\":$i,\"compileall_s\":$c,\"venv_bytes\":$bytes,\"venv_files\":$files,\"packages\":$pkgs}")
  done
  rm -rf "$CACHE/install-probe" "$CACHE/uv-cache-cold"
  pkg_bytes=$(cd "$HERE/python_seed" && find . -type f ! -name '*.pyc' ! -path '*/__pycache__/*' | sort | zip -q -X -@ /tmp/seed-pkg.$$.zip && stat -c %s /tmp/seed-pkg.$$.zip; rm -f /tmp/seed-pkg.$$.zip)
  (IFS=,; echo "{\"uv\":\"$("$UV" --version)\",\"python\":\"$("$PY312" -V 2>&1)\",\"package_bytes\":$pkg_bytes,\"runs\":[${runs[*]}]}") >"$OUT/install_python.json"
  log "wrote $OUT/install_python.json"
fi
# Byte-compile the kept seed venv (as pip would; keeps start times comparable with the baseline).
if [[ ! -f $SEED/.venv/.compiled ]]; then
  "$SEED/.venv/bin/python" -m compileall -q -j 2 "$SEED/.venv/lib" >/dev/null 2>&1 || true
  touch "$SEED/.venv/.compiled"
fi
echo "$PY312" >"$CACHE/python312"
echo "$TOOLS/bin/python"
