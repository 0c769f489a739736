#!/usr/bin/env bash
# Runs the end-to-end tests against the real Dify plugin daemon (tests/it/dify_real_daemon.rs):
# installs and starts PostgreSQL, Redis and the daemon (daemon.sh), runs the tests, stops them.
# See daemon.sh for where the daemon binaries come from (cache / DIFY_DAEMON_BIN_DIR / Go proxy).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cleanup() { scripts/dify-daemon/daemon.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
scripts/dify-daemon/daemon.sh start >/dev/null
# shellcheck source=/dev/null
. "${MEM0_RUN_DIR:-/tmp/mem0-dify-services}/dify-daemon.env"
cargo test --test it dify_real_daemon:: -- --nocapture --test-threads=1 "$@"
