#!/usr/bin/env bash
# LoCoMo retrieval benchmark (issue 14): ingests the LoCoMo development conversations through the plugin
# binary over stdio (infer off, local all-MiniLM-L6-v2 embedder, embedded store), asks every question in the
# hybrid, semantic and lexical modes, and writes bench/results/locomo.json, BENCHMARKS.md's LoCoMo section
# and bench/plots/locomo_recall.png. Not part of the test command. See bench/README.md.
#
#   bench/locomo.sh                               # all five development conversations (~10 min on 2 cores)
#   bench/locomo.sh --conversations conv-30       # one conversation (a development iteration)
#
# Environment: MEM0_BENCH_RUST_BIN (the binary; default: `cargo build --release` and its mem0-dify),
# MEM0_LOCOMO_DIR (default ../shared/data/locomo beside the checkout), MEM0_TEST_MINILM_DIR (the model;
# default ~/.mem0-dify/models/all-MiniLM-L6-v2, installed with scripts/services/minilm.sh when missing).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=${MEM0_CACHE_DIR:-/var/cache/mem0-dify}/bench
log() { printf '[locomo %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

VENV=$CACHE/locomo-venv
if [[ ! -x $VENV/bin/python ]] || ! cmp -s "$HERE/requirements-locomo.txt" "$VENV/.requirements"; then
  log "plot venv $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$HERE/requirements-locomo.txt"
  cp "$HERE/requirements-locomo.txt" "$VENV/.requirements"
fi

BIN=${MEM0_BENCH_RUST_BIN:-}
if [[ -z $BIN ]]; then
  log "building the release binary"
  (cd "$ROOT" && cargo build --release --bin mem0-dify >&2)
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/mem0-dify
fi

MODEL=${MEM0_TEST_MINILM_DIR:-$HOME/.mem0-dify/models/all-MiniLM-L6-v2}
if [[ ! -f $MODEL/tokenizer.json ]]; then
  log "installing all-MiniLM-L6-v2 into $MODEL"
  "$ROOT/scripts/services/minilm.sh" install-to "$MODEL"
fi
DATA=${MEM0_LOCOMO_DIR:-$ROOT/../shared/data/locomo}

cd "$HERE"
"$VENV/bin/python" -m harness.locomo --binary "$BIN" --minilm "$MODEL" --data "$DATA" "$@"
"$VENV/bin/python" -m harness.locomo_report
