"""Launcher of the mem0-dify Dify plugin.

The Dify plugin daemon starts a plugin with `python -m main` in the plugin directory, whose files
it extracted with mode 0644. This module replaces the Python process with the native runtime
(`os.execv`: same PID, same stdin/stdout/stderr and environment, so the daemon's pipes and its
SIGKILL reach the runtime directly) after restoring the binary's execute bit.

Where the binary is looked up, first match wins:
  1. MEM0_DIFY_BINARY, when set;
  2. bin/linux-<amd64|arm64>/mem0-dify next to this file (the packaged plugin);
  3. the newest of $CARGO_TARGET_DIR/{release,debug}/mem0-dify and target/{release,debug}/mem0-dify
     (debugging from a checkout: `.env` + `python -m main`).
Only `os` and `sys` are imported (start-up time counts: the daemon waits for the first
heartbeat); the package's requirements.txt lists no dependency.
"""

import os
import sys

BINARY = "mem0-dify"
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def _machine():
    return os.uname().machine.lower()


def _packaged(here):
    arch = _ARCH.get(_machine())
    if arch is None or not sys.platform.startswith("linux"):
        return []
    return [os.path.join(here, "bin", "linux-" + arch, BINARY)]


def _built(here):
    roots = [os.path.join(here, "target")]
    if os.environ.get("CARGO_TARGET_DIR"):
        roots.insert(0, os.environ["CARGO_TARGET_DIR"])
    found = []
    for root in roots:
        for profile in ("release", "debug"):
            path = os.path.join(root, profile, BINARY)
            if os.path.isfile(path):
                found.append(path)
    return sorted(found, key=os.path.getmtime, reverse=True)


def find_binary(here):
    """Returns the runtime binary to start, or None."""
    explicit = os.environ.get("MEM0_DIFY_BINARY")
    if explicit:
        return explicit if os.path.isfile(explicit) else None
    for path in _packaged(here):
        if os.path.isfile(path):
            return path
    built = _built(here)
    return built[0] if built else None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    exe = find_binary(here)
    packaged = sorted(os.listdir(os.path.join(here, "bin"))) if os.path.isdir(os.path.join(here, "bin")) else []
    if exe is None and packaged:
        sys.stderr.write(
            "mem0-dify: this package has no binary for %s/%s; it ships %s\n"
            % (sys.platform, _machine(), ", ".join(packaged))
        )
        sys.exit(1)
    if exe is None:
        sys.stderr.write(
            "mem0-dify: no runtime binary found (MEM0_DIFY_BINARY, bin/linux-<arch>/mem0-dify, "
            "target/{release,debug}/mem0-dify).\n"
            "Build it from the repository root with `cargo build --release`, or "
            "`scripts/build-release.sh` for the static binaries of the package, then run "
            "`python -m main` again.\n"
        )
        sys.exit(1)
    mode = os.stat(exe).st_mode
    if not mode & 0o100:
        # the daemon extracts package files with mode 0644: add u+x, g+x, o+x
        os.chmod(exe, mode | 0o111)
    os.execv(exe, [exe, "serve", *sys.argv[1:]])


if __name__ == "__main__":
    main()
