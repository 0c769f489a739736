#!/usr/bin/env bash
# Installs what the console's browser test needs: Debian's chromium (apt-get, when missing) and
# playwright-core from the npm registry (pinned) into a cache folder. Prints the folder holding
# node_modules/playwright-core on stdout; exits non-zero with the reason on stderr when it cannot.
set -euo pipefail
PLAYWRIGHT_CORE_VERSION="1.49.1"
CACHE="${MEM0_DIFY_CACHE:-/var/cache/mem0-dify}/playwright-core-$PLAYWRIGHT_CORE_VERSION"

if ! command -v chromium >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium is not installed and apt-get is not available" >&2
    exit 1
  fi
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo -n"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } >&2 ||
    { echo "apt-get install chromium failed" >&2; exit 1; }
fi
command -v node >/dev/null 2>&1 || { echo "node is not installed" >&2; exit 1; }
if [[ ! -f "$CACHE/node_modules/playwright-core/package.json" ]]; then
  mkdir -p "$CACHE"
  (cd "$CACHE" && [[ -f package.json ]] || echo '{"private": true}' >"$CACHE/package.json")
  (cd "$CACHE" && npm install --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT_CORE_VERSION") >&2 ||
    { echo "npm install playwright-core@$PLAYWRIGHT_CORE_VERSION failed" >&2; exit 1; }
fi
echo "$CACHE"
