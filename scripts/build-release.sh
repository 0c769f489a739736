#!/usr/bin/env bash
# Builds the static (musl), stripped release binaries of mem0-dify for the Dify package and, unless
# --no-package, the package itself:
#   dist/bin/linux-amd64/mem0-dify     always
#   dist/bin/linux-arm64/mem0-dify     when the aarch64 cross toolchain is available (see below)
#   dist/<name>-<version>.difypkg      via `mem0-dify package`
#
# Toolchains come from the registries: `rustup target add` for the Rust standard libraries,
# Debian's musl-tools (x86_64 musl C compiler, for the bundled SQLite and ring) and
# gcc-aarch64-linux-gnu (the aarch64 C compiler and linker; musl's libc comes with Rust's
# self-contained aarch64-unknown-linux-musl target). They are installed with apt-get when the script
# runs as root; otherwise install them first. Without the aarch64 compiler the arm64 binary is
# skipped with a message (the package then runs on amd64 hosts only).
#
# Options:
#   --arch amd64|arm64|all     which binaries (default all)
#   --example NAME             build an example instead of the mem0-dify binary (tests)
#   --out DIR                  output directory (default dist)
#   --no-package               only the binaries
set -euo pipefail
cd "$(dirname "$0")/.."

arch=all example="" out=dist package=1
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --example) example=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-package) package=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
case "$arch" in all) arches="amd64 arm64" ;; amd64|arm64) arches=$arch ;; *) echo "--arch amd64|arm64|all" >&2; exit 2 ;; esac

target_dir=${CARGO_TARGET_DIR:-target}
have() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
  if [ "$(id -u)" = 0 ] && have apt-get; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; }
  else
    return 1
  fi
}

build_one() {
  local a=$1 triple cc
  case "$a" in
    amd64) triple=x86_64-unknown-linux-musl; cc=musl-gcc; pkg=musl-tools ;;
    arm64) triple=aarch64-unknown-linux-musl; cc=aarch64-linux-gnu-gcc; pkg=gcc-aarch64-linux-gnu ;;
  esac
  rustup target add "$triple" >/dev/null
  if ! have "$cc"; then
    apt_install "$pkg" || true
  fi
  if ! have "$cc"; then
    if [ "$a" = arm64 ]; then
      echo "build-release: skipping arm64: no $cc (install Debian's $pkg)" >&2
      return 0
    fi
    echo "build-release: $cc not found; install Debian's $pkg" >&2
    exit 1
  fi
  local upper=${triple//-/_}
  upper=${upper^^}
  local what=(--bin mem0-dify) name=mem0-dify sub=""
  if [ -n "$example" ]; then what=(--example "$example"); name=$example; sub=examples/; fi
  echo "build-release: $a ($triple)" >&2
  # C dependencies (bundled SQLite, ring) are compiled by $cc; Rust links with its self-contained
  # musl C runtime, statically. Only the cross target needs another linker (musl-gcc as linker
  # would produce a dynamically linked binary).
  # For arm64 the C compiler is Debian's glibc cross compiler: SQLITE_DISABLE_LFS keeps the bundled
  # SQLite off the glibc-only *64 symbols (open64, fstat64, …) that musl does not export; off_t is
  # 64 bits on aarch64 anyway.
  local linker=()
  [ "$a" = arm64 ] && linker=("CARGO_TARGET_${upper}_LINKER=$cc" "CFLAGS_${triple//-/_}=-DSQLITE_DISABLE_LFS")
  env "CC_${triple//-/_}=$cc" "CARGO_TARGET_${upper}_RUSTFLAGS=-C target-feature=+crt-static" "${linker[@]}" \
    cargo build --release --locked --target "$triple" "${what[@]}"
  mkdir -p "$out/bin/linux-$a"
  cp "$target_dir/$triple/release/$sub$name" "$out/bin/linux-$a/mem0-dify"
  case "$a" in
    amd64) strip "$out/bin/linux-$a/mem0-dify" ;;
    arm64) aarch64-linux-gnu-strip "$out/bin/linux-$a/mem0-dify" 2>/dev/null || true ;;
  esac
  if have file && ! file "$out/bin/linux-$a/mem0-dify" | grep -q 'static'; then
    echo "build-release: $out/bin/linux-$a/mem0-dify is not statically linked:" >&2
    file "$out/bin/linux-$a/mem0-dify" >&2
    exit 1
  fi
  ls -l "$out/bin/linux-$a/mem0-dify" >&2
}

for a in $arches; do build_one "$a"; done

if [ "$package" = 1 ] && [ -z "$example" ]; then
  version=$(sed -n 's/^version: *//p' manifest.yaml | head -1)
  name=$(sed -n 's/^name: *//p' manifest.yaml | head -1)
  pkg="$out/${name:-mem0-dify}-${version:-dev}.difypkg"
  host="$out/bin/linux-amd64/mem0-dify"
  [ "$(uname -m)" = aarch64 ] && host="$out/bin/linux-arm64/mem0-dify"
  bins=()
  for a in amd64 arm64; do
    [ -f "$out/bin/linux-$a/mem0-dify" ] && bins+=("--$a" "$out/bin/linux-$a/mem0-dify")
  done
  "$host" package --root . --output "$pkg" "${bins[@]}"
  [ -f "$pkg" ] || { echo "build-release: $pkg was not written" >&2; exit 1; }
  ls -l "$pkg" >&2
fi
