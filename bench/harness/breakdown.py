"""Where the plugin's own time goes (issue 18): a separate short run per operation (async add ACK, sync add,
search) with the plugin's span timings on (`MEM0_DIFY_SPAN_TIMINGS`, src/adapters/span_timings.rs), so the figures
of the other experiments are never measured while spans are collected. Rust only.

Per operation: a fresh process, a warm-up call, SIGUSR1 (the plugin writes what it timed so far and starts again
from zero, so the warm-up's connection set-up is left out), `n` operations one at a time, then stdin closed (the
plugin writes the last timings as it exits). The span totals of the request path (and, for a sync add, of the
background write that applies it) are divided by `n` and grouped into phases (PHASES); the model server's own
time is taken off the model round trips; `rest` is the operation's own time (latency − model time, as the driver
measured it) minus every phase: what no span covers (the pipes, task hand-overs, the app's own bookkeeping,
waiting for the writer)."""
import json
import os
import signal
import time

from . import pgdata
from .corpus import conversation, user_id
from .experiments import Model, _check, add_params, dist_ms, first_turns, search_queries, wait_rows
from .stacks import Stack

VARIABLE = "MEM0_DIFY_SPAN_TIMINGS"
# The calls into a store (each holds its pool checkouts and statements); SQL = their time − the checkouts in them.
STORE_CALLS = ("app.retrieve", "app.journal", "app.find_by_hash", "app.candidates", "app.apply", "app.save_plan",
               "app.finish")
# (key, label, span names whose time it is); "sql" and "rest" are computed.
PHASES = [
    ("read_parse", "protocol read + parse", ("dify.read", "dify.parse_line", "dify.parse_data")),
    ("validation", "validation (credentials, parameters)", ("dify.credentials", "dify.params")),
    ("embed", "embedding round trip − model time", ("app.embed",)),
    ("llm", "LLM round trip − model time", ("app.llm",)),
    ("checkout", "pool checkout", ("pg.checkout",)),
    ("sql", "SQL (store calls − checkout)", ()),
    ("shape", "result shaping", ("dify.shape",)),
    ("reply", "reply encode + write", ("dify.encode", "dify.write")),
    ("rest", "rest (no span)", ()),
]
# The roots of the span paths that belong to an operation: the request path (the reader's hand-over, the line's
# parse and the stdout writer are roots of their own); a sync add also waits for the background write.
REQUEST_ROOTS = ("dify.read", "dify.parse_line", "dify.session", "dify.write")
SYNC_ROOTS = REQUEST_ROOTS + ("write",)


def _sum(paths: dict, roots, names, under=None) -> float:
    """Total ms of the spans named `names` (the path's last name) whose path starts at one of `roots` (and passes
    through one of `under`, when given)."""
    total = 0.0
    for path, stats in paths.items():
        parts = path.split("/")
        if parts[0] in roots and parts[-1] in names and (under is None or any(u in parts[:-1] for u in under)):
            total += stats["total_ms"]
    return total


def phases(report: dict, ops: int, roots, own_ms: float, model_ms: dict) -> dict:
    """ms per operation of each phase (PHASES' keys) from a span timings report over `ops` operations."""
    paths = report.get("paths", {})
    per = {key: _sum(paths, roots, names) / ops for key, _, names in PHASES if names}
    per["embed"] = max(0.0, per["embed"] - model_ms.get("embed", 0.0))
    per["llm"] = max(0.0, per["llm"] - model_ms.get("llm", 0.0))
    store = _sum(paths, roots, STORE_CALLS) / ops
    checkout_in_store = _sum(paths, roots, ("pg.checkout",), under=STORE_CALLS) / ops
    per["sql"] = max(0.0, store - checkout_in_store)
    statements = _sum(paths, roots, ("pg.query",)) / ops
    accounted = sum(v for k, v in per.items())
    per["rest"] = own_ms - accounted
    out = {k: round(per[k], 4) for k, _, _ in PHASES}
    out.update(own_ms=round(own_ms, 4), store_calls_ms=round(store, 4), pg_query_spans_ms=round(statements, 4))
    return out


def _restart(p, path: str, timeout: float = 20.0):
    """SIGUSR1, then wait for the plugin's first timings file (the warm-up's), so what follows is counted alone."""
    os.kill(p.pid, signal.SIGUSR1)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        try:
            with open(path) as f:
                if json.load(f).get("generation") == 0:
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise RuntimeError(f"the plugin wrote no span timings to {path} after SIGUSR1 (a build without span timings?)")


def _last(path: str) -> dict:
    with open(path) as f:
        report = json.load(f)
    if not report.get("last") or report.get("generation") != 1:
        raise RuntimeError(f"{path}: expected the last timings after one restart, got generation "
                           f"{report.get('generation')} last={report.get('last')}")
    return report


def _model_ms(diff: dict) -> dict:
    return {"embed": diff.get("embed", {}).get("server_ms", 0.0),
            "llm": Model.total(diff, "server_ms", ("llm_extract", "llm_update"))}


def _timed(ctx, p, request: dict, what: str, latencies: list, model: dict):
    """One call: its latency appended, the model server's time during it added to `model` (per kind)."""
    before = ctx.model.stats()
    s = p.call(request)
    spent = _model_ms(Model.diff(ctx.model.stats(), before))
    _check(s, what)
    latencies.append(s.latency)
    for kind in model:
        model[kind] += spent[kind]


def _spawn(ctx, stack: Stack, tag: str):
    path = os.path.join(ctx.scratch, f"spans_{tag}.json")
    if os.path.exists(path):
        os.remove(path)
    p = stack.spawn(ctx.scratch, tag, ctx.log_dir, env={VARIABLE: path})
    p.wait_heartbeat()
    return p, path


def _async_add(ctx, stack: Stack, n: int) -> dict:
    table = "bench_breakdown_add"
    conn = pgdata.connect(ctx.pg)
    pgdata.drop(conn, table)
    turns = first_turns(ctx, range(3000, 3000 + n))
    p, path = _spawn(ctx, stack, "breakdown_async_add")
    try:
        creds = ctx.creds(True, table)
        warm = conversation(3900, 1, ctx.seed)[0]
        _check(p.call(p.tool(creds, "add_memory", add_params(warm))), "warm-up add")
        if wait_rows(conn, table, len(warm["facts"]), timeout=120)[0] is None:
            raise RuntimeError("warm-up add never applied")
        _restart(p, path)
        acks = []
        for turn in turns:
            s = p.call(p.tool(creds, "add_memory", add_params(turn)))
            _check(s, "async add")
            acks.append(s.latency)
        wait_rows(conn, table, len(warm["facts"]) + sum(len(t["facts"]) for t in turns), timeout=300)
    finally:
        p.stop()
        conn.close()
    own = sum(acks) * 1000 / n  # the ACK calls no model
    return {"ops": n, "latency": dist_ms(acks), "model_ms": {}, "phases": phases(_last(path), n, REQUEST_ROOTS, own, {}),
            "spans": _last(path)["spans"]}


def _sync_add(ctx, stack: Stack, users: int, turns: int) -> dict:
    table = "bench_breakdown_add"
    conn = pgdata.connect(ctx.pg)
    pgdata.drop(conn, table)
    convs = {u: conversation(4000 + u, turns, ctx.seed) for u in range(users)}
    p, path = _spawn(ctx, stack, "breakdown_sync_add")
    lat, model = [], {"embed": 0.0, "llm": 0.0}
    try:
        creds = ctx.creds(False, table)
        _check(p.call(p.tool(creds, "add_memory", add_params(conversation(4900, 1, ctx.seed)[0]))), "warm-up sync add")
        _restart(p, path)
        for t in range(turns):
            for u in range(users):
                if t >= len(convs[u]):
                    continue
                _timed(ctx, p, p.tool(creds, "add_memory", add_params(convs[u][t])), "sync add", lat, model)
    finally:
        p.stop()
        conn.close()
    n = len(lat)
    model = {k: v / n for k, v in model.items()}
    own = sum(lat) * 1000 / n - sum(model.values())
    report = _last(path)
    return {"ops": n, "latency": dist_ms(lat), "model_ms": model, "phases": phases(report, n, SYNC_ROOTS, own, model),
            "spans": report["spans"]}


def _search(ctx, stack: Stack, size: int, users: int, n: int) -> dict:
    table = "bench_breakdown_search"
    seeded = pgdata.seed_table(ctx.pg, table, size, users, ctx.dims)
    p, path = _spawn(ctx, stack, "breakdown_search")
    lat, model = [], {"embed": 0.0, "llm": 0.0}
    try:
        creds = ctx.creds(True, table)
        _check(p.call(p.tool(creds, "search_memory", {"query": "warm up", "user_id": user_id(0), "top_k": 10})),
               "warm-up search")
        _restart(p, path)
        for uid, q in search_queries(ctx, size, users, n):
            _timed(ctx, p, p.tool(creds, "search_memory", {"query": q, "user_id": uid, "top_k": 10}), "search", lat, model)
    finally:
        p.stop()
    model = {k: v / n for k, v in model.items()}
    own = sum(lat) * 1000 / n - sum(model.values())
    report = _last(path)
    return {"ops": n, "size": size, "data": seeded["info"], "latency": dist_ms(lat), "model_ms": model,
            "phases": phases(report, n, REQUEST_ROOTS, own, model), "spans": report["spans"]}


def run_breakdown(ctx, stack: Stack, n: int = 100, size: int = 1000, users: int = 100, sync_users: int = 10,
                  sync_turns: int = 3):
    """The three breakdown runs; saved as results/<stack>/breakdown.json."""
    ctx.model.delay(0)
    ops = {"async_add": _async_add(ctx, stack, n), "sync_add": _sync_add(ctx, stack, sync_users, sync_turns),
           "search": _search(ctx, stack, size, users, n)}
    for name, r in ops.items():
        print(f"[{stack.name}] breakdown {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in r["phases"].items()),
              flush=True)
    ctx.save(stack, "breakdown", {"ops": ops, "phases": [[k, label] for k, label, _ in PHASES],
                                  "store_calls": list(STORE_CALLS)})
