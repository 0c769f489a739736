"""Growth to 1M memories on pgvector (issue 18, Rust only): search and add on a table of N memories over N/100
users, seeded directly in the plugin's final shape.

Why the final shape: on first open the plugin adds its `lexical tsvector` column, the GIN index on it and the
scope/hash indexes to a Mem0-layout table, then fills the column in the background, 1,000 rows per transaction
(`src/adapters/vector/pgvector/lexical_fill.rs`); at 1M rows with an HNSW index that takes minutes (timed by
`probe_migration`), so the table is seeded with every column and index the plugin would create, and the lexical
column holds exactly what the plugin writes: the terms of each distinct text are taken from the plugin itself (a small
Mem0-layout dictionary table it migrates on first open, `plugin_lexical`).

Per size: the plugin's first open of the seeded table; 200 searches (`top_k` 10) for random users in both the
default hybrid mode and the semantic mode, interleaved: latency, own overhead (latency − time inside the fake model),
recall of the user's exact top-10 by an exact SQL `ORDER BY vector <=> q` over that user's rows (tie-aware, as the
search experiment); RSS; sync adds (0 ms model) on seeded users; and PostgreSQL's own execution time of the plugin's
search statements (EXPLAIN ANALYZE, custom and generic plans). Results: results/rust/growth_<N>.json."""
import hashlib
import io
import json
import os
import random
import re
import statistics
import time
import uuid
from datetime import timedelta

import numpy as np

from . import pgdata
from .corpus import QUESTIONS, conversation, query_for, user_facts, user_id
from .embedding import embed
from .experiments import Ctx, Model, _check, dist_ms, sync_add
from .stacks import Stack

TABLE = "bench_growth"
DICT_TABLE = "bench_growth_dict"
PER_USER = 100
SCOPE_KEYS = ("user_id", "agent_id", "run_id", "hash")
COPY_BATCH = 20_000
TIE = 1e-6


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def _vector_literal(vec: np.ndarray) -> str:
    return "[" + ",".join(np.format_float_positional(x, unique=True, trim="-") for x in vec) + "]"


def _facts(size: int, users: int, seed: int) -> list[list[str]]:
    per_user, extra = divmod(size, users)
    return [[f for _, f in user_facts(u, per_user + (1 if u < extra else 0), seed)] for u in range(users)]


def plugin_lexical(ctx: Ctx, stack: Stack, texts: list[str]) -> tuple[dict[str, str], float]:
    """The plugin's own `lexical` value of every text: a Mem0-layout table holding the texts, opened once by the
    plugin (which migrates it: adds and fills the column), read back. Returns ({text: tsvector text}, first-open s)."""
    conn = pgdata.connect(ctx.pg)
    pgdata.drop(conn, DICT_TABLE)
    with conn.cursor() as cur:
        cur.execute(f'CREATE TABLE "{DICT_TABLE}" (id UUID PRIMARY KEY, vector vector({ctx.dims}), payload JSONB)')
        buf = io.StringIO()
        for i, text in enumerate(texts):
            payload = {"data": text, "hash": hashlib.md5(text.encode()).hexdigest(), "user_id": "dict"}
            vec = _vector_literal(np.asarray(embed(text, ctx.dims), dtype=np.float32))
            buf.write(f"{uuid.UUID(int=i + 1)}\t{vec}\t{json.dumps(payload)}\n".replace("\\", "\\\\"))
        buf.seek(0)
        cur.copy_expert(f'COPY "{DICT_TABLE}" (id, vector, payload) FROM STDIN', buf)
    p = stack.spawn(ctx.scratch, "growth_dict", ctx.log_dir)
    try:
        p.wait_heartbeat()
        t0 = time.perf_counter()
        _check(p.call(p.tool(ctx.creds(False, DICT_TABLE), "search_memory",
                             {"query": "warm up", "user_id": "dict", "top_k": 1}), timeout=600), "dictionary open")
        opened = time.perf_counter() - t0
        # The terms are filled in the background after the first open: wait for the last row.
        _wait_filled(conn, DICT_TABLE, 600)
    finally:
        p.stop()
    with conn.cursor() as cur:
        cur.execute(f"SELECT payload->>'data', lexical::text FROM \"{DICT_TABLE}\"")
        out = {t: lex for t, lex in cur.fetchall()}
    pgdata.drop(conn, DICT_TABLE)
    conn.close()
    missing = [t for t in texts if out.get(t) is None]
    if missing:
        raise RuntimeError(f"the plugin left {len(missing)} dictionary rows without terms, e.g. {missing[0]!r}")
    return out, opened


def seed_final(pg: dict, table: str, size: int, users: int, dims: int, lexical: dict[str, str], hnsw: bool = True,
               seed: int = 1) -> dict:
    """(Re)creates `table` as the plugin leaves it after its first open (Mem0's columns + `lexical`, the HNSW,
    scope, hash and GIN indexes of `schema.rs`/`lexical.rs`, same names), with `size` memories over `users`
    users. Rows are written round-robin over users (a user's memories spread over the table, as adds arriving
    over time leave them). Returns load and index times and sizes."""
    facts = _facts(size, users, seed)
    cache: dict[str, tuple[str, str, str]] = {}
    conn = pgdata.new_table(pg, table, dims, ", lexical tsvector")
    rng = random.Random(f"{seed}:growth-ids:{size}")
    t0 = time.perf_counter()
    buf, n = io.StringIO(), 0
    for i in range(max(len(f) for f in facts)):
        for u in range(users):
            if i >= len(facts[u]):
                continue
            text = facts[u][i]
            if text not in cache:
                cache[text] = (_vector_literal(np.asarray(embed(text, dims), dtype=np.float32)),
                               hashlib.md5(text.encode()).hexdigest(), lexical[text])
            vec, digest, lex = cache[text]
            payload = {"data": text, "hash": digest, "created_at": (pgdata.BASE_TIME + timedelta(seconds=n)).isoformat(),
                       "updated_at": None, "user_id": user_id(u)}
            mid = uuid.UUID(int=rng.getrandbits(128), version=4)
            buf.write(f"{mid}\t{vec}\t{json.dumps(payload).replace(chr(92), chr(92) * 2)}\t{lex}\n")
            n += 1
            if n % COPY_BATCH == 0:
                _copy(conn, table, buf)
                buf = io.StringIO()
    _copy(conn, table, buf)
    t1 = time.perf_counter()
    index_s = {}
    statements = [(f"{key}_idx", f'CREATE INDEX "{table}_{key}_idx" ON "{table}" ((payload->>\'{key}\'))')
                  for key in SCOPE_KEYS]
    statements.append(("lexical_idx", f'CREATE INDEX "{table}_lexical_idx" ON "{table}" USING gin (lexical)'))
    if hnsw:
        statements.append(("hnsw_idx", f'CREATE INDEX "{table}_hnsw_idx" ON "{table}" USING hnsw (vector vector_cosine_ops)'))
    with conn.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1GB'")
        for name, sql in statements:
            ti = time.perf_counter()
            cur.execute(sql)
            index_s[name] = round(time.perf_counter() - ti, 1)
            print(f"growth {size}: index {name} built in {index_s[name]} s", flush=True)
        ti = time.perf_counter()
        cur.execute(f'VACUUM ANALYZE "{table}"')
        vacuum_s = round(time.perf_counter() - ti, 1)
        cur.execute("SELECT pg_total_relation_size(%s), pg_relation_size(%s), pg_indexes_size(%s)",
                    (table, table, table))
        total_bytes, heap_bytes, index_bytes = cur.fetchone()
        sizes = {}
        for name, _ in statements:
            cur.execute("SELECT pg_relation_size(%s)", (f"{table}_{name}",))
            sizes[name] = cur.fetchone()[0]
    conn.close()
    return {"rows": n, "users": users, "dims": dims, "distinct_texts": len(cache), "load_s": round(t1 - t0, 1),
            "index_s": index_s, "hnsw": hnsw, "vacuum_analyze_s": vacuum_s, "table_bytes": total_bytes,
            "heap_bytes": heap_bytes, "indexes_bytes": index_bytes, "index_bytes": sizes,
            "layout": "plugin's final shape (Mem0 columns + lexical; HNSW, scope, hash and GIN indexes), rows round-robin over users"}


def _copy(conn, table: str, buf: io.StringIO) -> None:
    buf.seek(0)
    with conn.cursor() as cur:
        cur.copy_expert(f'COPY "{table}" (id, vector, payload, lexical) FROM STDIN', buf)


def exact_scope(cur, table: str, uid: str, qvec: list[float]) -> list[tuple[str, float]]:
    """Every memory of the user with its exact cosine distance, nearest first (no ANN index: ordered by a sort)."""
    cur.execute(f'SELECT id::text, d FROM (SELECT id, vector <=> %s::vector AS d FROM "{table}" '
                "WHERE payload->>'user_id' = %s OFFSET 0) AS s ORDER BY d, id", ("[" + ",".join(map(repr, qvec)) + "]", uid))
    return cur.fetchall()


def recall(got: list[str], scope: list[tuple[str, float]], k: int) -> tuple[float, float]:
    """(tie-aware recall, strict recall) of `got` against the exact top-k of `scope`."""
    want = min(k, len(scope))
    if want == 0:
        return 1.0, 1.0
    kth = scope[want - 1][1]
    close = {i for i, d in scope if d <= kth + TIE}
    exact = {i for i, _ in scope[:want]}
    top = got[:k]
    return min(sum(1 for g in top if g in close), want) / want, len(set(top) & exact) / want


def plugin_statements(table: str) -> dict[str, tuple[str, str]]:
    """The plugin's search statements (`pgvector.rs`: `search_exact` with its scope-count guard, `lexical_search`),
    numbered as it numbers them, with their parameter types: (PREPARE types, text)."""
    t = f'"{table}"'
    semantic = (f"WITH n AS (SELECT count(*) AS n FROM (SELECT 1 FROM {t} WHERE ((payload->>'user_id') = $4) LIMIT $5) "
                f"AS s) SELECT r.id, r.payload, r.distance, n.n FROM n LEFT JOIN LATERAL (SELECT id, payload, distance "
                f"FROM (SELECT id, payload, vector <=> $1 AS distance FROM {t} WHERE n.n <= $6 AND "
                f"((payload->>'user_id') = $2) OFFSET 0) AS d ORDER BY distance, id LIMIT $3) AS r ON true")

    def matches(scope_is, matching):
        return (f"SELECT id, payload, lexical, vector <=> $1 AS distance, payload->>'data' AS text FROM {t} "
                f"WHERE n.n {scope_is} $7 AND ((payload->>'user_id') = $4) AND {matching}")

    lexical = (f"WITH n AS (SELECT count(*) AS n FROM (SELECT 1 FROM {t} WHERE ((payload->>'user_id') = $3) LIMIT $6) "
               f"AS s) SELECT m.id, m.payload, m.distance, m.text, n.n FROM n CROSS JOIN LATERAL "
               f"({matches('<=', '(lexical @@ $2::text::tsquery) IS TRUE')} UNION ALL "
               f"{matches('>', 'lexical @@ $2::text::tsquery')}) AS m "
               "ORDER BY ts_rank(m.lexical, $2::text::tsquery) DESC, m.id LIMIT $5")
    return {"vector": ("vector, text, bigint, text, bigint, bigint", semantic),
            "keyword": ("vector, text, text, text, bigint, bigint, bigint", lexical)}


def terms_of(lexical: str) -> list[str]:
    """The terms of a tsvector's text (`'citi':4 'live':3` -> citi, live)."""
    return [t.replace("''", "'") for t in re.findall(r"'((?:[^']|'')*)':", lexical)]


def explain_plugin_statements(pg: dict, table: str, users: int, dims: int, question_terms: dict[str, list[str]],
                              n: int = 30, top_k: int = 10) -> dict:
    """PostgreSQL's own execution time (EXPLAIN ANALYZE EXECUTE of the prepared statements) of the plugin's search
    statements for `n` random users and questions: first touch of their rows (`custom_cold`), then warm with a custom
    plan and with the generic plan a prepared statement may switch to after five runs: the database's share of a
    search at this size. `vector` is the semantic search
    (limit `top_k`; the hybrid mode's vector side asks for 20), `keyword` the hybrid mode's keyword side."""
    conn = pgdata.connect(pg)
    out = {}
    with conn.cursor() as cur:
        # The same users in each pass: first touch of their rows (cold: read from the OS cache or disk, as a
        # search of a user not searched lately), then again (warm) with each kind of plan.
        for label, mode in (("custom_cold", "force_custom_plan"), ("custom", "force_custom_plan"),
                            ("generic", "force_generic_plan")):
            rng = random.Random(f"growth-explain:{table}:{users}")
            cur.execute(f"SET plan_cache_mode = {mode}")
            times: dict[str, list[float]] = {}
            plans: dict[str, set] = {}
            for name, (types, sql) in plugin_statements(table).items():
                cur.execute(f"PREPARE growth_{name} ({types}) AS {sql}")
            for _ in range(n):
                q = query_for(rng)
                vec = "[" + ",".join(map(repr, embed(q, dims))) + "]"
                uid = user_id(rng.randrange(users))
                tsq = " | ".join("'" + x.replace("'", "''") + "'" for x in question_terms[q])
                args = {"vector": (vec, uid, top_k, uid, 10_001, 10_000),
                        "keyword": (vec, tsq, uid, uid, 1000, 1_000_000, 2_000)}
                for name, params in args.items():
                    cur.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE growth_{name} ({', '.join(['%s'] * len(params))})",
                                params)
                    plan = cur.fetchone()[0][0]
                    times.setdefault(name, []).append(plan["Execution Time"])
                    plans.setdefault(name, set()).add(pgdata._node_types(plan["Plan"]))
            cur.execute("DEALLOCATE ALL")
            out[label] = {
                name: {"execution_ms_p50": round(statistics.median(ts), 3),
                       "execution_ms_p95": round(sorted(ts)[max(0, int(len(ts) * 0.95) - 1)], 3),
                       "plans": sorted(plans[name])} for name, ts in times.items()}
        cur.execute("RESET plan_cache_mode")
    conn.close()
    return out


def _search(ctx: Ctx, p, creds: dict, uid: str, q: str, mode: str, top_k: int):
    before = ctx.model.stats()
    s = p.call(p.tool(creds, "search_memory", {"query": q, "user_id": uid, "top_k": top_k, "retrieval": mode}))
    after = ctx.model.stats()
    body = s.json_result()
    if s.error is not None or not body or body.get("status") != "SUCCESS" or body.get("degraded"):
        return None
    model_s = Model.total(Model.diff(after, before), "server_ms") / 1000
    return s.latency, s.latency - model_s, [str(x.get("id")) for x in (body.get("results") or [])]


def exp_growth(ctx: Ctx, stack: Stack, size: int, seeded: dict, question_terms: dict[str, list[str]], queries=200,
               adds=20, top_k=10):
    """One size: first open, interleaved hybrid/semantic searches with exact per-user recall, RSS, sync adds."""
    users = seeded["users"]
    ctx.model.delay(0)
    rng = random.Random(f"{ctx.seed}:growth-queries:{size}")
    qs = []
    for _ in range(queries):
        u = rng.randrange(users)
        facts = user_facts(u, min(PER_USER, max(1, size // users)), ctx.seed)
        qs.append((user_id(u), query_for(rng, rng.choice(facts)[0] if rng.random() < 0.8 else None)))
    conn = pgdata.connect(ctx.pg)
    load_before = loadavg()
    p = stack.spawn(ctx.scratch, f"growth_{size}", ctx.log_dir)
    figures = {m: {"lat": [], "own": [], "recall": [], "strict": [], "returned": []} for m in ("hybrid", "semantic")}
    errors = 0
    try:
        p.wait_heartbeat()
        creds = ctx.creds(True, TABLE)
        t0 = time.perf_counter()
        _check(p.call(p.tool(creds, "search_memory", {"query": "warm up", "user_id": user_id(0), "top_k": top_k}),
                      timeout=900), "first open")
        first_open_s = time.perf_counter() - t0
        for i in range(5):
            _search(ctx, p, creds, user_id(i % users), "warm up", "hybrid", top_k)
        rss_warm = p.rss_kib()
        load = ctx.meter()
        cpu0 = p.cpu_seconds()
        with conn.cursor() as cur:
            for i, (uid, q) in enumerate(qs):
                for mode in (("hybrid", "semantic") if i % 2 == 0 else ("semantic", "hybrid")):
                    r = _search(ctx, p, creds, uid, q, mode, top_k)
                    if r is None:
                        errors += 1
                        continue
                    f = figures[mode]
                    f["lat"].append(r[0])
                    f["own"].append(r[1])
                    f["returned"].append(len(r[2]))
                    tie, strict = recall(r[2], exact_scope(cur, TABLE, uid, embed(q, ctx.dims)), top_k)
                    f["recall"].append(tie)
                    f["strict"].append(strict)
        search_cpu = p.cpu_seconds() - cpu0
        search_share = load.done()
        search_busy = search_share["cores"]["machine"]
        load_during = loadavg()
        rss_searches = p.rss_kib()
        # Sync adds (0 ms model): corpus turns of users the model server knows, each sent as a seeded user's
        # (whose 100 stored memories are the candidates), so facts are added, updated or found stored.
        add_creds = ctx.creds(False, TABLE)
        per_add = []
        load = ctx.meter()
        cpu0 = p.cpu_seconds()
        for i in range(adds):
            turn = dict(conversation(1000 + i, 1, ctx.seed)[0], user_id=user_id((i * 7919) % users))
            s, body, d = sync_add(ctx, p, add_creds, turn)
            model_ms = Model.total(d, "server_ms")
            per_add.append({"latency_ms": s.latency * 1000, "model_ms": model_ms, "own_ms": s.latency * 1000 - model_ms,
                            "events": [x.get("event") for x in (body.get("results") or []) if isinstance(x, dict)]})
        add_cpu = p.cpu_seconds() - cpu0
        add_cpu_share = load.done()
        add_busy = add_cpu_share["cores"]["machine"]
        rss_end = p.rss_kib()
    finally:
        p.stop()
        conn.close()
    events: dict[str, int] = {}
    for a in per_add:
        for e in a["events"]:
            events[e] = events.get(e, 0) + 1

    def summary(f):
        return {"latency": dist_ms(f["lat"]), "own_overhead": dist_ms(f["own"]),
                "recall_at_k_mean": round(statistics.mean(f["recall"]), 4) if f["recall"] else None,
                "recall_strict_mean": round(statistics.mean(f["strict"]), 4) if f["strict"] else None,
                "queries_with_full_recall": sum(1 for x in f["recall"] if x >= 0.999),
                "mean_returned": round(statistics.mean(f["returned"]), 2) if f["returned"] else None}

    result = {
        "size": size, "users": users, "top_k": top_k, "queries": queries, "errors": errors, "data": seeded,
        "first_open_s": round(first_open_s, 3), "hybrid": summary(figures["hybrid"]),
        "semantic": summary(figures["semantic"]),
        "plugin_cpu_ms_per_search": round(search_cpu * 1000 / max(1, sum(len(f["lat"]) for f in figures.values())), 3),
        "rss_after_warmup_kib": rss_warm, "rss_after_searches_kib": rss_searches, "rss_end_kib": rss_end,
        "sync_add": {"adds": len(per_add), "latency": dist_ms([a["latency_ms"] / 1000 for a in per_add]),
                     "own_overhead": dist_ms([a["own_ms"] / 1000 for a in per_add]), "events": events,
                     "plugin_cpu_ms_per_add": round(add_cpu * 1000 / max(1, len(per_add)), 2),
                     "machine_busy_cores": add_busy},
        "machine_busy_cores": search_busy, "cpu_shares": {"searches": search_share, "adds": add_cpu_share}, "loadavg_before": load_before, "loadavg_during": load_during,
        "db_statements": explain_plugin_statements(ctx.pg, TABLE, users, ctx.dims, question_terms)}
    ctx.save(stack, f"growth_{size}", result)
    print(f"[{stack.name}] growth {size}: hybrid own {result['hybrid']['own_overhead']} recall "
          f"{result['hybrid']['recall_at_k_mean']}; semantic own {result['semantic']['own_overhead']} recall "
          f"{result['semantic']['recall_at_k_mean']}; add own {result['sync_add']['own_overhead']}", flush=True)
    return result


def _unfilled(conn, table: str) -> int | None:
    """Rows of `table` without terms (None while the table has no `lexical` column)."""
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = 'lexical' "
                    "AND NOT attisdropped", (f'"{table}"',))
        if cur.fetchone() is None:
            return None
        cur.execute(f'SELECT count(*) FROM "{table}" WHERE lexical IS NULL')
        return cur.fetchone()[0]


def _wait_filled(conn, table: str, wait_s: float, every_s: float = 0.2) -> float | None:
    """Seconds until no row of `table` is without terms (the plugin's background fill), None past `wait_s`."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < wait_s:
        if _unfilled(conn, table) == 0:
            return round(time.perf_counter() - t0, 2)
        time.sleep(every_s)
    return None


def probe_migration(ctx: Ctx, stack: Stack, size: int, wait_s: float, fill_wait_s: float = 900.0) -> dict:
    """The plugin's first open of the same rows in Mem0's layout (what a user migrating from Mem0 has): the lexical
    column and the plugin's indexes dropped (the column is dropped in the catalog only, so rows keep their size),
    then up to two searches (the second shows whether an interrupted first open kept any work). Records how long
    each reply took, whether it was degraded, then how long the background fill of the terms took after the first
    search was answered (`fill_done_s`, None when not done within `fill_wait_s`; the plugin keeps running meanwhile)
    and how many rows got their terms. Run last: it leaves the table in Mem0's layout."""
    conn = pgdata.connect(ctx.pg)
    with conn.cursor() as cur:
        for key in SCOPE_KEYS:
            cur.execute(f'DROP INDEX IF EXISTS "{TABLE}_{key}_idx"')
        cur.execute(f'DROP INDEX IF EXISTS "{TABLE}_lexical_idx"')
        cur.execute(f'ALTER TABLE "{TABLE}" DROP COLUMN lexical')
        cur.execute(f'CREATE INDEX IF NOT EXISTS "{TABLE}_hnsw_idx" ON "{TABLE}" USING hnsw (vector vector_cosine_ops)')
    p = stack.spawn(ctx.scratch, f"growth_migrate_{size}", ctx.log_dir)
    out = {"size": size, "wait_s": wait_s, "fill_wait_s": fill_wait_s, "replies": []}
    try:
        p.wait_heartbeat()
        # A second search shows whether an interrupted first open kept any of its work.
        for _ in range(2):
            t0 = time.perf_counter()
            reply = {}
            try:
                s = p.call(p.tool(ctx.creds(True, TABLE), "search_memory",
                                  {"query": "warm up", "user_id": user_id(0), "top_k": 10}), timeout=wait_s)
                body = s.json_result() or {}
                reply.update(replied=True, degraded=bool(body.get("degraded")), error=s.error)
            except TimeoutError:
                reply.update(replied=False)
            reply["after_s"] = round(time.perf_counter() - t0, 2)
            with conn.cursor() as cur:
                cur.execute("SELECT now() - xact_start, left(query, 60) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND pid <> pg_backend_pid() AND state <> 'idle'")
                reply["busy_backends"] = [[str(x) for x in r] for r in cur.fetchall()]
            out["replies"].append(reply)
            print(f"[{stack.name}] growth migration {size}: {reply}", flush=True)
            if reply.get("replied") and not reply.get("degraded"):
                break
        out["fill_done_s"] = None
        if out["replies"][-1].get("replied"):
            # Sampled every 5 s: the count is a scan of the whole table.
            out["fill_done_s"] = _wait_filled(conn, TABLE, fill_wait_s, every_s=5.0)
            print(f"[{stack.name}] growth migration {size}: background fill done after {out['fill_done_s']} s",
                  flush=True)
    finally:
        p.stop()
    with conn.cursor() as cur:
        # The plugin's process is gone; its backend ends when its current statement does.
        for _ in range(600):
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                        "pid <> pg_backend_pid() AND state <> 'idle'")
            if cur.fetchone()[0] == 0:
                break
            time.sleep(1)
        out["rows_with_terms"] = None
        if _has_lexical(cur):
            cur.execute(f'SELECT count(*) FILTER (WHERE lexical IS NOT NULL) FROM "{TABLE}"')
            out["rows_with_terms"] = cur.fetchone()[0]
    conn.close()
    ctx.save(stack, f"growth_migrate_{size}", out)
    print(f"[{stack.name}] growth migration {size}: {out}", flush=True)
    return out


def _has_lexical(cur) -> bool:
    cur.execute("SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = 'lexical' AND NOT attisdropped",
                (TABLE,))
    return cur.fetchone() is not None


def run_growth(ctx: Ctx, stack: Stack, sizes: list[int], queries: int, adds: int, migrate: set[int],
               migrate_wait_s: float, hnsw_max: int | None, migrate_fill_wait_s: float = 900.0) -> None:
    """Every size in turn (one table, re-seeded per size); the lexical dictionary is taken from the plugin once."""
    texts = sorted({f for size in sizes for fs in _facts(size, max(1, size // PER_USER), ctx.seed) for f in fs})
    questions = sorted(set(QUESTIONS.values()))
    lexical, dict_open_s = plugin_lexical(ctx, stack, texts + [q for q in questions if q not in texts])
    question_terms = {q: terms_of(lexical[q]) for q in questions}
    print(f"growth: {len(texts)} distinct texts, the plugin's terms taken in {dict_open_s:.2f} s", flush=True)
    for size in sizes:
        users = max(1, size // PER_USER)
        hnsw = hnsw_max is None or size <= hnsw_max
        seeded = seed_final(ctx.pg, TABLE, size, users, ctx.dims, lexical, hnsw=hnsw, seed=ctx.seed)
        seeded["dictionary_first_open_s"] = round(dict_open_s, 3)
        print(f"growth: seeded {seeded}", flush=True)
        exp_growth(ctx, stack, size, seeded, question_terms, queries=queries, adds=adds)
        if size in migrate:
            probe_migration(ctx, stack, size, migrate_wait_s, migrate_fill_wait_s)
    conn = pgdata.connect(ctx.pg)
    if os.environ.get("BENCH_KEEP_GROWTH_TABLE") != "1":
        pgdata.drop(conn, TABLE)
    conn.close()
