#!/usr/bin/env bash
# Benchmark of mem0-dify (Rust) beside the Python plugin it replaces. Not part of the test suite.
#
#   bench/run.sh [harness args...]       e.g. --stacks python   --only search --sizes 1000,10000   --quick
#
# Rust side (optional; skipped when neither is set):
#   MEM0_BENCH_RUST_BIN=/path/to/mem0-dify      started as `mem0-dify serve`
#   MEM0_BENCH_RUST_PKG=/path/to/x.difypkg      installed like the daemon does, started as `python -m main`
# Other env: MEM0_CACHE_DIR (default /var/cache/mem0-dify; venvs under $MEM0_CACHE_DIR/bench),
#   BENCH_OUT (default bench/results), BENCH_PG_PORT (55491), BENCH_RUN_DIR, BENCH_KEEP_PG=1 (leave Postgres up),
#   BENCH_MEASURE_INSTALL=1 (re-time the Python install even if bench/results/install_python.json exists).
# Writes bench/results/**.json, BENCHMARKS.md and bench/plots/search_latency_vs_size.png.
set -euo pipefail
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
rc=0
started=$(date -u +%Y-%m-%dT%H:%MZ)
"$TOOLS_PY" -m harness.run "$@" || rc=$?
history=()
[[ $rc == 0 ]] && history=(--record-history "$started" --history-what "bench/run.sh ${*:-(all)}")
"$TOOLS_PY" -m harness.report --results "$BENCH_OUT" "${history[@]}"
exit $rc
