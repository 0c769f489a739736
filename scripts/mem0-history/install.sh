#!/usr/bin/env bash
# Installs the real mem0ai package at the version the seed plugin (Python v0.1.1) used, into a
# venv under /var/cache/mem0-dify (pip, from the Python registry), and prints the venv's python.
# Used to make a Mem0 history.db for the import-mem0-history test (make_history_db.py).
set -euo pipefail
MEM0AI_VERSION="1.0.1" # bench/python_seed/requirements.txt
CACHE="${MEM0_DIFY_CACHE:-/var/cache/mem0-dify}"
VENV="$CACHE/mem0ai-$MEM0AI_VERSION-venv"
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mem0ai') != '$MEM0AI_VERSION')" 2>/dev/null; then
  mkdir -p "$CACHE"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check "mem0ai==$MEM0AI_VERSION" >&2
fi
echo "$VENV/bin/python"
