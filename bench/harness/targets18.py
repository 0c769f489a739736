"""Issue 18's targets (search overhead, write throughput, growth) as a table of BENCHMARKS.md, each with its
verdict against the figures of this report, and the written reasons and next steps of the misses
(`results/speed_notes.md`, kept by hand: the numbers it quotes are this table's).

`harness.report` renders it right after the issue-8 targets."""
import os

from .report import EMBEDDED_TARGET, Figures, embedded_vs_pgvector, g as _get

SIZES = (1000, 10000, 100000)
NOTES = "speed_notes.md"


def _ms(v, nd=2):
    return "—" if v is None else f"{v:,.{nd}f} ms"


def _verdict(ok):
    return "not measured" if ok is None else ("**met**" if ok else "**missed**")


def _at_most(value, limit):
    return None if value is None else value <= limit


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def rows(data: dict) -> list[tuple[str, str, str]]:
    """(target, Rust figure, verdict) rows from the loaded results (`harness.report.load`)."""
    rust, python = data.get("rust", {}), data.get("python", {})
    out = []

    def search(size, q):
        return _get(rust.get(f"search_{size}", {}), f"own_overhead.{q}_ms")

    for size, limit in ((1000, 0.8), (10000, 0.8), (100000, 1.5)):
        p50 = search(size, "p50")
        out.append((f"search own overhead p50 ≤ {limit} ms at {_size(size)} (pgvector, hybrid)", _ms(p50),
                    _verdict(_at_most(p50, limit))))
    p95s = [search(s, "p95") for s in SIZES]
    have = [x for x in p95s if x is not None]
    out.append(("search own overhead p95 ≤ 3 ms at 1k / 10k / 100k", " / ".join(_ms(x) for x in p95s),
                _verdict(max(have) <= 3 if len(have) == len(SIZES) else None)))
    value, ok, margin = embedded_vs_pgvector(Figures(rust, None, "rust"))
    out.append((EMBEDDED_TARGET, f"{value} ({margin})" if value else "—", _verdict(ok)))

    def applied(stack):
        d = stack.get("async_add_0ms_pipelined") or stack.get("async_add_0ms") or {}
        return _get(d, "median.applied_adds_per_s")

    rs_tp, py_tp = applied(rust), applied(python)
    ratio = rs_tp / py_tp if rs_tp and py_tp else None
    out.append(("async adds applied/s, 0 ms model, ≥ 10× the Python plugin in the same run",
                "—" if ratio is None else f"{ratio:.1f}× ({rs_tp:,.0f} vs {py_tp:,.1f} adds/s)",
                _verdict(None if ratio is None else ratio >= 10)))
    out.append(("async adds applied/s ≥ 1,000 when the fake model is not the limit",
                "—" if rs_tp is None else f"{rs_tp:,.0f} adds/s", _verdict(None if rs_tp is None else rs_tp >= 1000)))
    cpu = _get(rust.get("async_add_0ms", {}), "median.plugin_cpu_ms_per_add")
    out.append(("plugin CPU per async add ≤ 1 ms", _ms(cpu), _verdict(_at_most(cpu, 1.0))))
    ack = (_get(rust.get("async_add_0ms", {}), "median") or {}).get("ack.p95_ms")  # a key with a dot
    out.append(("async add ACK p95 ≤ 2 ms (0 ms model)", _ms(ack), _verdict(_at_most(ack, 2.0))))
    growth = sorted((int(k[len("growth_"):]), v) for k, v in rust.items()
                    if k.startswith("growth_") and k[len("growth_"):].isdigit())
    if growth:
        recalls = [_get(v, "semantic.recall_at_k_mean") for _, v in growth]
        sizes = " / ".join(_size(n) for n, _ in growth)
        have = [r for r in recalls if r is not None]
        out.append((f"growth to 1M: recall of each user's exact top-10 stays 1.0 (vector search; {sizes})",
                    " / ".join("—" if r is None else f"{r:.3f}" for r in recalls),
                    _verdict(None if len(have) != len(recalls) or growth[-1][0] < 1_000_000 else min(have) >= 0.9995)))
    else:
        out.append(("growth to 1M: recall of each user's exact top-10 stays 1.0 (vector search)", "—",
                    _verdict(None)))
    return out


def section(data: dict) -> str:
    """The issue-18 targets table and the notes on its misses, as markdown."""
    lines = ["## Targets (issue 18)\n", "| target | Rust | verdict |", "|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows(data)]
    lines.append("")
    notes = os.path.join(data.get("_results", ""), NOTES)
    if os.path.exists(notes):
        with open(notes) as f:
            lines.append(f.read().rstrip() + "\n")
    return "\n".join(lines)
