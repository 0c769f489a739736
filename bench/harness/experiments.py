"""The measurements, each run against one stack and saved as results/<stack>/<name>.json."""
import collections
import json
import os
import random
import statistics
import tempfile
import threading
import time
import urllib.request

import numpy as np

from . import pgdata
from .corpus import conversation, query_for, user_facts, user_id
from .cpu import CpuMeter
from .embedding import embed
from .stacks import Stack, credentials


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def dist_ms(xs_s):
    xs = [x * 1000 for x in xs_s]
    if not xs:
        return {"n": 0}
    return {"n": len(xs), "p50_ms": round(pct(xs, 0.5), 3), "p95_ms": round(pct(xs, 0.95), 3),
            "mean_ms": round(statistics.mean(xs), 3), "min_ms": round(min(xs), 3), "max_ms": round(max(xs), 3)}


class Model:
    """Client of the fake model server's admin API."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def _req(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def delay(self, ms: float):
        self._req("/admin/config", {"delay_ms": ms})

    def reset(self):
        self._req("/admin/reset", {})

    def stats(self) -> dict:
        return self._req("/admin/stats")["stats"]

    @staticmethod
    def diff(after: dict, before: dict) -> dict:
        out = {}
        for kind, a in after.items():
            b = before.get(kind, {})
            out[kind] = {k: a[k] - b.get(k, 0) for k in a}
        return out

    @staticmethod
    def total(d: dict, key: str, kinds=("llm_extract", "llm_update", "embed")) -> float:
        return sum(d.get(k, {}).get(key, 0) for k in kinds)


class Ctx:
    """What every experiment needs."""

    def __init__(self, out_dir, scratch, log_dir, model_url, pg, dims, seed=1, model_pid=None, pg_pid=None,
                 noise_limit=0.10, require_quiet=False):
        self.out_dir, self.scratch, self.log_dir = out_dir, scratch, log_dir
        self.model_url, self.model, self.pg, self.dims, self.seed = model_url, Model(model_url), pg, dims, seed
        self.model_pid, self.pg_pid, self.noise_limit, self.require_quiet = model_pid, pg_pid, noise_limit, require_quiet

    def meter(self) -> CpuMeter:
        """Starts measuring every process's CPU share (harness.cpu)."""
        return CpuMeter(self.model_pid, self.pg_pid, self.noise_limit)

    def creds(self, async_mode: bool, collection: str) -> dict:
        return credentials(async_mode, self.model_url + "/v1", self.pg, collection, self.dims)

    def save(self, stack: Stack, name: str, obj: dict):
        """Writes results/<stack>/<name>.json; a noisy measurement (harness.cpu) is marked, and with
        `require_quiet` it is written as <name>.noisy.json instead (the report never reads it), the
        earlier <name>.json removed, and the experiment fails."""
        d = os.path.join(self.out_dir, stack.name)
        os.makedirs(d, exist_ok=True)
        noisy = [c for c in cpu_records(obj) if c.get("noisy")]
        obj = {"experiment": name, "stack": stack.name, "stack_describe": stack.describe,
               "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "noisy": bool(noisy), **obj}
        refused = noisy and self.require_quiet
        with open(os.path.join(d, f"{name}.noisy.json" if refused else f"{name}.json"), "w") as f:
            json.dump(obj, f, indent=1)
        for stale in ((f"{name}.error.json", f"{name}.json") if refused else (f"{name}.error.json", f"{name}.noisy.json")):
            if os.path.exists(os.path.join(d, stale)):
                os.remove(os.path.join(d, stale))
        if refused:
            worst = max(c["cores"]["other"] for c in noisy)
            raise RuntimeError(f"not published (--require-quiet): other processes used {worst} cores, more than "
                               f"{self.noise_limit}; kept in {stack.name}/{name}.noisy.json")
        print(f"[{stack.name}] {name}: saved" + (" (noisy)" if noisy else ""), flush=True)


def cpu_records(obj: dict) -> list[dict]:
    """The CPU share records of a result: its own and its runs'."""
    out = [obj["cpu"]] if isinstance(obj.get("cpu"), dict) else []
    return out + [r["cpu"] for r in obj.get("runs") or [] if isinstance(r, dict) and isinstance(r.get("cpu"), dict)]


def _check(s, what):
    if s.error is not None:
        raise RuntimeError(f"{what}: plugin error {s.error}")
    return s.json_result()


def add_params(turn: dict) -> dict:
    p = {"user": turn["user"], "user_id": turn["user_id"]}
    if turn.get("assistant"):
        p["assistant"] = turn["assistant"]
    return p


def sync_add(ctx: Ctx, p, creds: dict, turn: dict):
    """One sync add: (session, reply body, the model server's counters during it); raises unless it succeeded."""
    before = ctx.model.stats()
    s = p.call(p.tool(creds, "add_memory", add_params(turn)))
    after = ctx.model.stats()
    body = _check(s, "sync add")
    if not body or body.get("status") != "SUCCESS":
        raise RuntimeError(f"sync add failed: {body}")
    return s, body, Model.diff(after, before)


def first_turns(ctx: Ctx, users: range) -> list[dict]:
    return [conversation(u, 1, ctx.seed)[0] for u in users]


def wait_rows(conn, table, target, timeout=600.0, sample=None, stall_s=60.0):
    """Poll until `table` has `target` rows: (time reached or None, rows seen). Gives up after `timeout`
    or when the count has not moved for `stall_s` (a stack that stores elsewhere, or lost writes)."""
    t0 = t_moved = time.perf_counter()
    last = -1
    while True:
        n = pgdata.count_rows(conn, table)
        now = time.perf_counter()
        if n >= target:
            return now, n
        if n != last:
            last, t_moved = n, now
        if now - t0 > timeout or now - t_moved > stall_s:
            return None, n
        if sample:
            sample()
        time.sleep(0.01)


# ---------------------------------------------------------------------------------------------- start
def exp_startup(ctx: Ctx, stack: Stack, runs=5, idle_s=5.0, name="startup"):
    out = []
    load = ctx.meter()
    for i in range(runs):
        p = stack.spawn(ctx.scratch, f"startup{i}", ctx.log_dir)
        try:
            hb = p.wait_heartbeat()
            rss_hb = p.rss_kib()
            cpu_hb = p.cpu_seconds()
            time.sleep(idle_s)
            out.append({"first_heartbeat_ms": round(hb * 1000, 2), "cpu_s_at_heartbeat": round(cpu_hb, 3),
                        "rss_at_heartbeat_kib": rss_hb,
                        "rss_idle_kib": p.rss_kib(), "cpu_s_until_idle": round(p.cpu_seconds(), 3),
                        "threads_idle": p.threads()})
        finally:
            p.stop()
        print(f"[{stack.name}] startup {i}: {out[-1]}", flush=True)
    med = {k: statistics.median(r[k] for r in out) for k in out[0]}
    cpu = load.done()
    ctx.save(stack, name, {"runs": out, "median": med, "idle_s": idle_s, "argv0": os.path.basename(stack.argv[0]),
                           "machine_busy_cores": cpu["cores"]["machine"], "cpu": cpu})


# ---------------------------------------------------------------------------------------------- adds
def exp_async_add(ctx: Ctx, stack: Stack, n=200, delay_ms=0, runs=3, window=1, name=None):
    """n adds (first turns of n fresh users) sent back-to-back in async mode, with up to `window` in flight
    (1 = each waits for the previous ACK, so the ACK is the plugin's own; more = the driver pipelines, so the
    send rate never paces the applying, and each ACK includes waiting behind the adds in flight): ACK latency
    (request written → `end`), then the time until every fact is stored (applied throughput)."""
    name = name or f"async_add_{delay_ms}ms"
    table = "bench_add"
    turns = first_turns(ctx, range(n))
    warm = conversation(n + 500, 1, ctx.seed)[0]
    expected = sum(len(t["facts"]) for t in turns)
    ctx.model.delay(delay_ms)
    res = []
    for r in range(runs):
        conn = pgdata.connect(ctx.pg)
        pgdata.drop(conn, table)
        p = stack.spawn(ctx.scratch, f"{name}_r{r}", ctx.log_dir)
        try:
            p.wait_heartbeat()
            creds = ctx.creds(True, table)
            _check(p.call(p.tool(creds, "add_memory", add_params(warm))), "warm-up add")
            t_ok, _ = wait_rows(conn, table, len(warm["facts"]), timeout=120)
            if t_ok is None:
                raise RuntimeError("warm-up add never applied")
            base = pgdata.count_rows(conn, table)
            ctx.model.reset()
            load = ctx.meter()
            cpu0 = p.cpu_seconds()
            rss_peak = p.rss_kib()
            acks, firsts = [], []
            requests = [p.tool(creds, "add_memory", add_params(turn)) for turn in turns]

            def settle(s):
                body = _check(p.wait(s), "async add")
                event = ((body or {}).get("results") or [{}])[0].get("event") if isinstance((body or {}).get("results"), list) else None
                if event not in ("ACCEPT", "ACCEPTED"):
                    raise RuntimeError(f"async add not accepted: {body}")
                acks.append(s.latency)
                firsts.append((s.t_first or s.t_end) - s.t_send)

            inflight = collections.deque()
            t_start = time.perf_counter()
            for i, req in enumerate(requests):  # pipelined: up to `window` adds in flight
                if len(inflight) >= window:
                    settle(inflight.popleft())
                inflight.append(p.send(req))
                if i % 25 == 0:
                    rss_peak = max(rss_peak, p.rss_kib())
            while inflight:
                settle(inflight.popleft())
            t_sent = time.perf_counter()
            peak = [rss_peak, 0]

            def sample():
                peak[0] = max(peak[0], p.rss_kib())

            t_applied, got = wait_rows(conn, table, base + expected, timeout=900, sample=sample)
            cpu = p.cpu_seconds() - cpu0
            shares = load.done()
            st = ctx.model.stats()
            run = {"adds": n, "window": window, "facts_expected": expected, "rows_stored": got - base,
                   "all_applied": t_applied is not None, "ack": dist_ms(acks), "first_chunk": dist_ms(firsts),
                   "send_phase_s": round(t_sent - t_start, 3),
                   "applied_after_first_send_s": round((t_applied or time.perf_counter()) - t_start, 3),
                   "applied_adds_per_s": round(n / ((t_applied or time.perf_counter()) - t_start), 2),
                   "plugin_cpu_ms_per_add": round(cpu * 1000 / n, 2), "rss_peak_kib": peak[0],
                   "rss_end_kib": p.rss_kib(), "machine_busy_cores": shares["cores"]["machine"], "cpu": shares, "model": st,
                   "llm_calls_per_add": round(Model.total(st, "calls", ("llm_extract", "llm_update")) / n, 3),
                   "prompt_tokens_per_add": round(Model.total(st, "prompt_tokens", ("llm_extract", "llm_update")) / n, 1)}
        finally:
            p.stop()
            conn.close()
        print(f"[{stack.name}] {name} r{r}: ack {run['ack']} applied/s {run['applied_adds_per_s']}",
              flush=True)
        res.append(run)
    ctx.model.delay(0)
    med = {k: statistics.median(_get(x, k) for x in res) for k in
           ("ack.p50_ms", "ack.p95_ms", "applied_adds_per_s", "plugin_cpu_ms_per_add", "rss_peak_kib",
            "llm_calls_per_add", "prompt_tokens_per_add")}
    ctx.save(stack, name, {"delay_ms": delay_ms, "window": window, "runs": res, "median": med})


def _get(d, path):
    for k in path.split("."):
        d = d[k]
    return d


def exp_sync_add(ctx: Ctx, stack: Stack, users=20, turns=5, delay_ms=0):
    """Sequential sync adds: `users` users × `turns` turns, round-robin, so round 1 adds to users with
    nothing stored and later rounds find related memories. Per add: latency, model time (inside the
    fake server), own overhead = latency − model time, LLM calls and prompt tokens."""
    table = "bench_add"
    convs = {u: conversation(u, turns, ctx.seed) for u in range(users)}
    warm = conversation(users + 600, 1, ctx.seed)[0]
    ctx.model.delay(delay_ms)
    conn = pgdata.connect(ctx.pg)
    pgdata.drop(conn, table)
    p = stack.spawn(ctx.scratch, f"sync_add_{delay_ms}", ctx.log_dir)
    per_add = []
    try:
        p.wait_heartbeat()
        creds = ctx.creds(False, table)
        _check(p.call(p.tool(creds, "add_memory", add_params(warm))), "warm-up sync add")
        load = ctx.meter()
        cpu0 = p.cpu_seconds()
        for t in range(turns):
            for u in range(users):
                if t >= len(convs[u]):
                    continue
                turn = convs[u][t]
                s, _, d = sync_add(ctx, p, creds, turn)
                model_ms = Model.total(d, "server_ms")
                per_add.append({"round": t, "facts": len(turn["facts"]), "latency_ms": s.latency * 1000,
                                "model_ms": model_ms, "own_ms": s.latency * 1000 - model_ms,
                                "llm_calls": Model.total(d, "calls", ("llm_extract", "llm_update")),
                                "embed_calls": d.get("embed", {}).get("calls", 0),
                                "embed_inputs": d.get("embed", {}).get("inputs", 0),
                                "prompt_tokens": Model.total(d, "prompt_tokens", ("llm_extract", "llm_update")),
                                "prompt_chars": Model.total(d, "prompt_chars", ("llm_extract", "llm_update")),
                                "extract_tokens": d.get("llm_extract", {}).get("prompt_tokens", 0),
                                "update_tokens": d.get("llm_update", {}).get("prompt_tokens", 0)})
        cpu = p.cpu_seconds() - cpu0
        rss = p.rss_kib()
        busy = load.done()
    finally:
        p.stop()
        conn.close()
    ctx.model.delay(0)

    def summary(rows):
        if not rows:
            return {}
        return {"adds": len(rows),
                "latency": dist_ms([r["latency_ms"] / 1000 for r in rows]),
                "own_overhead": dist_ms([r["own_ms"] / 1000 for r in rows]),
                "model_ms_mean": round(statistics.mean(r["model_ms"] for r in rows), 3),
                "llm_calls_per_add": round(statistics.mean(r["llm_calls"] for r in rows), 3),
                "llm_calls_max": max(r["llm_calls"] for r in rows),
                "embed_calls_per_add": round(statistics.mean(r["embed_calls"] for r in rows), 3),
                "prompt_tokens_per_add": round(statistics.mean(r["prompt_tokens"] for r in rows), 1),
                "prompt_chars_per_add": round(statistics.mean(r["prompt_chars"] for r in rows), 1),
                "extract_tokens_per_add": round(statistics.mean(r["extract_tokens"] for r in rows), 1),
                "update_tokens_per_add": round(statistics.mean(r["update_tokens"] for r in rows), 1)}

    ctx.save(stack, f"sync_add_{delay_ms}ms", {
        "delay_ms": delay_ms, "users": users, "turns": turns,
        "all": summary(per_add), "nothing_stored": summary([r for r in per_add if r["round"] == 0]),
        "related_stored": summary([r for r in per_add if r["round"] > 0]),
        "plugin_cpu_ms_per_add": round(cpu * 1000 / len(per_add), 2), "rss_end_kib": rss,
        "machine_busy_cores": busy["cores"]["machine"], "cpu": busy, "per_add": per_add})
    print(f"[{stack.name}] sync_add {delay_ms}ms: {summary(per_add)['own_overhead']}", flush=True)


def exp_sync_throughput(ctx: Ctx, stack: Stack, sessions=8, n=160):
    """n sync adds (first turns of n fresh users) from `sessions` concurrent sessions, 0 ms model."""
    table = "bench_add"
    turns = first_turns(ctx, range(1000, 1000 + n))
    ctx.model.delay(0)
    conn = pgdata.connect(ctx.pg)
    pgdata.drop(conn, table)
    p = stack.spawn(ctx.scratch, f"sync_tput_c{sessions}", ctx.log_dir)
    errors, lat = [], []
    lock = threading.Lock()
    todo = iter(turns)
    try:
        p.wait_heartbeat()
        creds = ctx.creds(False, table)
        _check(p.call(p.tool(creds, "add_memory", add_params(conversation(1900, 1, ctx.seed)[0]))), "warm-up")

        def worker():
            while True:
                with lock:
                    turn = next(todo, None)
                if turn is None:
                    return
                s = p.call(p.tool(creds, "add_memory", add_params(turn)))
                body = s.json_result()
                with lock:
                    lat.append(s.latency)
                    if s.error is not None or not body or body.get("status") != "SUCCESS":
                        errors.append(s.error or body)

        load = ctx.meter()
        cpu0 = p.cpu_seconds()
        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        cpu = p.cpu_seconds() - cpu0
        rss = p.rss_kib()
        busy = load.done()
    finally:
        p.stop()
        conn.close()
    ctx.save(stack, f"sync_throughput_c{sessions}", {
        "sessions": sessions, "adds": n, "wall_s": round(wall, 3), "adds_per_s": round(n / wall, 2),
        "errors": len(errors), "first_error": errors[0] if errors else None, "latency": dist_ms(lat),
        "plugin_cpu_ms_per_add": round(cpu * 1000 / n, 2), "rss_end_kib": rss,
        "machine_busy_cores": busy["cores"]["machine"], "cpu": busy})
    print(f"[{stack.name}] sync throughput c{sessions}: {n / wall:.2f} adds/s, {len(errors)} errors", flush=True)


# ---------------------------------------------------------------------------------------------- search
def search_queries(ctx: Ctx, size: int, users: int, queries: int) -> list[tuple[str, str]]:
    """The same (user_id, question) list for every stack: questions about a slot of the user's profile (80 %)
    or any slot."""
    rng = random.Random(f"{ctx.seed}:queries:{size}")
    out = []
    for _ in range(queries):
        u = rng.randrange(users)
        facts = user_facts(u, max(1, size // users), ctx.seed)
        out.append((user_id(u), query_for(rng, rng.choice(facts)[0] if rng.random() < 0.8 else None)))
    return out


class _SearchRun:
    """One stack's process and its accumulated search figures."""

    def __init__(self, ctx: Ctx, stack: Stack, table: str, tag: str, top_k: int, creds: dict | None = None,
                 env: dict | None = None, label: str | None = None):
        """`creds` (default: pgvector on `table`, async mode), `env` on top of the spawn's, `label` (default: the
        stack's name) naming this run beside the others it is interleaved with."""
        self.stack, self.top_k, self.label = stack, top_k, label or stack.name
        self.p = stack.spawn(ctx.scratch, tag, ctx.log_dir, env=env)
        self.lat, self.own, self.model_ms, self.recalls, self.strict, self.returned = [], [], [], [], [], []
        self.errors, self.sample, self.cpu = 0, None, 0.0
        self.p.wait_heartbeat()
        self.creds = creds or ctx.creds(True, table)
        warm = self.p.call(self.p.tool(self.creds, "search_memory",
                                       {"query": "warm up", "user_id": user_id(0), "top_k": top_k}))
        _check(warm, "warm-up search")
        self.first_search_ms = round(warm.latency * 1000, 2)  # the first open of the store is in it
        self.rss_warm = self.p.rss_kib()

    def run(self, ctx: Ctx, block: list, truth: dict):
        cpu0 = self.p.cpu_seconds()
        for uid, q in block:
            before = ctx.model.stats()
            s = self.p.call(self.p.tool(self.creds, "search_memory", {"query": q, "user_id": uid, "top_k": self.top_k}))
            after = ctx.model.stats()
            body = s.json_result()
            if s.error is not None or not body or body.get("status") != "SUCCESS":
                self.errors += 1
                continue
            m = Model.total(Model.diff(after, before), "server_ms") / 1000
            self.lat.append(s.latency)
            self.model_ms.append(m)
            self.own.append(s.latency - m)
            got = [str(x.get("id")) for x in (body.get("results") or [])]
            self.returned.append(len(got))
            if self.sample is None and got:
                self.sample = body
            entry = truth[uid]
            qv = np.asarray(embed(q, ctx.dims), dtype=np.float32)
            exact_ids, kth, scores = pgdata.exact_top(entry, qv, self.top_k)
            want = min(self.top_k, len(entry["ids"]))
            hits = sum(1 for g in got[: self.top_k] if g in scores and scores[g] >= kth - 1e-5)
            self.recalls.append(min(hits, want) / want)
            self.strict.append(len(set(got[: self.top_k]) & set(exact_ids)) / want)
        self.cpu += self.p.cpu_seconds() - cpu0

    def save(self, ctx: Ctx, name: str, size: int, users: int, queries: int, info: dict, busy: dict, interleaved,
             extra: dict | None = None):
        rss = self.p.rss_kib()
        self.p.stop()
        r = self
        ctx.save(self.stack, name, {
            **(extra or {}),
            "size": size, "users": users, "top_k": r.top_k, "queries": queries, "errors": r.errors,
            "interleaved_with": interleaved, "data": info, "latency": dist_ms(r.lat), "own_overhead": dist_ms(r.own),
            "model_time": dist_ms(r.model_ms),
            "recall_at_k_mean": round(statistics.mean(r.recalls), 4) if r.recalls else None,
            "recall_strict_mean": round(statistics.mean(r.strict), 4) if r.strict else None,
            "queries_with_full_recall": sum(1 for x in r.recalls if x >= 0.999),
            "queries_returning_nothing": sum(1 for x in r.returned if x == 0),
            "mean_returned": round(statistics.mean(r.returned), 2) if r.returned else None,
            "plugin_cpu_ms_per_search": round(r.cpu * 1000 / max(1, len(r.lat)), 3), "rss_after_warmup_kib": r.rss_warm,
            "rss_end_kib": rss, "machine_busy_cores": busy["cores"]["machine"], "cpu": busy, "sample_response": r.sample})
        print(f"[{self.label}] {name}: own {dist_ms(r.own)} recall "
              f"{statistics.mean(r.recalls) if r.recalls else None}", flush=True)


def exp_search(ctx: Ctx, stacks: list, size: int, seeded: dict, users=1000, queries=200, top_k=10, names=None,
               block=25):
    """Searches for random users on a seeded table, every stack running the same queries in interleaved
    blocks (so machine noise falls on all alike): latency, own overhead (latency − model time), and recall
    of the user's exact top-k (tie-aware: a returned memory whose exact cosine equals the k-th best counts)."""
    names = names or [f"search_{size}"] * len(stacks)
    ctx.model.delay(0)
    qs = search_queries(ctx, size, users, queries)
    runs = []
    try:
        for st, name in zip(stacks, names):
            runs.append(_SearchRun(ctx, st, seeded["tables"].get(st.name, seeded["table"]), name, top_k))
        load = ctx.meter()
        for i in range(0, len(qs), block):
            order = runs if (i // block) % 2 == 0 else list(reversed(runs))
            for r in order:
                r.run(ctx, qs[i: i + block], seeded["truth"])
        busy = load.done()
        for r, name in zip(runs, names):
            others = [x.label for x in runs if x is not r]
            r.save(ctx, name, size, users, queries, seeded["info"], busy, others)
    finally:
        for r in runs:
            if r.p.proc.poll() is None:
                r.p.stop()


# ------------------------------------------------------------------ search: embedded store beside pgvector (issue 18)
EMBEDDED_FILE = "bench_search.db"  # relative: under the plugin's data dir (MEM0_DIFY_DATA_DIR)


def embedded_creds(ctx: Ctx, async_mode: bool, collection: str, path: str = EMBEDDED_FILE) -> dict:
    """The shared credentials with the plugin's embedded store (SQLite file + FTS5) as the vector store."""
    c = ctx.creds(async_mode, collection)
    c["local_vector_db_json"] = json.dumps({"provider": "embedded", "config": {
        "path": path, "collection_name": collection, "embedding_model_dims": ctx.dims}})
    return c


def embedded_rows(path: str, collection: str, count_only: bool = False):
    """The collection's rows in the plugin's embedded file, read-only: their count, or [(id, payload dict)]
    (0 / [] while the file or its tables do not exist yet)."""
    import sqlite3
    if not os.path.exists(path):
        return 0 if count_only else []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        if count_only:
            return conn.execute("SELECT count(*) FROM memories WHERE collection = ?", (collection,)).fetchone()[0]
        return [(i, json.loads(p)) for i, p in
                conn.execute("SELECT id, payload FROM memories WHERE collection = ?", (collection,))]
    except sqlite3.OperationalError:  # no schema yet
        return 0 if count_only else []
    finally:
        conn.close()


def fill_embedded(ctx: Ctx, stack: Stack, data_dir: str, collection: str, size: int, users: int, window: int = 16,
                  timeout: float = 1800.0) -> dict:
    """Fills the embedded store with the memories the pgvector search table is seeded with (pgdata.memories_for:
    same texts, same users) through the plugin itself: one `add_memory` per memory, `infer: false` (stored as
    given, embedded by the model server), async mode, up to `window` in flight; waits until every one is a row
    of the file. The process is stopped afterwards (the searches start a fresh one on the file)."""
    mems = [(user_id(u), text) for u, text in pgdata.memories_for(size, users, ctx.seed)]
    path = os.path.join(data_dir, EMBEDDED_FILE)
    p = stack.spawn(ctx.scratch, f"search_embedded_fill_{size}", ctx.log_dir, env={"MEM0_DIFY_DATA_DIR": data_dir})
    try:
        p.wait_heartbeat()
        creds = embedded_creds(ctx, True, collection)
        cpu0 = p.cpu_seconds()
        todo = collections.deque({"user": text, "user_id": uid, "infer": False} for uid, text in mems)
        inflight = collections.deque()
        acks, busy = [], 0
        t0 = time.perf_counter()
        while todo or inflight:
            while todo and len(inflight) < window:
                params = todo.popleft()
                inflight.append((p.send(p.tool(creds, "add_memory", params)), params))
            s, params = inflight.popleft()
            p.wait(s, 300)
            body = s.json_result()
            results = (body or {}).get("results") if isinstance(body, dict) else None
            event = results[0].get("event") if isinstance(results, list) and results and isinstance(results[0], dict) else None
            if s.error is None and event in ("ACCEPT", "ACCEPTED"):
                acks.append(s.latency)
            elif "busy" in json.dumps([s.error, body]).lower():  # more than MAX_PENDING_WRITES waiting: send it again
                busy += 1
                todo.appendleft(params)
                time.sleep(0.02)
            else:
                raise RuntimeError(f"embedded fill add not accepted: {s.error or body}")
        t_sent = time.perf_counter()
        rows, t_moved, last = 0, t_sent, -1
        while rows < len(mems):
            rows = embedded_rows(path, collection, count_only=True)
            now = time.perf_counter()
            if rows != last:
                last, t_moved = rows, now
            if now - t0 > timeout or now - t_moved > 60:
                raise RuntimeError(f"embedded fill: {rows} of {len(mems)} memories applied after {now - t0:.0f} s")
            time.sleep(0.05)
        t_done = time.perf_counter()
        cpu = p.cpu_seconds() - cpu0
        rss = p.rss_kib()
    finally:
        p.stop()
    files = {f: os.path.getsize(os.path.join(data_dir, f)) for f in os.listdir(data_dir)
             if os.path.isfile(os.path.join(data_dir, f))}
    out = {"adds": len(mems), "window": window, "mode": "async, infer false, one memory per add",
           "send_phase_s": round(t_sent - t0, 2), "applied_s": round(t_done - t0, 2),
           "applied_adds_per_s": round(len(mems) / (t_done - t0), 1), "ack": dist_ms(acks), "busy_replies": busy,
           "plugin_cpu_ms_per_add": round(cpu * 1000 / len(mems), 3), "rss_end_kib": rss,
           "store_bytes": sum(b for f, b in files.items() if f.startswith(EMBEDDED_FILE)), "files": files}
    print(f"[rust] embedded store filled through the plugin: {out['adds']} adds applied in {out['applied_s']} s "
          f"({out['applied_adds_per_s']} adds/s), store {out['store_bytes'] / 1e6:.1f} MB", flush=True)
    return out


def embedded_truth(path: str, collection: str, size: int, users: int, dims: int, seed: int) -> dict:
    """Ground truth per user over the embedded file's rows (ids as the plugin gave them, vectors = the model
    server's embedding of each stored text, as pgdata.seed_table stores them), after checking that the file holds
    exactly the memories of the pgvector table: the same texts per user, nothing more."""
    want: dict[str, list[str]] = {}
    for u, text in pgdata.memories_for(size, users, seed):
        want.setdefault(user_id(u), []).append(text)
    have: dict[str, dict[str, str]] = {}
    for mid, payload in embedded_rows(path, collection):
        have.setdefault(payload.get("user_id"), {})[payload.get("data")] = mid
    bad = [uid for uid in set(want) | set(have)
           if sorted(want.get(uid, [])) != sorted(have.get(uid, {})) or len(have.get(uid, {})) != len(want.get(uid, []))]
    if bad:
        raise RuntimeError(f"the embedded store does not hold the pgvector table's memories: {len(bad)} users differ, "
                           f"e.g. {bad[0]}: {sorted(have.get(bad[0], {}))[:3]} vs {sorted(want.get(bad[0], []))[:3]}")
    truth = {}
    for uid, texts in want.items():  # the seeding order, so ties break alike on both stores
        truth[uid] = {"ids": [have[uid][t] for t in texts],
                      "vecs": np.vstack([np.asarray(embed(t, dims), dtype=np.float32) for t in texts])}
    return truth


def exp_search_embedded(ctx: Ctx, stack: Stack, size: int, seeded: dict, users=1000, queries=200, top_k=10,
                        block=25, window=16):
    """The plugin's search on its embedded store beside the same plugin on pgvector, with the same memories and
    the same queries as `exp_search` (issue 18: "embedded no slower than pgvector at 10k"). The embedded store is
    filled through the plugin (`fill_embedded`); the pgvector arm searches `seeded["table"]` (a copy of the
    search table in Mem0's layout, as in `exp_search`), after the plugin's background fill of its keyword terms
    has finished, so both arms search with their keyword index. Each arm is a fresh process; their searches are
    interleaved in blocks of `block` (alternating order). Saved as search_embedded_<size> (embedded) and
    search_embedded_<size>_pgvector."""
    from .growth import _wait_filled  # growth imports this module
    name = f"search_embedded_{size}"
    collection = "bench_search"
    ctx.model.delay(0)
    data_dir = tempfile.mkdtemp(prefix=f"embedded-store-{size}-", dir=ctx.scratch)
    fill = fill_embedded(ctx, stack, data_dir, collection, size, users, window)
    truth_emb = embedded_truth(os.path.join(data_dir, EMBEDDED_FILE), collection, size, users, ctx.dims, ctx.seed)
    qs = search_queries(ctx, size, users, queries)
    runs = []
    try:
        emb = _SearchRun(ctx, stack, collection, f"{name}_embedded", top_k, creds=embedded_creds(ctx, True, collection),
                         env={"MEM0_DIFY_DATA_DIR": data_dir}, label="embedded")
        runs.append(emb)
        pg = _SearchRun(ctx, stack, seeded["table"], f"{name}_pgvector", top_k, label="pgvector")
        runs.append(pg)
        conn = pgdata.connect(ctx.pg)
        try:
            waited = _wait_filled(conn, seeded["table"], 600)
        finally:
            conn.close()
        if waited is None:
            raise RuntimeError(f"the plugin's keyword terms of {seeded['table']} were not filled within 600 s")
        truths = {"embedded": truth_emb, "pgvector": seeded["truth"]}
        load = ctx.meter()
        for i in range(0, len(qs), block):
            order = runs if (i // block) % 2 == 0 else list(reversed(runs))
            for r in order:
                r.run(ctx, qs[i: i + block], truths[r.label])
        busy = load.done()
        common = {"retrieval": "plugin default (hybrid)", "async_mode": True}
        emb.save(ctx, name, size, users, queries,
                 {"store": "embedded", "rows": size, "users": users, "dims": ctx.dims, "store_bytes": fill["store_bytes"],
                  "filled_through_plugin": fill},
                 busy, ["pgvector"], extra={"store": "embedded", "first_search_ms": emb.first_search_ms, **common})
        pg.save(ctx, f"{name}_pgvector", size, users, queries,
                dict(seeded["info"], store="pgvector", table=seeded["table"], lexical_fill_waited_s=round(waited, 2)),
                busy, ["embedded"], extra={"store": "pgvector", "first_search_ms": pg.first_search_ms, **common})
    finally:
        for r in runs:
            if r.p.proc.poll() is None:
                r.p.stop()
