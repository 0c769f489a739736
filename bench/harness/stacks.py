"""The two plugins under test and how each is installed and started.

python: the seed re-creation installed by bench/install.sh ($MEM0_CACHE_DIR/bench/seed), started as the
        daemon starts it: `.venv/bin/python -m main` with cwd = plugin dir, INSTALL_METHOD=local.
rust:   either a package (`--rust-pkg` / MEM0_BENCH_RUST_PKG, a .difypkg zip) installed like the daemon
        does (extract with 0644 modes, `uv venv`, `uv pip install -r requirements.txt`, compileall) and
        started as `.venv/bin/python -m main`; or a binary (`--rust-bin` / MEM0_BENCH_RUST_BIN) started as
        `<bin> serve` directly.
Both get the same credentials (the seed's five JSON blocks + async_mode)."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass, field

from .driver import PluginProcess


@dataclass
class Stack:
    name: str
    argv: list[str]
    cwd: str | None
    env_extra: dict = field(default_factory=dict)
    install: dict = field(default_factory=dict)
    describe: str = ""
    direct: "Stack | None" = None  # the same plugin's binary started without the launcher, when packaged

    def spawn(self, scratch: str, tag: str, log_dir: str, env: dict | None = None) -> PluginProcess:
        """Start a fresh process with its own data dir (MEM0_DIR, HOME; also the cwd when `cwd` is None) and
        `env` on top (it may name another data dir, e.g. `MEM0_DIFY_DATA_DIR` of a store filled by an earlier
        process)."""
        data_dir = tempfile.mkdtemp(prefix=f"{self.name}-{tag}-", dir=scratch)
        env = {**os.environ, "INSTALL_METHOD": "local", "MEM0_TELEMETRY": "false", "MEM0_DIR": data_dir,
               "MEM0_DIFY_DATA_DIR": data_dir, "HOME": data_dir, **self.env_extra, **(env or {})}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return PluginProcess(self.argv, self.cwd or data_dir, env, os.path.join(log_dir, f"{self.name}-{tag}.log"))


def python_stack(cache: str) -> Stack:
    plugin = os.path.join(cache, "seed")
    py = os.path.join(plugin, ".venv", "bin", "python")
    if not os.path.exists(py):
        raise SystemExit(f"seed plugin not installed at {plugin}: run bench/install.sh")
    return Stack("python", [py, "-m", "main"], plugin, describe="seed re-creation (mem0ai 1.0.1 + dify_plugin 0.6.1)")


def _uv(cache: str) -> str:
    return os.path.join(cache, "tools", "bin", "uv")


def install_package(pkg: str, dest: str, cache: str, python: str) -> dict:
    """Install a .difypkg the way the daemon's local runtime does; returns timings and sizes."""
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    t0 = time.perf_counter()
    with zipfile.ZipFile(pkg) as z:
        for info in z.infolist():
            if info.is_dir():
                continue
            target = os.path.join(dest, info.filename)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            os.chmod(target, 0o644)
    t1 = time.perf_counter()
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
    subprocess.run([_uv(cache), "venv", "-q", "--python", python, ".venv"], cwd=dest, check=True, env=env)
    t2 = time.perf_counter()
    req = "requirements.txt" if os.path.exists(os.path.join(dest, "requirements.txt")) else None
    if req:
        subprocess.run([_uv(cache), "pip", "install", "-q", "-r", req], cwd=dest, check=True,
                       env=dict(env, VIRTUAL_ENV=os.path.join(dest, ".venv"),
                                UV_CACHE_DIR=os.path.join(cache, "uv-cache")))
    t3 = time.perf_counter()
    subprocess.run([os.path.join(dest, ".venv", "bin", "python"), "-m", "compileall", "-q", "-x", r"\.venv|\.uv-cache", "."],
                   cwd=dest, check=False, capture_output=True)
    t4 = time.perf_counter()
    import hashlib
    with open(pkg, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {"package_bytes": os.path.getsize(pkg), "package_sha256": digest, "extract_s": round(t1 - t0, 3), "venv_s": round(t2 - t1, 3),
            "install_s": round(t3 - t2, 3), "compileall_s": round(t4 - t3, 3), "total_s": round(t4 - t0, 3),
            "installed_bytes": _du(dest, exclude=".venv"), "venv_bytes": _du(os.path.join(dest, ".venv"))}


def _arch() -> str:
    import platform
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower(), "amd64")


def _du(path: str, exclude: str | None = None) -> int:
    total = 0
    for root, dirs, files in os.walk(path):
        if exclude and exclude in dirs:
            dirs.remove(exclude)
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def rust_stack(cache: str, pkg: str | None, binary: str | None, python: str) -> Stack | None:
    if pkg:
        dest = os.path.join(cache, "rust-plugin")
        info = install_package(pkg, dest, cache, python)
        st = Stack("rust", [os.path.join(dest, ".venv", "bin", "python"), "-m", "main"], dest, install=info,
                   describe=f"package {os.path.basename(pkg)} via `python -m main`")
        inner = os.path.join(dest, "bin", f"linux-{_arch()}", "mem0-dify")
        if os.path.exists(inner):
            os.chmod(inner, 0o755)  # what the launcher does on its first start
            st.direct = Stack("rust", [inner, "serve"], None, describe="the package's binary, `serve` without the launcher")
        return st
    if binary:
        binary = os.path.abspath(binary)
        return Stack("rust", [binary, "serve"], None,
                     install={"binary_bytes": os.path.getsize(binary)}, describe=f"binary {binary} serve")
    return None


def credentials(async_mode: bool, model_url: str, pg: dict, collection: str, dims: int) -> dict:
    """The seed's credential blocks, identical for both stacks."""
    return {
        "async_mode": async_mode,
        "local_llm_json": json.dumps({"provider": "openai", "config": {
            "model": "gpt-4o-mini", "api_key": "sk-bench", "openai_base_url": model_url}}),
        "local_embedder_json": json.dumps({"provider": "openai", "config": {
            "model": "text-embedding-3-small", "api_key": "sk-bench", "openai_base_url": model_url,
            "embedding_dims": dims}}),
        "local_vector_db_json": json.dumps({"provider": "pgvector", "config": {
            "dbname": pg["db"], "user": pg["user"], "password": pg["password"], "host": pg["host"],
            "port": int(pg["port"]), "collection_name": collection, "embedding_model_dims": dims}}),
    }
