"""Runs the benchmark workloads against the selected stacks.

    python -m harness.run [--stacks python,rust]
                          [--only startup,async_add,sync_add,throughput,search,search_embedded,breakdown,growth]
                          [--sizes 1000,10000,100000] [--quick] [--rust-pkg P | --rust-bin B]

PostgreSQL comes from MEM0_TEST_PG_{HOST,PORT,USER,PASSWORD,DB} (scripts/services/postgres.sh start).
The fake model server (bench/fake-model; built with cargo unless BENCH_FAKE_MODEL names the binary) is
started here on a free loopback port, checked against harness/model_script.py's reference rules, and
stopped at the end."""
import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

from . import experiments as ex
from . import pgdata
from .cpu import cpu_model, postmaster_pid
from .corpus import build
from .fake_model_check import check, recorded
from .model_script import script_tables, write_script
from .stacks import python_stack, rust_stack

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ONLY = "startup,async_add,sync_add,throughput,search,search_embedded,breakdown"  # a full run (`growth`: its own)


class _Group:
    """Several stacks run together by one experiment (interleaved searches); `name` labels failures."""

    def __init__(self, name, stacks):
        self.name, self.stacks = name, stacks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_from_env() -> dict:
    keys = {"host": "MEM0_TEST_PG_HOST", "port": "MEM0_TEST_PG_PORT", "user": "MEM0_TEST_PG_USER",
            "password": "MEM0_TEST_PG_PASSWORD", "db": "MEM0_TEST_PG_DB"}
    missing = [v for v in keys.values() if not os.environ.get(v)]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: run `eval \"$(scripts/services/postgres.sh start)\"` first")
    return {k: os.environ[v] for k, v in keys.items()}


def fake_model_binary(cache: str) -> str:
    """The model server (bench/fake-model): $BENCH_FAKE_MODEL, else built here with cargo (release, into
    $CARGO_TARGET_DIR or <cache>/fake-model-target; a no-op when it is up to date)."""
    given = os.environ.get("BENCH_FAKE_MODEL")
    if given:
        return given
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(cache, "fake-model-target")
    manifest = os.path.join(HERE, "fake-model", "Cargo.toml")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", manifest, "--target-dir", target],
                   check=True, stdout=sys.stderr)
    return os.path.join(target, "release", "bench-fake-model")


def start_model_server(binary: str, corpus: dict, scratch: str, dims: int, log_dir: str, threads: int,
                       record: str | None = None):
    """Starts the model server on the corpus's script and holds it to the reference rules
    (harness.fake_model_check) before anything is measured."""
    script_path = os.path.join(scratch, "model_script.json")
    write_script(corpus, script_path)
    port = free_port()
    log = open(os.path.join(log_dir, "fake_model.log"), "ab")
    proc = subprocess.Popen([binary, "--port", str(port), "--script", script_path, "--dims", str(dims),
                             "--threads", str(threads)] + (["--record", record] if record else []), stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/admin/stats", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("fake model server exited; see fake_model.log")
            time.sleep(0.05)
    else:
        raise SystemExit("fake model server did not come up")
    diffs = check(url, script_tables(corpus))
    if diffs:
        proc.terminate()
        raise SystemExit("the model server's answers differ from harness/model_script.py's reference:\n"
                         + "\n".join(diffs))
    print(f"fake model server {binary} on {url}: agrees with the reference rules", flush=True)
    return proc, url


def machine_info(pg: dict) -> dict:
    info = {"python_harness": platform.python_version(), "kernel": platform.release(), "cores": os.cpu_count(),
            "cpu": cpu_model()}
    try:
        with open("/proc/meminfo") as f:
            info["mem_gib"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
        with open("/etc/os-release") as f:
            info["os"] = next((l.split("=", 1)[1].strip().strip('"') for l in f if l.startswith("PRETTY_NAME")), "?")
    except OSError:
        pass
    try:
        conn = pgdata.connect(pg)
        with conn.cursor() as cur:
            cur.execute("SELECT version(), (SELECT extversion FROM pg_extension WHERE extname='vector')")
            info["postgres"], info["pgvector"] = cur.fetchone()
        conn.close()
    except Exception as e:  # noqa: BLE001
        info["postgres"] = f"unavailable: {e}"
    for cmd, key in ((["rustc", "--version"], "rustc"), (["git", "-C", HERE, "rev-parse", "--short", "HEAD"], "commit")):
        try:
            info[key] = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stacks", default="python,rust")
    ap.add_argument("--only", default=DEFAULT_ONLY)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--dims", type=int, default=int(os.environ.get("BENCH_DIMS", "384")))
    ap.add_argument("--no-exact-variant", action="store_true",
                    help="skip the Python search on the same table without its HNSW index (equal-recall reference)")
    ap.add_argument("--delays", default="0,200", help="fixed model latencies (ms) for the add experiments")
    ap.add_argument("--quick", action="store_true", help="fewer runs/adds/queries, 0 ms model only (smoke test)")
    ap.add_argument("--out", default=os.environ.get("BENCH_OUT", os.path.join(HERE, "results")))
    ap.add_argument("--cache", default=os.path.join(os.environ.get("MEM0_CACHE_DIR", "/var/cache/mem0-dify"), "bench"))
    ap.add_argument("--rust-pkg", default=os.environ.get("MEM0_BENCH_RUST_PKG"))
    ap.add_argument("--rust-bin", default=os.environ.get("MEM0_BENCH_RUST_BIN"))
    ap.add_argument("--model-record", metavar="FILE",
                    help="record every model request the plugins send, and at the end replay them against the "
                         "server and the reference rules (harness.fake_model_check)")
    ap.add_argument("--model-threads", type=int, default=os.cpu_count() or 2,
                    help="worker threads of the model server (default: one per core)")
    ap.add_argument("--async-window", type=int, default=16,
                    help="adds in flight in async_add_0ms_pipelined (the throughput figure; 1 = skip it); the "
                         "async_add_*ms experiments send one at a time (their ACK is the plugin's own)")
    ap.add_argument("--async-adds", type=int, default=200, help="adds per async run (default 200; --quick: 40)")
    ap.add_argument("--noise-limit", type=float, default=0.10,
                    help="cores other processes may use during a measurement before it is marked noisy (default 0.10)")
    ap.add_argument("--require-quiet", action="store_true",
                    help="refuse to publish a noisy measurement (kept as <name>.noisy.json; the run fails)")
    ap.add_argument("--python312", default=os.environ.get("BENCH_PYTHON"),
                    help="Python 3.12 for a package's venv (default: the one bench/install.sh found)")
    # Growth to 1M memories (issue 18; Rust only; `--only growth --sizes 1000,100000,1000000`): harness/growth.py.
    ap.add_argument("--growth-queries", type=int, default=200, help="growth: searches per size (each in both modes)")
    ap.add_argument("--growth-adds", type=int, default=20, help="growth: sync adds per size")
    ap.add_argument("--growth-migrate", default="", help="growth: sizes at which to also time the plugin's first "
                                                         "open of the rows in Mem0's layout (migration), e.g. 100000")
    ap.add_argument("--growth-migrate-wait", type=float, default=300.0, help="growth: longest wait for that reply (s)")
    ap.add_argument("--growth-migrate-fill-wait", type=float, default=900.0,
                    help="growth: longest wait for the plugin's background fill of the terms after that reply (s)")
    # The embedded store beside pgvector (issue 18; Rust only; `--only search_embedded`): experiments.exp_search_embedded.
    ap.add_argument("--embedded-max-size", type=int, default=10000,
                    help="search_embedded: run only at the sizes of --sizes up to this one (default 10000: the store "
                         "is filled through the plugin, ~1 min per 10k memories; 0 = every size)")
    ap.add_argument("--growth-hnsw-max", type=int, default=None, help="growth: build the HNSW index only up to this size")
    a = ap.parse_args()

    if not a.python312:
        found = os.path.join(a.cache, "python312")
        a.python312 = open(found).read().strip() if os.path.exists(found) else (shutil.which("python3.12") or "python3.12")
    only = set(a.only.split(","))
    pg = pg_from_env()
    os.makedirs(a.out, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="mem0-bench-")
    log_dir = os.path.join(a.out, "logs")
    os.makedirs(log_dir, exist_ok=True)

    stacks = []
    for name in a.stacks.split(","):
        if name == "python":
            stacks.append(python_stack(a.cache))
        elif name == "rust":
            st = rust_stack(a.cache, a.rust_pkg, a.rust_bin, a.python312)
            if st is None:
                print("rust stack skipped: give --rust-pkg/MEM0_BENCH_RUST_PKG or --rust-bin/MEM0_BENCH_RUST_BIN",
                      flush=True)
                continue
            stacks.append(st)
            with open(os.path.join(a.out, "install_rust.json"), "w") as f:
                json.dump({"describe": st.describe, **st.install}, f, indent=1)
    if not stacks:
        raise SystemExit("no stack to run")

    corpus = build(users=2000, turns_per_user=6)
    if a.model_record and os.path.exists(a.model_record):
        os.remove(a.model_record)
    model_proc, model_url = start_model_server(fake_model_binary(a.cache), corpus, scratch, a.dims, log_dir,
                                               a.model_threads, a.model_record)
    conn = pgdata.connect(pg)
    pg_pid = postmaster_pid(conn)
    conn.close()
    ctx = ex.Ctx(a.out, scratch, log_dir, model_url, pg, a.dims, model_pid=model_proc.pid, pg_pid=pg_pid,
                 noise_limit=a.noise_limit, require_quiet=a.require_quiet)
    q = a.quick
    info = machine_info(pg)
    info.update(dims=a.dims, quick=q, noise_limit_cores=a.noise_limit, require_quiet=a.require_quiet,
                started=time.strftime("%Y-%m-%dT%H:%M:%S%z"), command=" ".join(sys.argv),
                stacks=[s.describe for s in stacks], fake_model="bench/fake-model (Rust)")
    failures = []

    def attempt(stack, label, fn, *args, **kw):
        """Run one experiment; a failure is recorded (results/<stack>/<name>.error.json) and the run goes on."""
        try:
            fn(ctx, stack.stacks if isinstance(stack, _Group) else stack, *args, **kw)
        except Exception as e:  # noqa: BLE001 — any failure of a stack under test is a result to report
            failures.append(f"{stack.name}/{label}: {e}")
            traceback.print_exc()
            for st in stack.stacks if isinstance(stack, _Group) else [stack]:
                d = os.path.join(a.out, st.name)
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, f"{label}.error.json"), "w") as f:
                    json.dump({"experiment": label, "error": str(e), "traceback": traceback.format_exc()}, f, indent=1)

    try:
        for st in stacks:
            if "startup" in only:
                attempt(st, "startup", ex.exp_startup, runs=2 if q else 5, idle_s=2.0 if q else 5.0)
                if st.direct is not None:
                    attempt(st.direct, "startup_direct", ex.exp_startup, runs=2 if q else 5, idle_s=2.0 if q else 5.0,
                            name="startup_direct")
            delays = [0] if q else [int(x) for x in a.delays.split(",")]
            for delay in delays:
                if "async_add" in only:
                    attempt(st, f"async_add_{delay}ms", ex.exp_async_add, n=40 if q else a.async_adds,
                            runs=1 if q or delay else 3, delay_ms=delay)
                    if delay == 0 and a.async_window > 1:  # the throughput when sending never paces the applying
                        attempt(st, "async_add_0ms_pipelined", ex.exp_async_add, n=40 if q else a.async_adds,
                                runs=1 if q else 3, delay_ms=0, window=a.async_window, name="async_add_0ms_pipelined")
                if "sync_add" in only:
                    attempt(st, f"sync_add_{delay}ms", ex.exp_sync_add, users=5 if q else (20 if delay == 0 else 10),
                            turns=3 if q else 5, delay_ms=delay)
            if "throughput" in only:
                attempt(st, "sync_throughput_c8", ex.exp_sync_throughput, sessions=8, n=32 if q else 160)
        for size in [int(x) for x in a.sizes.split(",")] if only & {"search", "search_embedded"} else []:
            nq = 50 if q else 200
            seeded = None
            if "search" in only:
                seeded = pgdata.seed_table(pg, "bench_search", size, a.users, a.dims)
                seeded["table"] = "bench_search"
                seeded["tables"] = {st.name: ("bench_search" if st.name == "python" else f"bench_search_{st.name}")
                                    for st in stacks}
                for st in stacks:
                    if seeded["tables"][st.name] != "bench_search":
                        pgdata.clone_table(pg, "bench_search", seeded["tables"][st.name], a.dims)
                print(f"seeded {seeded['info']}", flush=True)
                both = "+".join(st.name for st in stacks)
                attempt(_Group(both, stacks), f"search_{size}", ex.exp_search, size, seeded, users=a.users, queries=nq)
                probe_table = next((t for n, t in seeded["tables"].items() if n != "python"), "bench_search")
                probe = pgdata.probe_exact_query(pg, probe_table, a.dims, a.users)
                tables_path = os.path.join(a.out, "tables.json")
                tables = json.load(open(tables_path)) if os.path.exists(tables_path) else {}
                tables[str(size)] = {**seeded["info"], "exact_query_probe": probe}
                with open(tables_path, "w") as f:
                    json.dump(tables, f, indent=1)
                print(f"exact per-user query in PostgreSQL at {size}: {probe}", flush=True)
                py = next((st for st in stacks if st.name == "python"), None)
                if py is not None and not a.no_exact_variant:
                    # Mem0 at equal recall: the same table without its HNSW index (`"hnsw": false`), so its
                    # filtered query is an exact scan; the other stacks run again beside it on that table.
                    plan = pgdata.drop_hnsw(pg, "bench_search", a.dims)
                    exact = dict(seeded, info=dict(seeded["info"], mem0_query_plan=plan, hnsw_dropped=True))
                    names = [f"search_{size}_exact" if st.name == "python" else f"search_{size}_beside_exact"
                             for st in stacks]
                    attempt(_Group(both, stacks), f"search_{size}_exact", ex.exp_search, size, exact, users=a.users,
                            queries=nq, names=names)
            if "search_embedded" in only:
                # The plugin's embedded store beside pgvector (issue 18): the same memories, users and queries.
                rust = next((st for st in stacks if st.name == "rust"), None)
                if rust is None:
                    print("search_embedded: skipped (Rust only: the embedded store is the plugin's)", flush=True)
                elif a.embedded_max_size and size > a.embedded_max_size:
                    print(f"search_embedded: {size} skipped (above --embedded-max-size {a.embedded_max_size})", flush=True)
                else:
                    if seeded is None:
                        seeded = pgdata.seed_table(pg, "bench_search", size, a.users, a.dims)
                        print(f"seeded {seeded['info']}", flush=True)
                    pgdata.clone_table(pg, "bench_search", "bench_search_embedded_pg", a.dims)
                    attempt(rust, f"search_embedded_{size}", ex.exp_search_embedded, size,
                            dict(seeded, table="bench_search_embedded_pg"), users=a.users, queries=nq,
                            window=a.async_window)
        if "breakdown" in only:  # where the own time goes (issue 18): separate runs with span timings on
            from . import breakdown
            for st in stacks:
                if st.name != "rust":
                    print(f"breakdown: {st.name} skipped (Rust only: the span timings are the plugin's)", flush=True)
                    continue
                attempt(st, "breakdown", breakdown.run_breakdown, n=40 if q else 100, sync_users=5 if q else 10)
        if "growth" in only:
            from . import growth
            for st in stacks:
                if st.name != "rust":
                    print(f"growth: {st.name} skipped (Rust only)", flush=True)
                    continue
                sizes = [int(x) for x in a.sizes.split(",")]
                attempt(st, "growth", growth.run_growth, sizes, 50 if q else a.growth_queries, 5 if q else a.growth_adds,
                        {int(x) for x in a.growth_migrate.split(",") if x}, a.growth_migrate_wait, a.growth_hnsw_max,
                        a.growth_migrate_fill_wait)
        if a.model_record:  # the plugins' own prompts, answered again by the server and by the reference
            size = os.path.getsize(a.model_record)
            reqs = recorded(a.model_record)
            diffs = check(model_url, script_tables(corpus), reqs=reqs)
            os.truncate(a.model_record, size)  # the replay was recorded too
            print(f"replayed {len(reqs)} recorded model requests: "
                  + (f"{len(diffs)} answers differ from the reference" if diffs else "all agree"), flush=True)
            if diffs:
                failures.append("model server vs reference on the recorded requests:\n    " + "\n    ".join(diffs[:5]))
    finally:
        model_proc.terminate()
        model_proc.wait(10)
        shutil.rmtree(scratch, ignore_errors=True)
    info["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    prev = {}
    path = os.path.join(a.out, "machine.json")
    if os.path.exists(path):
        with open(path) as f:
            prev = json.load(f)
    key = ",".join(s.name for s in stacks)
    if only != set(DEFAULT_ONLY.split(",")):
        key += f" (only {a.only})"
    prev[key] = info
    with open(path, "w") as f:
        json.dump(prev, f, indent=1)
    if failures:
        print("FAILED experiments:\n  " + "\n  ".join(failures), flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
