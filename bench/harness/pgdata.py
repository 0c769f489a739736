"""PostgreSQL side: Mem0-format tables (id uuid, vector, payload jsonb), bulk seeding, row counts.

The seeded table is exactly what mem0 1.0.1's pgvector store creates (`CREATE TABLE <collection>
(id UUID PRIMARY KEY, vector vector(<dims>), payload JSONB)` plus the HNSW cosine index
`<collection>_hnsw_idx` it creates by default), with payloads shaped like mem0's
(data, hash, created_at, updated_at, user_id), so both stacks read the same rows."""
import hashlib
import io
import json
import random
import time
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg2

from .corpus import user_facts, user_id
from .embedding import embed


def connect(pg: dict):
    conn = psycopg2.connect(host=pg["host"], port=int(pg["port"]), user=pg["user"], password=pg["password"],
                            dbname=pg["db"])
    conn.autocommit = True
    return conn


def table_exists(conn, table: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (table,))
        return cur.fetchone()[0] is not None


def count_rows(conn, table: str) -> int:
    if not table_exists(conn, table):
        return 0
    with conn.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM "{table}"')
        return cur.fetchone()[0]


def drop(conn, table: str) -> None:
    """Drops a collection with what mem0-dify keeps beside it (its write journal and history), so that
    every run starts from nothing: a journal left by an earlier run would answer the same adds as
    repeats (issue 15's repeat window) instead of writing them."""
    with conn.cursor() as cur:
        for name in (table, f"{table}_journal", f"{table}_history"):
            cur.execute(f'DROP TABLE IF EXISTS "{name}" CASCADE')


def backends(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cur.fetchone()[0] - 1


def memories_for(size: int, users: int, seed: int):
    """(user, text) pairs: `size` memories spread evenly over `users` users."""
    per_user, extra = divmod(size, users)
    for u in range(users):
        for slot_fact in user_facts(u, per_user + (1 if u < extra else 0), seed):
            yield u, slot_fact[1]


BASE_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)  # `created_at` of the first seeded memory


def new_table(pg: dict, table: str, dims: int, extra_columns: str = ""):
    """A connection, after (re)creating `table` empty in Mem0's layout (plus `extra_columns`, e.g. ", lexical tsvector")."""
    conn = connect(pg)
    drop(conn, table)
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
        cur.execute(f'CREATE TABLE "{table}" (id UUID PRIMARY KEY, vector vector({dims}), payload JSONB{extra_columns})')
    return conn


def seed_table(pg: dict, table: str, size: int, users: int, dims: int, seed: int = 1) -> dict:
    """(Re)create `table` in Mem0's layout with `size` memories over `users` users. Returns ground truth
    material: per user the ids and the float32 vectors as stored."""
    conn = new_table(pg, table, dims)
    rng = random.Random(f"{seed}:ids:{size}")
    base = BASE_TIME
    t0 = time.perf_counter()
    truth: dict[str, dict] = {}
    buf = io.StringIO()
    n = 0
    for u, text in memories_for(size, users, seed):
        vec = np.asarray(embed(text, dims), dtype=np.float32)
        mid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        created = (base + timedelta(seconds=n)).isoformat()
        uid = user_id(u)
        payload = {"data": text, "hash": hashlib.md5(text.encode()).hexdigest(), "created_at": created,
                   "updated_at": None, "user_id": uid}
        entry = truth.setdefault(uid, {"ids": [], "vecs": []})
        entry["ids"].append(mid)
        entry["vecs"].append(vec)
        buf.write(f"{mid}\t[{','.join(repr(float(x)) for x in vec)}]\t{json.dumps(payload)}\n".replace("\\", "\\\\"))
        n += 1
        if n % 5000 == 0:
            _copy(conn, table, buf)
            buf = io.StringIO()
    _copy(conn, table, buf)
    t1 = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute(f'CREATE INDEX IF NOT EXISTS "{table}_hnsw_idx" ON "{table}" USING hnsw (vector vector_cosine_ops)')
        t2 = time.perf_counter()
        cur.execute(f'VACUUM ANALYZE "{table}"')
        cur.execute("SELECT pg_total_relation_size(%s), pg_relation_size(%s)", (table, f"{table}_hnsw_idx"))
        total_bytes, index_bytes = cur.fetchone()
        plan = mem0_query_plan(cur, table, dims)
    conn.close()
    for entry in truth.values():
        entry["vecs"] = np.vstack(entry["vecs"])
    return {"truth": truth, "info": {"rows": n, "users": users, "dims": dims, "load_s": round(t1 - t0, 1),
                                     "index_s": round(t2 - t1, 1), "table_bytes": total_bytes,
                                     "hnsw_bytes": index_bytes, "mem0_query_plan": plan}}


def clone_table(pg: dict, src: str, dst: str, dims: int) -> None:
    """`dst` = an identical copy of `src` in Mem0's layout with its own HNSW index, so each stack searches
    rows of its own (a stack may add indexes to a table it uses; the other must not profit from them)."""
    conn = connect(pg)
    drop(conn, dst)
    with conn.cursor() as cur:
        cur.execute(f'CREATE TABLE "{dst}" (id UUID PRIMARY KEY, vector vector({dims}), payload JSONB)')
        cur.execute(f'INSERT INTO "{dst}" SELECT id, vector, payload FROM "{src}"')
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute(f'CREATE INDEX "{dst}_hnsw_idx" ON "{dst}" USING hnsw (vector vector_cosine_ops)')
        cur.execute(f'VACUUM ANALYZE "{dst}"')
    conn.close()


def probe_exact_query(pg: dict, table: str, dims: int, users: int, n: int = 30, top_k: int = 10) -> dict:
    """PostgreSQL's own execution time (EXPLAIN ANALYZE) of an exact per-user top-k — the database's share of
    a correct search at this size, whatever the plugin — with index scans off, as an exact scan runs it."""
    conn = connect(pg)
    times, plans = [], set()
    rng = random.Random(f"probe:{table}")
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute("SET LOCAL enable_indexscan = off")
        for _ in range(n):
            vec = "[" + ",".join(repr(x) for x in embed(query_text(rng), dims)) + "]"
            cur.execute(f'EXPLAIN (ANALYZE, FORMAT JSON) SELECT id, payload, vector <=> %s::vector AS d FROM "{table}" '
                        "WHERE payload->>'user_id' = %s ORDER BY d LIMIT %s", (vec, user_id(rng.randrange(users)), top_k))
            plan = cur.fetchone()[0][0]
            times.append(plan["Execution Time"])
            plans.add(_node_types(plan["Plan"]))
        cur.execute("ROLLBACK")
    conn.close()
    times.sort()
    return {"queries": n, "execution_ms_p50": round(times[len(times) // 2], 3),
            "execution_ms_p95": round(times[int(len(times) * 0.95) - 1], 3), "plans": sorted(plans)}


def _node_types(node: dict) -> str:
    kids = node.get("Plans") or []
    inner = ", ".join(_node_types(k) for k in kids)
    name = node.get("Node Type", "?") + (f" on {node['Index Name']}" if node.get("Index Name") else "")
    return f"{name}({inner})" if inner else name


def query_text(rng: random.Random) -> str:
    from .corpus import query_for
    return query_for(rng)


def drop_hnsw(pg: dict, table: str, dims: int) -> str:
    """Drops Mem0's HNSW index (what a user gets with `"hnsw": false`): mem0's query becomes an exact scan.
    Returns the new plan."""
    conn = connect(pg)
    with conn.cursor() as cur:
        cur.execute(f'DROP INDEX IF EXISTS "{table}_hnsw_idx"')
        plan = mem0_query_plan(cur, table, dims)
    conn.close()
    return plan


def mem0_query_plan(cur, table: str, dims: int, top_k: int = 10) -> str:
    """How PostgreSQL runs mem0 1.0.1's filtered search on this table (the planner picks the HNSW index or
    an exact scan from its cost estimates, which depend on the index size: it can differ between seedings)."""
    vec = "[" + ",".join(repr(x) for x in embed("Which city do I live in?", dims)) + "]"
    cur.execute(f'EXPLAIN SELECT id, vector <=> %s::vector AS distance, payload FROM "{table}" '
                "WHERE payload->>'user_id' = %s ORDER BY distance LIMIT %s", (vec, user_id(0), top_k))
    lines = [r[0] for r in cur.fetchall()]
    if any("hnsw" in line for line in lines):
        return "HNSW index scan, user filter applied after"
    if any("Seq Scan" in line for line in lines):
        return "sequential scan + sort (exact)"
    return lines[0].strip() if lines else "?"


def _copy(conn, table: str, buf: io.StringIO) -> None:
    buf.seek(0)
    with conn.cursor() as cur:
        cur.copy_expert(f'COPY "{table}" (id, vector, payload) FROM STDIN', buf)


def exact_top(truth_entry: dict, query_vec: np.ndarray, k: int) -> tuple[list[str], float, dict[str, float]]:
    """Exact cosine top-k over one user's stored vectors: (ids, score of the k-th, every id's score), the
    last two for tie-aware recall."""
    vecs = truth_entry["vecs"]
    sims = vecs @ query_vec / (np.linalg.norm(vecs, axis=1) * np.linalg.norm(query_vec) + 1e-12)
    order = np.argsort(-sims, kind="stable")[:k]
    return [truth_entry["ids"][i] for i in order], float(sims[order[-1]]), {truth_entry["ids"][i]: float(sims[i]) for i in range(len(sims))}
