#!/usr/bin/env bash
# The console's browser test (tests/browser/console.test.mjs): real headless Chromium driven by
# playwright-core against `mem0-dify console` on loopback. Exit 0 passed, 1 failed, 3 not run
# (the reason printed as "NOT RUN: browser test — <reason>"). Screenshots in
# ${MEM0_TEST_ARTIFACTS:-test-artifacts}/browser/.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
target=${CARGO_TARGET_DIR:-target}
binary=${MEM0_DIFY_BIN:-$target/debug/mem0-dify}
if [[ ! -x $binary ]]; then
  cargo build --bin mem0-dify >&2 || { echo "NOT RUN: browser test — cannot build mem0-dify"; exit 3; }
fi
if ! modules=$(scripts/browser/install.sh 2>"${TMPDIR:-/tmp}/mem0-dify-browser-install.log"); then
  reason=$(grep -v '^\s*$' "${TMPDIR:-/tmp}/mem0-dify-browser-install.log" | tail -n 1)
  echo "NOT RUN: browser test — ${reason:-the browser could not be installed}"
  exit 3
fi
artifacts=${MEM0_TEST_ARTIFACTS:-test-artifacts}/browser
mkdir -p "$artifacts"
PLAYWRIGHT_HOME="$modules" MEM0_DIFY_BIN="$binary" MEM0_TEST_ARTIFACTS_DIR="$artifacts" \
  CHROMIUM="$(command -v chromium)" node tests/browser/console.test.mjs
