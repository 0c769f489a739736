"""Renders the growth experiment (results/rust/growth_<N>.json, `harness/growth.py`) as BENCHMARKS.md's own section,
between the markers below: the 1k → 100k → 1M table of search and add costs, recall and memory.

    python -m harness.growth_report [--results bench/results] [--out BENCHMARKS.md]

`harness.report` calls `render_into` too (re-rendering the speed report keeps this section: from the results when
there are any, else as it was)."""
import json
import os

from .locomo_report import section_main, write_section

START, END = "<!-- growth:start -->", "<!-- growth:end -->"
MIB = 1024 * 1024


def load(results: str) -> tuple[dict[int, dict], dict[int, dict]]:
    """({size: growth result}, {size: migration probe}) found under results/rust."""
    runs, migrations = {}, {}
    d = os.path.join(results, "rust")
    if os.path.isdir(d):
        for f in os.listdir(d):
            for prefix, into in (("growth_migrate_", migrations), ("growth_", runs)):
                stem = f[len(prefix):-len(".json")]
                if f.startswith(prefix) and f.endswith(".json") and stem.isdigit():
                    with open(os.path.join(d, f)) as fh:
                        into[int(stem)] = json.load(fh)
                    break
    return runs, migrations


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n))


def _get(d, path):
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _pair(r: dict, a: str, b: str, nd=2) -> str:
    x, y = _get(r, a), _get(r, b)
    return "—" if x is None or y is None else f"{x:.{nd}f} / {y:.{nd}f}"


def _one(r: dict, path: str, nd=2, scale=1.0) -> str:
    x = _get(r, path)
    return "—" if x is None else f"{x * scale:,.{nd}f}"


def _growth(runs: dict, path: str, scale=1.0) -> str:
    sizes = sorted(runs)
    if len(sizes) < 2:
        return ""
    a, b = _get(runs[sizes[0]], path), _get(runs[sizes[-1]], path)
    return f"{b / a:.2f}×" if a and b is not None else "—"


def _db(r: dict, statement: str) -> str:
    xs = [_get(r, f"db_statements.{plan}.{statement}.execution_ms_p50") for plan in ("custom_cold", "custom", "generic")]
    return " / ".join("—" if x is None else f"{x:.3f}" for x in xs)


ROWS = [
    ("search own overhead p50 / p95, hybrid (default) (ms)", lambda r: _pair(r, "hybrid.own_overhead.p50_ms", "hybrid.own_overhead.p95_ms"),
     "hybrid.own_overhead.p50_ms"),
    ("search own overhead p50 / p95, semantic (ms)", lambda r: _pair(r, "semantic.own_overhead.p50_ms", "semantic.own_overhead.p95_ms"),
     "semantic.own_overhead.p50_ms"),
    ("search latency p50, hybrid (ms; with the 0 ms model's embedding call)", lambda r: _one(r, "hybrid.latency.p50_ms"),
     "hybrid.latency.p50_ms"),
    ("**recall of the user's exact top-10**, semantic (tie-aware / strict)",
     lambda r: _pair(r, "semantic.recall_at_k_mean", "semantic.recall_strict_mean", 3), None),
    ("hybrid: share of the exact vector top-10 returned (keyword matches may displace some)",
     lambda r: _one(r, "hybrid.recall_at_k_mean", 3), None),
    ("searches answered (errors or degraded)", lambda r: f"{_get(r, 'hybrid.latency.n')} + {_get(r, 'semantic.latency.n')} "
                                                         f"({r.get('errors', 0)})", None),
    ("plugin CPU per search (ms)", lambda r: _one(r, "plugin_cpu_ms_per_search"), "plugin_cpu_ms_per_search"),
    ("RSS after the searches / after the adds (MiB)",
     lambda r: f"{r['rss_after_searches_kib'] / 1024:.1f} / {r['rss_end_kib'] / 1024:.1f}", "rss_after_searches_kib"),
    ("sync add own overhead p50 / p95 (ms, 0 ms model)", lambda r: _pair(r, "sync_add.own_overhead.p50_ms", "sync_add.own_overhead.p95_ms"),
     "sync_add.own_overhead.p50_ms"),
    ("sync add events (ADD / UPDATE / NONE)", lambda r: " / ".join(str(_get(r, f"sync_add.events.{e}") or 0)
                                                                   for e in ("ADD", "UPDATE", "NONE")), None),
    ("PostgreSQL alone: the plugin's vector statement, EXPLAIN ANALYZE p50, user's rows cold / warm custom / "
     "warm generic plan (ms)", lambda r: _db(r, "vector"), "db_statements.custom.vector.execution_ms_p50"),
    ("PostgreSQL alone: the plugin's keyword statement, the same (ms)", lambda r: _db(r, "keyword"),
     "db_statements.custom.keyword.execution_ms_p50"),
    ("first open of the seeded table: first search's reply (s)", lambda r: _one(r, "first_open_s", 2), "first_open_s"),
    ("machine busy cores during the searches (2 = all)", lambda r: _one(r, "machine_busy_cores"), None),
    ("load average before / during (1 min)", lambda r: f"{r['loadavg_before'][0]:.2f} / {r['loadavg_during'][0]:.2f}", None),
]


def section(runs: dict, migrations: dict) -> str:
    sizes = sorted(runs)
    lines = [START, "## Growth to 1M memories (issue 18, pgvector, Rust only)", ""]
    first = runs[sizes[0]]
    lines.append(
        f"`bench/run.sh --stacks rust --only growth --sizes {','.join(str(s) for s in sizes)}` (harness/growth.py): "
        "N memories over N/100 users (100 each; 10k users at 1M), seeded directly in the plugin's final table shape "
        "(Mem0's columns + `lexical`, with the HNSW, scope, hash and GIN indexes the plugin creates; the terms are the "
        "plugin's own), rows written round-robin over users. Per size one plugin process, "
        f"{first['queries']} searches for random users (`top_k` {first['top_k']}) in the default hybrid mode and in the "
        "semantic mode back to back (alternating which goes first, so one of the two finds the user's rows already "
        "read); own overhead = latency − time inside the fake model; recall against an exact SQL "
        "`ORDER BY vector <=> q` over the user's rows after each search; then "
        f"{_get(first, 'sync_add.adds')} sync adds (0 ms model) of corpus turns to seeded users.")
    lines += ["", "| figure | " + " | ".join(_size(s) for s in sizes) + (f" | {_size(sizes[0])} → {_size(sizes[-1])} |"
                                                                         if len(sizes) > 1 else " |"),
              "|---|" + "---|" * (len(sizes) + (1 if len(sizes) > 1 else 0))]
    for name, cell, grow in ROWS:
        row = [name] + [cell(runs[s]) for s in sizes]
        if len(sizes) > 1:
            row.append(_growth(runs, grow) if grow else "")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Tables:"]
    for s in sizes:
        d = runs[s]["data"]
        idx = ", ".join(f"{k.removesuffix('_idx')} {v} s" for k, v in d["index_s"].items())
        lines.append(f"- {_size(s)}: {d['rows']:,} rows, {d['users']:,} users, {d['distinct_texts']:,} distinct texts; "
                     f"COPY {d['load_s']} s, indexes {idx}, VACUUM ANALYZE {d['vacuum_analyze_s']} s; "
                     f"{d['table_bytes'] / MIB:,.1f} MiB in all (heap {d['heap_bytes'] / MIB:,.1f} MiB, "
                     f"HNSW {d['index_bytes'].get('hnsw_idx', 0) / MIB:,.1f} MiB)"
                     + ("" if d.get("hnsw", True) else "; **no HNSW index** (not built at this size)") + ".")
    plans = {}
    for s in sizes:
        for name, v in (_get(runs[s], "db_statements.custom") or {}).items():
            for p in v["plans"]:
                plans.setdefault((name, p), []).append(_size(s))
    if plans:
        lines += ["", "Plans of the plugin's statements (custom plans; EXPLAIN ANALYZE of 30 random users per size):"]
        for (name, p), at in sorted(plans.items()):
            lines.append(f"- {name} ({', '.join(at)}): `{p}`")
    if migrations:
        lines += ["", "First open of the same rows in Mem0's layout (no `lexical` column, no scope/GIN indexes: a table "
                      "Mem0 wrote), i.e. the plugin's migration on its first search (column and indexes; the terms are "
                      "filled in the background afterwards):", ""]
        for s in sorted(migrations):
            m = migrations[s]
            replies = "; ".join(
                f"search {i + 1}: " + ("no reply" if not r.get("replied") else
                                       "degraded (empty result)" if r.get("degraded") else "answered")
                + f" after {r['after_s']} s" for i, r in enumerate(m.get("replies") or []))
            terms = m.get("rows_with_terms")
            fill = ""
            if "fill_done_s" in m:
                done = m["fill_done_s"]
                fill = (f"; background fill of the terms done {done} s after that reply" if done is not None
                        else f"; background fill not done within {m.get('fill_wait_s', '?')} s")
            lines.append(f"- {_size(s)}: {replies}{fill}; rows with terms afterwards: "
                         f"{'none (the column itself was rolled back)' if terms is None else f'{terms:,}'}.")
    lines.append(END)
    return "\n".join(lines) + "\n"


def render_into(path: str, results: str, kept: str = "") -> bool:
    """Replaces (or appends) the growth section of the document at `path` from `results`, or puts `kept` (the
    section as it was) back when there are no growth results; False when neither."""
    runs, migrations = load(results)
    return write_section(path, section(runs, migrations) if runs else kept, START, END)


if __name__ == "__main__":
    section_main(__doc__, render_into, "growth")
