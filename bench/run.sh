#!/usr/bin/env bash
# Benchmark of mem0-dify (Rust) beside the Python plugin it replaces. Not part of the test suite.
#
#   bench/run.sh [--repeat N] [harness args...]   e.g. --stacks python   --only search --sizes 1000,10000   --quick
#   --repeat N: N full runs (bench/results/repeat/<i>), BENCHMARKS.md from their median with the spread
#   Harness flags of note (python -m harness.run --help): --require-quiet, --noise-limit CORES, --async-window N
#
# Rust side (optional; skipped when neither is set):
#   MEM0_BENCH_RUST_BIN=/path/to/mem0-dify      started as `mem0-dify serve`
#   MEM0_BENCH_RUST_PKG=/path/to/x.difypkg      installed like the daemon does, started as `python -m main`
# Other env: MEM0_CACHE_DIR (default /var/cache/mem0-dify; venvs under $MEM0_CACHE_DIR/bench),
#   BENCH_OUT (default bench/results), BENCH_PG_PORT (55491), BENCH_RUN_DIR, BENCH_KEEP_PG=1 (leave Postgres up),
#   BENCH_MEASURE_INSTALL=1 (re-time the Python install even if bench/results/install_python.json exists),
#   BENCH_FAKE_MODEL (the model server binary; default: bench/fake-model built with cargo into
#   $CARGO_TARGET_DIR, else $MEM0_CACHE_DIR/bench/fake-model-target).
# Writes bench/results/**.json, BENCHMARKS.md and bench/plots/search_latency_vs_size.png.
set -euo pipefail
repeat=1 args=()
while (($#)); do
  case $1 in
    --repeat) repeat=${2:?--repeat needs a count}; shift 2 ;;
    --repeat=*) repeat=${1#--repeat=}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ $repeat =~ ^[1-9][0-9]*$ ]] || { echo "--repeat $repeat: expected a positive count" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
export BENCH_OUT=${BENCH_OUT:-$HERE/results}
mkdir -p "$BENCH_OUT"

measure=()
if [[ ! -f $BENCH_OUT/install_python.json || ${BENCH_MEASURE_INSTALL:-0} == 1 ]]; then measure=(--measure); fi
TOOLS_PY=$("$HERE/install.sh" "${measure[@]}")
export BENCH_PYTHON=${BENCH_PYTHON:-$(cat "${MEM0_CACHE_DIR:-/var/cache/mem0-dify}/bench/python312")}

# Our own Postgres cluster (own run dir and port), so other users of scripts/services are not disturbed.
export MEM0_RUN_DIR=${BENCH_RUN_DIR:-${TMPDIR:-/tmp}/mem0-bench-services} MEM0_PG_PORT=${BENCH_PG_PORT:-55491}
eval "$("$ROOT/scripts/services/postgres.sh" start)"
stop_pg() { [[ ${BENCH_KEEP_PG:-0} == 1 ]] || "$ROOT/scripts/services/postgres.sh" stop || true; }
trap stop_pg EXIT

cd "$HERE"
"$TOOLS_PY" -m unittest -q harness.test_harness  # the harness's own bookkeeping (CPU shares, noisy, medians, report)
rc=0
started=$(date -u +%Y-%m-%dT%H:%MZ)
if ((repeat > 1)); then
  # N full runs into $BENCH_OUT/repeat/<i>, then their median (with the spread) into $BENCH_OUT.
  rm -rf "$BENCH_OUT/repeat"
  sets=()
  for i in $(seq 1 "$repeat"); do
    mkdir -p "$BENCH_OUT/repeat/$i"
    "$TOOLS_PY" -m harness.run --out "$BENCH_OUT/repeat/$i" "${args[@]}" || rc=$?
    sets+=("$BENCH_OUT/repeat/$i")
  done
  "$TOOLS_PY" -m harness.aggregate --out "$BENCH_OUT" "${sets[@]}"
else
  "$TOOLS_PY" -m harness.run "${args[@]}" || rc=$?
fi
history=()
what="bench/run.sh ${args[*]:-(all)}"
((repeat > 1)) && what+=" (median of $repeat runs)"
[[ $rc == 0 ]] && history=(--record-history "$started" --history-what "$what")
"$TOOLS_PY" -m harness.report --results "$BENCH_OUT" "${history[@]}"
exit $rc
