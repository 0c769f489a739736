#!/usr/bin/env bash
# Long fuzz run of every parser that sees outside data: the proptest properties of
# tests/it/reliability_fuzz.rs with FUZZ_SCALE times their `cargo test` case counts, in release mode.
# NOT part of the test command (it takes minutes to hours).
#
#   scripts/fuzz.sh [SCALE]        default SCALE=100 (about 1.6 million executions)
#   PROPTEST_CASES=N scripts/fuzz.sh   the same N cases for every property instead
#   FUZZ_PROFILE=dev scripts/fuzz.sh   a debug build (no release build needed; about 5x slower)
#
# Failures are saved by proptest in fuzz/regressions/<property>.txt and replayed first by every
# later run (including `cargo test`); commit them with the fix. Each run appends its figures to
# fuzz/RUNS.md (executions per property, failures).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scale=${1:-100}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
started=$(date +%s)
status=0
scope=${PROPTEST_CASES:+cases=$PROPTEST_CASES}
scope=${scope:-x$scale}
profile=()
[[ ${FUZZ_PROFILE:-release} == release ]] && profile=(--release)
FUZZ_SCALE=$scale cargo test "${profile[@]}" --test it reliability_fuzz:: -- --nocapture --test-threads 2 2>&1 | tee "$log" || status=$?
elapsed=$(( $(date +%s) - started ))
total=$(awk '/^fuzz [a-z_]+: [0-9]+ executions/ {s += $3} END {print s + 0}' "$log")
failed=$(grep -c '^property .* failed' "$log" || true)
per=$(awk '/^fuzz [a-z_]+: [0-9]+ executions/ {sub(":", "", $2); printf "%s%s %s", sep, $2, $3; sep=", "}' "$log")
header=0
[[ -f fuzz/RUNS.md ]] || header=1
{
  ((header)) && printf '# Fuzz runs\n\n| date | commit | profile | scale | executions | failures | time | per property |\n|---|---|---|---|---|---|---|---|\n'
  printf '| %s | %s | %s | %s | %s | %s | %ss | %s |\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(git rev-parse --short HEAD)" \
    "${FUZZ_PROFILE:-release}" "$scope" "$total" "$failed" "$elapsed" "$per"
} >>fuzz/RUNS.md
echo "fuzz: $total executions, $failed failing properties in ${elapsed}s (fuzz/RUNS.md)" >&2
exit "$status"
