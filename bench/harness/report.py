"""Writes BENCHMARKS.md and the search latency plot from results/<stack>/*.json.

    python -m harness.report [--results bench/results] [--out BENCHMARKS.md] [--plot bench/plots/search_latency_vs_size.png]
"""
import argparse
import json
import os
import statistics

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(HERE)
SIZES = (1000, 10000, 100000)
MB = 1_000_000
MIB = 1024 * 1024


def load(results: str) -> dict:
    data = {"python": {}, "rust": {}}
    for stack in ("python", "rust"):
        d = os.path.join(results, stack)
        if os.path.isdir(d):
            for f in sorted(os.listdir(d)):
                if f.endswith(".error.json"):
                    with open(os.path.join(d, f)) as fh:
                        data.setdefault("errors", []).append((stack, json.load(fh)))
                elif f.endswith(".json"):
                    with open(os.path.join(d, f)) as fh:
                        data[stack][f[:-5]] = json.load(fh)
    for name in ("machine", "install_python", "install_rust", "tables"):
        p = os.path.join(results, f"{name}.json")
        if os.path.exists(p):
            with open(p) as fh:
                data[name] = json.load(fh)
    return data


def g(d, path, default=None):
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def fmt(v, unit="", nd=1):
    if v is None:
        return "—"
    if isinstance(v, float):
        s = f"{v:,.{nd}f}"
    else:
        s = f"{v:,}"
    return f"{s}{unit}"


def ratio(py, rs, higher_better=False):
    if py in (None, 0) or rs in (None, 0):
        return "—"
    r = rs / py if higher_better else py / rs
    return f"{r:,.1f}×"


class Figures:
    """The headline numbers of one stack (None where not measured)."""

    def __init__(self, d: dict, install: dict | None, stack: str):
        st = d.get("startup", {})
        self.heartbeat_ms = g(st, "median.first_heartbeat_ms")
        self.rss_idle_kib = g(st, "median.rss_idle_kib")
        self.cpu_hb_s = g(st, "median.cpu_s_at_heartbeat")
        self.heartbeat_direct_ms = g(d.get("startup_direct", {}), "median.first_heartbeat_ms")
        self.startup_runs = st.get("runs") or [{"first_heartbeat_ms": 0}]
        self.rss_idle_direct_kib = g(d.get("startup_direct", {}), "median.rss_idle_kib")
        loaded = [g(d.get(f"search_{s}", {}), "rss_end_kib") for s in SIZES] + \
                 [(d.get("async_add_0ms", {}).get("median") or {}).get("rss_peak_kib"), g(d.get("sync_add_0ms", {}), "rss_end_kib")]
        loaded = [x for x in loaded if x]
        self.rss_loaded_kib = max(loaded) if loaded else None
        aa = d.get("async_add_0ms", {})
        self.ack_p50 = (aa.get("median") or {}).get("ack.p50_ms")
        self.ack_p95 = (aa.get("median") or {}).get("ack.p95_ms")
        self.async_applied_seq = (aa.get("median") or {}).get("applied_adds_per_s")
        pipelined = d.get("async_add_0ms_pipelined", {})
        # The throughput figure: adds sent pipelined (the send rate never paces the applying), else one at a time.
        self.async_applied = (pipelined.get("median") or {}).get("applied_adds_per_s") or self.async_applied_seq
        self.async_window = pipelined.get("window")
        self.async_cpu_ms = (aa.get("median") or {}).get("plugin_cpu_ms_per_add")
        slow_a, slow_s = d.get("async_add_200ms", {}), d.get("sync_add_200ms", {})
        self.ack200_p50 = (slow_a.get("median") or {}).get("ack.p50_ms")
        self.ack200_p95 = (slow_a.get("median") or {}).get("ack.p95_ms")
        self.async200_applied = (slow_a.get("median") or {}).get("applied_adds_per_s")
        self.sync200_lat_p50 = g(slow_s, "all.latency.p50_ms")
        self.sync200_own_p50 = g(slow_s, "all.own_overhead.p50_ms")
        self.sync200_own_p95 = g(slow_s, "all.own_overhead.p95_ms")
        sa = d.get("sync_add_0ms", {})
        self.sync_lat_p50 = g(sa, "all.latency.p50_ms")
        self.sync_own_p50 = g(sa, "all.own_overhead.p50_ms")
        self.sync_own_p95 = g(sa, "all.own_overhead.p95_ms")
        self.sync_cpu_ms = g(sa, "plugin_cpu_ms_per_add")
        self.llm_fresh = g(sa, "nothing_stored.llm_calls_per_add")
        self.llm_fresh_max = g(sa, "nothing_stored.llm_calls_max")
        self.llm_related = g(sa, "related_stored.llm_calls_per_add")
        self.llm_max = g(sa, "all.llm_calls_max")
        self.llm_all = g(sa, "all.llm_calls_per_add")
        self.tok_fresh = g(sa, "nothing_stored.prompt_tokens_per_add")
        self.tok_related = g(sa, "related_stored.prompt_tokens_per_add")
        self.tok_all = g(sa, "all.prompt_tokens_per_add")
        self.chars_all = g(sa, "all.prompt_chars_per_add")
        self.embed_all = g(sa, "all.embed_calls_per_add")
        tp = d.get("sync_throughput_c8", {})
        self.sync_tput = g(tp, "adds_per_s")
        self.sync_tput_errors = g(tp, "errors")
        self.search = {s: d.get(f"search_{s}") for s in SIZES}
        self.search_exact = {s: d.get(f"search_{s}_exact") for s in SIZES}
        self.search_beside = {s: d.get(f"search_{s}_beside_exact") or d.get(f"search_{s}") for s in SIZES}
        # The plugin on its embedded store and, interleaved with it, on pgvector (issue 18; Rust only).
        self.search_embedded = {s: d.get(f"search_embedded_{s}") for s in SIZES}
        self.search_embedded_pg = {s: d.get(f"search_embedded_{s}_pgvector") for s in SIZES}
        inst = install or {}
        if stack == "python":
            runs = inst.get("runs", [])
            cold = [r for r in runs if r["kind"] == "cold"]
            warm = sorted(r["install_s"] + r["venv_s"] for r in runs if r["kind"] == "warm")
            self.pkg_bytes = inst.get("package_bytes")
            self.installed_bytes = (cold or runs or [{}])[0].get("venv_bytes")
            self.install_cold_s = (cold[0]["install_s"] + cold[0]["venv_s"]) if cold else None
            self.install_warm_s = warm[len(warm) // 2] if warm else None
            self.packages = (cold or runs or [{}])[0].get("packages")
        else:
            self.pkg_bytes = inst.get("package_bytes") or inst.get("binary_bytes")
            self.installed_bytes = (inst.get("installed_bytes", 0) + inst.get("venv_bytes", 0)) or inst.get("binary_bytes")
            self.install_cold_s = inst.get("total_s")
            self.install_warm_s = inst.get("total_s")
            self.packages = 0 if inst.get("package_bytes") else None

    def s(self, size, path):
        return g(self.search.get(size) or {}, path)

    def sb(self, size, path):
        """A figure of the search run interleaved with Mem0's exact variant (else the main search)."""
        return g(self.search_beside.get(size) or {}, path)

    def se(self, size, path):
        """A figure of the search on the same table without Mem0's HNSW index (exact; Python only)."""
        return g(self.search_exact.get(size) or {}, path)

    def emb(self, size, path, store="embedded"):
        """A figure of the search on the embedded store (`store="pgvector"`: of the pgvector run beside it)."""
        return g((self.search_embedded if store == "embedded" else self.search_embedded_pg).get(size) or {}, path)


EMBEDDED_TARGET = "embedded store no slower than pgvector at 10k (search own overhead p50, same queries, interleaved)"


def embedded_vs_pgvector(rs: Figures, size: int = 10000) -> tuple:
    """(value, ok, margin) of the target "embedded no slower than pgvector": the embedded store's own overhead p50 at
    most pgvector's, both measured in the same run, interleaved (None when not measured); the p95s are shown beside
    it (a tail of 200 searches moves with the machine from run to run)."""
    e50, e95 = rs.emb(size, "own_overhead.p50_ms"), rs.emb(size, "own_overhead.p95_ms")
    g50, g95 = rs.emb(size, "own_overhead.p50_ms", "pgvector"), rs.emb(size, "own_overhead.p95_ms", "pgvector")
    if None in (e50, e95, g50, g95):
        return None, None, ""
    value = f"{fmt(e50, '', 2)} / {fmt(e95, ' ms', 2)} vs pgvector {fmt(g50, '', 2)} / {fmt(g95, ' ms', 2)}"
    margin = (f"embedded ÷ pgvector: p50 {e50 / g50:.2f}×, p95 {e95 / g95:.2f}×" if g50 and g95 else "")
    return value, e50 <= g50, margin


def verdict(ok, have_rust=True):
    if not have_rust:
        return "not measured"
    if ok is None:
        return "not measured"
    return "**met**" if ok else "**missed**"


def targets(py: Figures, rs: Figures, have_rust: bool) -> list[tuple]:
    """(target, rust value, verdict, margin) rows."""
    rows = []

    def add(name, value, ok, margin):
        measured = value not in (None, "—") and not str(value).startswith("—")
        rows.append((name, value if measured else "—", verdict(ok if measured else None, have_rust),
                     margin if measured else ""))

    add("start → first heartbeat ≤ 50 ms (as started: package launcher, else binary)", fmt(rs.heartbeat_ms, " ms"),
        rs.heartbeat_ms is not None and rs.heartbeat_ms <= 50, _margin(rs.heartbeat_ms, 50, " ms"))
    idle_mb = rs.rss_idle_kib * 1024 / MB if rs.rss_idle_kib else None
    add("idle RSS ≤ 30 MB", fmt(idle_mb, " MB"), idle_mb is not None and idle_mb <= 30, _margin(idle_mb, 30, " MB"))
    pkg_mib = rs.pkg_bytes / MIB if rs.pkg_bytes else None
    add("package ≤ 15 MiB", fmt(pkg_mib, " MiB", 2), pkg_mib is not None and pkg_mib <= 15, _margin(pkg_mib, 15, " MiB"))
    add("async add ACK p95 ≤ 5 ms", fmt(rs.ack_p95, " ms", 2), rs.ack_p95 is not None and rs.ack_p95 <= 5,
        _margin(rs.ack_p95, 5, " ms"))
    add("sync add own overhead ≤ 20 ms (p50)", fmt(rs.sync_own_p50, " ms"), rs.sync_own_p50 is not None and rs.sync_own_p50 <= 20,
        _margin(rs.sync_own_p50, 20, " ms"))
    p50, p95 = rs.s(100000, "own_overhead.p50_ms"), rs.s(100000, "own_overhead.p95_ms")
    add("search own overhead p50 ≤ 5 ms at 100k", fmt(p50, " ms", 2), p50 is not None and p50 <= 5, _margin(p50, 5, " ms"))
    add("search own overhead p95 ≤ 20 ms at 100k", fmt(p95, " ms", 2), p95 is not None and p95 <= 20, _margin(p95, 20, " ms"))
    recalls = [rs.s(s, "recall_at_k_mean") for s in SIZES]
    have = [r for r in recalls if r is not None]
    add("recall of the user's top-10 ≥ 0.99 at every size",
        " / ".join(fmt(r, "", 3) for r in recalls) if len(have) == len(SIZES) else None,
        bool(have) and len(have) == len(SIZES) and min(have) >= 0.99, f"lowest {min(have):.3f}" if have else "")
    add("LLM calls per add = 1 when nothing related is stored", fmt(rs.llm_fresh, "", 2),
        rs.llm_fresh is not None and rs.llm_fresh_max == 1, f"max {rs.llm_fresh_max}" if rs.llm_fresh_max is not None else "")
    add("LLM calls per add never more than Mem0's", fmt(rs.llm_max, " max"),
        rs.llm_max is not None and py.llm_max is not None and rs.llm_max <= py.llm_max, f"Mem0: {fmt(py.llm_max)} per add")
    add("prompt tokens per add below Mem0's", fmt(rs.tok_all, ""),
        rs.tok_all is not None and py.tok_all is not None and rs.tok_all < py.tok_all,
        f"{(rs.tok_all / py.tok_all - 1) * 100:+.0f} % vs Mem0's {py.tok_all:,.0f}" if rs.tok_all and py.tok_all else "")
    r_tp = rs.async_applied / py.async_applied if rs.async_applied and py.async_applied else None
    add("≥ 10× Mem0's add throughput (async, 0 ms model)", fmt(r_tp, "×"), r_tp is not None and r_tp >= 10,
        f"{fmt(rs.async_applied, ' adds/s')} vs {fmt(py.async_applied, ' adds/s')}")
    r_s = [(py.s(s, "own_overhead.p50_ms") / rs.s(s, "own_overhead.p50_ms"))
           if rs.s(s, "own_overhead.p50_ms") and py.s(s, "own_overhead.p50_ms") else None for s in SIZES]
    have = [x for x in r_s if x is not None]
    r_e = [(py.se(s, "own_overhead.p50_ms") / rs.sb(s, "own_overhead.p50_ms"))
           if rs.sb(s, "own_overhead.p50_ms") and py.se(s, "own_overhead.p50_ms") else None for s in SIZES]
    eq = (f"; against Mem0 at equal recall (HNSW index dropped): {' / '.join(fmt(x, '×') for x in r_e)}"
          if any(x is not None for x in r_e) else "")
    add("5× lower search overhead (p50, every size, Mem0's default config)",
        " / ".join(fmt(x, "×") for x in r_s) if len(have) == len(SIZES) else None,
        bool(have) and min(have) >= 5, "1k / 10k / 100k" + eq)
    return rows


def _margin(v, limit, unit):
    if v is None:
        return ""
    d = v - limit
    return f"{abs(d):,.1f}{unit} {'under' if d <= 0 else 'over'}"


def plot(data: dict, path: str) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not any(data[st].get(f"search_{s}") for st in ("python", "rust") for s in SIZES):
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"python": ("#d62728", "Python seed (mem0 1.0.1)"), "rust": ("#1f77b4", "mem0-dify (Rust)")}
    for stack, (color, label) in styles.items():
        pts = [(s, data[stack].get(f"search_{s}")) for s in SIZES if data[stack].get(f"search_{s}")]
        if not pts:
            continue
        xs = [s for s, _ in pts]
        ax1.plot(xs, [g(r, "own_overhead.p50_ms") for _, r in pts], "o-", color=color, label=f"{label} p50")
        ax1.plot(xs, [g(r, "own_overhead.p95_ms") for _, r in pts], "s--", color=color, alpha=0.6, label=f"{label} p95")
        ax2.plot(xs, [g(r, "recall_at_k_mean") for _, r in pts], "o-", color=color, label=label)
        exact = [(s, data[stack].get(f"search_{s}_exact")) for s in SIZES if data[stack].get(f"search_{s}_exact")]
        if exact:
            ex_label = "Python seed, HNSW index dropped (exact)"
            ax1.plot([s for s, _ in exact], [g(r, "own_overhead.p50_ms") for _, r in exact], "^:", color="#ff7f0e",
                     label=f"{ex_label} p50")
            ax2.plot([s for s, _ in exact], [g(r, "recall_at_k_mean") for _, r in exact], "^:", color="#ff7f0e",
                     label=ex_label)
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xticks(SIZES)
        ax.set_xticklabels(["1k", "10k", "100k"])
        ax.set_xlabel("memories in the table (1,000 users)")
        ax.grid(True, alpha=0.3)
    ax1.set_ylabel("search own overhead, ms (log scale; total − model time)")
    ax1.set_title("Search overhead vs size")
    ax1.set_yscale("log")
    ax1.legend(fontsize=8)
    ax2.set_ylabel("recall of the user's exact top-10")
    ax2.set_ylim(-0.05, 1.05)
    ax2.set_title("Recall vs size")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    return True


def render(data: dict, plot_rel: str | None) -> str:
    have_rust = bool(data["rust"])
    py = Figures(data["python"], data.get("install_python"), "python")
    rs = Figures(data["rust"], data.get("install_rust"), "rust")
    py.tables = rs.tables = data.get("tables", {})
    machine = data.get("machine", {})
    L = []
    w = L.append
    w("# Benchmarks: mem0-dify (Rust) beside the Python plugin it replaces\n")
    w("Generated by `bench/run.sh` (harness in `bench/`, method in `bench/README.md`). Both stacks run the same "
      "workloads in one harness, against the same fake OpenAI-format model server, the same PostgreSQL + pgvector "
      "and the same generated multi-user corpus. Ratios are Python ÷ Rust for costs (higher = Rust better) and "
      "Rust ÷ Python for throughput.\n")
    noisy = [f"{st}/{name}" for st in ("python", "rust") for name, r in sorted(data[st].items()) if r.get("noisy")]
    if noisy:
        limit = next((i.get("noise_limit_cores") for i in machine.values() if i.get("noise_limit_cores") is not None), None)
        w(f"> **Noisy:** {', '.join(noisy)} ran while processes outside the benchmark used more than "
          f"{fmt(limit, ' cores', 2)} (see the CPU share table); their figures are not from a quiet machine.\n")
    if not have_rust:
        w("> **Rust side not measured yet.** The Python figures below are complete. "
          "`scripts/build-release.sh --arch amd64 && MEM0_BENCH_RUST_PKG=$(ls dist/*.difypkg) bench/run.sh` "
          "measures both stacks again in one run and rewrites this file (or `MEM0_BENCH_RUST_BIN=<path to mem0-dify> "
          "bench/run.sh` to start the binary directly).\n")
    w("## Summary\n")
    w("| measure | Python seed | Rust | ratio |")
    w("|---|---|---|---|")
    rows = [
        ("start → first heartbeat (median of 5)", fmt(py.heartbeat_ms, " ms"), fmt(rs.heartbeat_ms, " ms"), ratio(py.heartbeat_ms, rs.heartbeat_ms)),
        ("start → first heartbeat, binary alone (no `python -m main` launcher)", "—", fmt(rs.heartbeat_direct_ms, " ms"), ratio(py.heartbeat_ms, rs.heartbeat_direct_ms)),
        ("CPU time used until the first heartbeat", fmt(py.cpu_hb_s * 1000 if py.cpu_hb_s is not None else None, " ms", 0), fmt(rs.cpu_hb_s * 1000 if rs.cpu_hb_s is not None else None, " ms", 0), ratio(py.cpu_hb_s, rs.cpu_hb_s)),
        ("idle RSS (5 s after heartbeat)", fmt(_mib(py.rss_idle_kib), " MiB"), fmt(_mib(rs.rss_idle_kib), " MiB"), ratio(py.rss_idle_kib, rs.rss_idle_kib)),
        ("loaded RSS (peak over the add/search runs)", fmt(_mib(py.rss_loaded_kib), " MiB"), fmt(_mib(rs.rss_loaded_kib), " MiB"), ratio(py.rss_loaded_kib, rs.rss_loaded_kib)),
        ("package file (Python's holds only source: its 94 dependencies are downloaded at install)",
         fmt(_mib(py.pkg_bytes, 1024), " MiB", 3), fmt(_mib(rs.pkg_bytes, 1024), " MiB", 2), "—"),
        ("installed footprint (package + venv)", fmt(_mib(py.installed_bytes, 1024), " MiB"), fmt(_mib(rs.installed_bytes, 1024), " MiB"), ratio(py.installed_bytes, rs.installed_bytes)),
        ("install time, daemon-style (uv), cold cache", fmt(py.install_cold_s, " s", 2), fmt(rs.install_cold_s, " s", 2), ratio(py.install_cold_s, rs.install_cold_s)),
        ("install time, daemon-style (uv), warm cache", fmt(py.install_warm_s, " s", 2), fmt(rs.install_warm_s, " s", 2), ratio(py.install_warm_s, rs.install_warm_s)),
        ("async add ACK p50 / p95 (0 ms model; sent one at a time)", f"{fmt(py.ack_p50, '', 2)} / {fmt(py.ack_p95, ' ms', 2)}", f"{fmt(rs.ack_p50, '', 2)} / {fmt(rs.ack_p95, ' ms', 2)}", ratio(py.ack_p95, rs.ack_p95) + " (p95)"),
        ("sync add own overhead p50 / p95 (total − model time)", f"{fmt(py.sync_own_p50)} / {fmt(py.sync_own_p95, ' ms')}", f"{fmt(rs.sync_own_p50)} / {fmt(rs.sync_own_p95, ' ms')}", ratio(py.sync_own_p50, rs.sync_own_p50) + " (p50)"),
        ("async add ACK p50 / p95 (200 ms model; one at a time)", f"{fmt(py.ack200_p50, '', 2)} / {fmt(py.ack200_p95, ' ms', 2)}", f"{fmt(rs.ack200_p50, '', 2)} / {fmt(rs.ack200_p95, ' ms', 2)}", ratio(py.ack200_p95, rs.ack200_p95) + " (p95)"),
        ("sync add total p50 (200 ms model)", fmt(py.sync200_lat_p50, " ms"), fmt(rs.sync200_lat_p50, " ms"), ratio(py.sync200_lat_p50, rs.sync200_lat_p50)),
        ("sync add own overhead p50 / p95 (200 ms model)", f"{fmt(py.sync200_own_p50)} / {fmt(py.sync200_own_p95, ' ms')}", f"{fmt(rs.sync200_own_p50)} / {fmt(rs.sync200_own_p95, ' ms')}", ratio(py.sync200_own_p50, rs.sync200_own_p50) + " (p50)"),
        ("LLM calls per add: nothing related stored / related stored", f"{fmt(py.llm_fresh, '', 2)} / {fmt(py.llm_related, '', 2)}", f"{fmt(rs.llm_fresh, '', 2)} / {fmt(rs.llm_related, '', 2)}", ratio(py.llm_all, rs.llm_all)),
        ("prompt tokens per add (≈ chars/4): nothing stored / related / all", f"{fmt(py.tok_fresh, '', 0)} / {fmt(py.tok_related, '', 0)} / {fmt(py.tok_all, '', 0)}", f"{fmt(rs.tok_fresh, '', 0)} / {fmt(rs.tok_related, '', 0)} / {fmt(rs.tok_all, '', 0)}", ratio(py.tok_all, rs.tok_all)),
        ("embedding calls per add", fmt(py.embed_all, "", 2), fmt(rs.embed_all, "", 2), ratio(py.embed_all, rs.embed_all)),
        (f"add throughput, async, 0 ms model (adds applied/s; {_window(py, rs)})", fmt(py.async_applied), fmt(rs.async_applied), ratio(py.async_applied, rs.async_applied, True)),
        ("add throughput, async, 200 ms model (adds applied/s)", fmt(py.async200_applied), fmt(rs.async200_applied), ratio(py.async200_applied, rs.async200_applied, True)),
        ("add throughput, sync, 8 sessions, 0 ms model (adds/s)", fmt(py.sync_tput), fmt(rs.sync_tput), ratio(py.sync_tput, rs.sync_tput, True)),
        ("plugin CPU per add (async / sync)", f"{fmt(py.async_cpu_ms)} / {fmt(py.sync_cpu_ms, ' ms')}", f"{fmt(rs.async_cpu_ms)} / {fmt(rs.sync_cpu_ms, ' ms')}", ratio(py.sync_cpu_ms, rs.sync_cpu_ms) + " (sync)"),
    ]
    if py.async_window or rs.async_window:
        rows.insert(next(i for i, r in enumerate(rows) if r[0].startswith("add throughput, async, 0 ms")) + 1,
                    ("add throughput, async, 0 ms model, sent one at a time (paced by the ACKs)",
                     fmt(py.async_applied_seq), fmt(rs.async_applied_seq),
                     ratio(py.async_applied_seq, rs.async_applied_seq, True)))
    for s in SIZES:
        lab = f"{s // 1000}k"
        rows.append((f"search own overhead p50 / p95 at {lab}",
                     f"{fmt(py.s(s, 'own_overhead.p50_ms'), '', 2)} / {fmt(py.s(s, 'own_overhead.p95_ms'), ' ms', 2)}",
                     f"{fmt(rs.s(s, 'own_overhead.p50_ms'), '', 2)} / {fmt(rs.s(s, 'own_overhead.p95_ms'), ' ms', 2)}",
                     ratio(py.s(s, 'own_overhead.p50_ms'), rs.s(s, 'own_overhead.p50_ms')) + " (p50)"))
    for s in SIZES:
        if py.se(s, "own_overhead.p50_ms") is None:
            continue
        lab = f"{s // 1000}k"
        rows.append((f"search own overhead p50 / p95 at {lab}, Mem0 without its HNSW index (exact, recall "
                     f"{fmt(py.se(s, 'recall_at_k_mean'), '', 3)}) vs Rust again beside it",
                     f"{fmt(py.se(s, 'own_overhead.p50_ms'), '', 2)} / {fmt(py.se(s, 'own_overhead.p95_ms'), ' ms', 2)}",
                     f"{fmt(rs.sb(s, 'own_overhead.p50_ms'), '', 2)} / {fmt(rs.sb(s, 'own_overhead.p95_ms'), ' ms', 2)}",
                     ratio(py.se(s, 'own_overhead.p50_ms'), rs.sb(s, 'own_overhead.p50_ms')) + " (p50)"))
    for s in SIZES:
        lab = f"{s // 1000}k"
        plan = py.s(s, "data.mem0_query_plan")
        rows.append((f"recall of the user's top-10 at {lab} (queries returning nothing)"
                     + (f"; Mem0's query plan: {plan}" if plan else ""),
                     f"{fmt(py.s(s, 'recall_at_k_mean'), '', 3)} ({fmt(py.s(s, 'queries_returning_nothing'))})",
                     f"{fmt(rs.s(s, 'recall_at_k_mean'), '', 3)} ({fmt(rs.s(s, 'queries_returning_nothing'))})", ""))
    for r in rows:
        w("| " + " | ".join(r) + " |")
    w("")
    if plot_rel:
        w(f"![search overhead and recall vs size]({plot_rel})\n")

    w("## Targets (issue 8)\n")
    w("| target | Rust | verdict | margin |")
    w("|---|---|---|---|")
    for t in targets(py, rs, have_rust):
        w("| " + " | ".join(x if x is not None else "—" for x in t) + " |")
    w("")
    from . import targets18  # issue 18's targets, right after issue 8's
    w(targets18.section(data))
    w(analysis(py, rs, have_rust))
    if data.get("errors"):
        w("### Experiments that failed in the last run\n")
        for stack, e in data["errors"]:
            w(f"- {stack}/{e.get('experiment')}: `{str(e.get('error'))[:300]}` (traceback in "
              f"`bench/results/{stack}/{e.get('experiment')}.error.json`)")
        w("")

    for section in (embedded_section(data), cpu_section(data), spread_section(data)):
        if section:
            w(section)
    w(history_section(data.get("_results", "")))
    w(baseline_check(py))
    w("## Cost growth from 1k to 100k memories\n")
    w("| figure | Python 1k → 100k | growth | Rust 1k → 100k | growth |")
    w("|---|---|---|---|---|")
    for label, path, nd in (("search own overhead p50 (ms)", "own_overhead.p50_ms", 2),
                            ("search own overhead p95 (ms)", "own_overhead.p95_ms", 2),
                            ("plugin CPU per search (ms)", "plugin_cpu_ms_per_search", 2),
                            ("recall of the top-10", "recall_at_k_mean", 3),
                            ("results returned (mean, top_k 10)", "mean_returned", 2),
                            ("RSS after the searches (MiB)", "rss_end_kib", 1)):
        vals = []
        for f in (py, rs):
            a, b = f.s(1000, path), f.s(100000, path)
            if path == "rss_end_kib":
                a, b = _mib(a), _mib(b)
            vals += [f"{fmt(a, '', nd)} → {fmt(b, '', nd)}", (f"{b / a:.2f}×" if a and b is not None else "—")]
        w(f"| {label} | " + " | ".join(vals) + " |")
    tables = data.get("tables", {})
    a, b = (g(tables.get(str(sz), {}), "exact_query_probe.execution_ms_p50") for sz in (1000, 100000))
    if a is not None and b is not None:
        w(f"| PostgreSQL alone: exact per-user top-10 (EXPLAIN ANALYZE p50, ms; the database's share for either "
          f"stack) | {fmt(a, '', 2)} → {fmt(b, '', 2)} | {b / a:.2f}× | (same) | |")
    a, b = py.se(1000, "own_overhead.p50_ms"), py.se(100000, "own_overhead.p50_ms")
    if a and b:
        w(f"| search own overhead p50 (ms), Mem0 exact (no HNSW) | {fmt(a, '', 2)} → {fmt(b, '', 2)} | {b / a:.2f}× | | |")
    w("")
    w("Table sizes: " + ", ".join(
        f"{s // 1000}k rows = {fmt(_mib(py.s(s, 'data.table_bytes') or rs.s(s, 'data.table_bytes'), 1024), ' MiB')} "
        f"(HNSW {fmt(_mib(py.s(s, 'data.hnsw_bytes') or rs.s(s, 'data.hnsw_bytes'), 1024), ' MiB')})" for s in SIZES) + ".\n")

    w("## Machine, versions, noise\n")
    for key, info in machine.items():
        w(f"Run of stacks `{key}` ({info.get('started')} → {info.get('finished')}{', quick mode' if info.get('quick') else ''}):\n")
        w(f"- machine: {info.get('cpu')}, {info.get('cores')} cores, {info.get('mem_gib')} GiB, {info.get('os')}, kernel {info.get('kernel')}")
        w(f"- PostgreSQL: {str(info.get('postgres', '?')).split(' on ')[0]}, pgvector {info.get('pgvector')}; embeddings {info.get('dims')} dims")
        w(f"- harness Python {info.get('python_harness')}; {info.get('rustc', 'rustc ?')}; repo commit {info.get('commit', '?')}")
        w(f"- stacks: {'; '.join(info.get('stacks', []))}")
        w(f"- command: `{info.get('command')}`\n")
    ir = data.get("install_rust")
    if ir:
        w(f"Rust side: {ir.get('describe')}" + (f", sha256 {ir['package_sha256'][:16]}…" if ir.get("package_sha256") else "")
          + f"; installed daemon-style in {fmt(ir.get('total_s'), ' s', 2)} (extract {fmt(ir.get('extract_s'), ' s', 3)}, "
          f"`uv venv` {fmt(ir.get('venv_s'), ' s', 3)}, `uv pip install` of its empty requirements {fmt(ir.get('install_s'), ' s', 3)}).\n")
    ip = data.get("install_python")
    if ip:
        w(f"Python side: {ip.get('python')}, {ip.get('uv')}; seed requirements pinned in `bench/python_seed/requirements.txt` "
          f"(mem0ai 1.0.1, dify_plugin 0.6.1, {py.packages or '?'} packages installed).\n")
    w(METHOD)
    return "\n".join(L)


def _window(py: "Figures", rs: "Figures") -> str:
    w = sorted({f.async_window for f in (py, rs) if f.async_window})
    return f"{'/'.join(str(x) for x in w)} in flight" if w else "sent one at a time"


def embedded_section(data: dict) -> str:
    """The plugin's search on its embedded store beside pgvector (`--only search_embedded`), with the verdict."""
    rs = Figures(data["rust"], None, "rust")
    sizes = [s for s in SIZES if rs.search_embedded.get(s) or rs.search_embedded_pg.get(s)]
    if not sizes:
        return ""
    out = ["## Search on the embedded store beside pgvector (issue 18)\n",
           "The Rust plugin on its embedded store (one SQLite file: vectors searched exactly in memory, FTS5 for the "
           "keywords) and on PostgreSQL + pgvector, holding the same memories (the search table's texts and users, "
           "1,000 users with equal shares), asked the same queries as the search rows above (`top_k` 10, default "
           "hybrid retrieval), each store in a fresh process, the searches interleaved in blocks of 25 (alternating "
           "order). The embedded file is filled through the plugin itself (`add_memory`, `infer: false`, async "
           "mode, pipelined); the pgvector table is the seeded copy in Mem0's layout, searched once the plugin has "
           "filled its keyword terms. Recall: share of the user's exact top-10 by cosine (tie-aware; at 1k and 10k a "
           "user has 1 and 10 memories, so returning all of them is recall 1). Plugin CPU counts the plugin's process "
           "only: the embedded store's search runs inside it, pgvector's query in PostgreSQL (its share is in the CPU "
           "table, for both arms together). The first search opens the store: the embedded one loads the "
           "collection's vectors into memory (part of its RSS).\n",
           "| size | store | own overhead p50 / p95 (ms) | latency p50 (ms) | plugin CPU per search (ms) | recall of "
           "the top-10 | first search, opening the store (ms) | RSS after the searches (MiB) |",
           "|---|---|---|---|---|---|---|---|"]
    for s in sizes:
        for store in ("embedded", "pgvector"):
            f = lambda path: rs.emb(s, path, store)  # noqa: E731
            out.append(f"| {s // 1000}k | {store}{' (**noisy**)' if f('noisy') else ''} | "
                       f"{fmt(f('own_overhead.p50_ms'), '', 2)} / {fmt(f('own_overhead.p95_ms'), '', 2)} | "
                       f"{fmt(f('latency.p50_ms'), '', 2)} | {fmt(f('plugin_cpu_ms_per_search'), '', 2)} | "
                       f"{fmt(f('recall_at_k_mean'), '', 3)} | {fmt(f('first_search_ms'), '', 1)} | "
                       f"{fmt(_mib(f('rss_end_kib')), '', 1)} |")
    out.append("")
    for s in sizes:
        fill = rs.emb(s, "data.filled_through_plugin") or {}
        if fill:
            out.append(f"- {s // 1000}k: the embedded store was filled with {fmt(fill.get('adds'))} adds in "
                       f"{fmt(fill.get('applied_s'), ' s', 1)} ({fmt(fill.get('applied_adds_per_s'), ' adds/s', 0)} "
                       f"applied, {fmt(fill.get('window'))} in flight, plugin CPU "
                       f"{fmt(fill.get('plugin_cpu_ms_per_add'), ' ms', 2)} per add); file "
                       f"{fmt(_mib(fill.get('store_bytes'), 1024), ' MiB', 1)}.")
    value, ok, margin = embedded_vs_pgvector(rs)
    out.append(f"\n**Target: {EMBEDDED_TARGET}** — " + (
        f"{value}: {verdict(ok)} ({margin})." if value else "not measured at 10k.") + "\n")
    return "\n".join(out) + "\n"


CPU_GROUPS = (("plugin", "plugin"), ("postgres", "PostgreSQL"), ("fake_model", "fake model"), ("driver", "driver"),
              ("other", "other"), ("machine", "machine"))


def _cpu_of(r: dict) -> dict | None:
    """A result's CPU record; for repeated runs (async adds), each figure's median over the runs."""
    if isinstance(r.get("cpu"), dict):
        return r["cpu"]
    recs = [x["cpu"] for x in r.get("runs") or [] if isinstance(x, dict) and isinstance(x.get("cpu"), dict)]
    if not recs:
        return None
    med = lambda xs: statistics.median(xs) if xs else None  # noqa: E731
    return {"wall_s": med([c["wall_s"] for c in recs]),
            "cores": {k: med([c["cores"][k] for c in recs if c["cores"].get(k) is not None]) for k, _ in CPU_GROUPS},
            "loadavg_before": recs[0]["loadavg_before"], "loadavg_after": recs[-1]["loadavg_after"],
            "noisy": any(c.get("noisy") for c in recs)}


def cpu_section(data: dict) -> str:
    rows = [(st, name, _cpu_of(r)) for st in ("python", "rust") for name, r in sorted(data[st].items())]
    rows = [x for x in rows if x[2]]
    if not rows:
        return ""
    out = ["## CPU share of every process\n",
           "Cores busy on average over each measurement (1.0 = one core; the machine has "
           f"{os.cpu_count()}): the plugin(s) under test (in a search, both interleaved stacks), PostgreSQL's process "
           "tree, the fake model server, the driver, and \"other\" = the machine's busy cores minus those four (work "
           "that is not the benchmark's). Repeated runs: medians. Load average (1 min) before → at the end.\n",
           "| measurement | wall s | " + " | ".join(label for _, label in CPU_GROUPS) + " | load | quiet? |",
           "|---|---|" + "---|" * len(CPU_GROUPS) + "---|---|"]
    for st, name, c in rows:
        cells = [fmt(c["cores"].get(k), "", 2) for k, _ in CPU_GROUPS]
        load = f"{fmt(c['loadavg_before'][0], '', 2)} → {fmt(c['loadavg_after'][0], '', 2)}"
        out.append(f"| {st}/{name} | {fmt(c['wall_s'], '', 2)} | " + " | ".join(cells) + f" | {load} | "
                   + ("**noisy**" if c.get("noisy") else "quiet") + " |")
    return "\n".join(out) + "\n"


SPREAD = (("startup", "median/first_heartbeat_ms", "start → first heartbeat (ms)"),
          ("async_add_0ms_pipelined", "median/applied_adds_per_s", "async adds applied/s, 0 ms model, pipelined"),
          ("async_add_0ms", "median/applied_adds_per_s", "async adds applied/s, 0 ms model, one at a time"),
          ("async_add_0ms", "median/ack.p50_ms", "async add ACK p50 (ms)"),
          ("async_add_0ms", "median/ack.p95_ms", "async add ACK p95 (ms)"),
          ("sync_add_0ms", "all/own_overhead/p50_ms", "sync add own overhead p50 (ms)"),
          ("sync_throughput_c8", "adds_per_s", "sync adds/s, 8 sessions"),
          *((f"search_{s}", "own_overhead/p50_ms", f"search own overhead p50 at {s // 1000}k (ms)") for s in SIZES),
          *((f"search_{s}", "own_overhead/p95_ms", f"search own overhead p95 at {s // 1000}k (ms)") for s in SIZES),
          ("search_embedded_10000", "own_overhead/p50_ms", "search own overhead p50 at 10k, embedded store (ms)"),
          ("search_embedded_10000_pgvector", "own_overhead/p50_ms", "the same, pgvector beside it (ms)"))


def spread_section(data: dict) -> str:
    """The range of the main figures over the repeated full runs (bench/run.sh --repeat N)."""
    sets = max((g(r, "repeat.sets") or 0 for st in ("python", "rust") for r in data[st].values()), default=0)
    if sets < 2:
        return ""
    out = [f"## Spread over the {sets} full runs\n",
           f"Every figure in this document is the median of {sets} full runs (`bench/run.sh --repeat {sets}`); the "
           "lowest and highest of the runs:\n", "| figure | Python median (min–max) | Rust median (min–max) |", "|---|---|---|"]
    for exp, path, label in SPREAD:
        cells = []
        for st in ("python", "rust"):
            r = data[st].get(exp) or {}
            v = r
            for k in path.split("/"):
                v = v.get(k) if isinstance(v, dict) else None
            lo_hi = g(r, "repeat.spread", {}).get(path)
            cells.append("—" if v is None else fmt(v, "", 2) + (f" ({fmt(lo_hi[0], '', 2)}–{fmt(lo_hi[1], '', 2)})" if lo_hi else ""))
        if cells != ["—", "—"]:
            out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


BASELINE = [  # python-plugin-baseline.md (the real seed v0.1.1, same kind of machine, quieter period)
    ("start → first heartbeat", "2.0 s", lambda f: fmt(f.heartbeat_ms / 1000 if f.heartbeat_ms else None, " s", 2)),
    ("idle RSS", "116.3 MiB", lambda f: fmt(_mib(f.rss_idle_kib), " MiB")),
    ("uv install cold / warm", "6.8 / 2.6 s", lambda f: f"{fmt(f.install_cold_s, '', 1)} / {fmt(f.install_warm_s, ' s', 1)}"),
    ("venv size (uv, no .pyc)", "343.6 MB", lambda f: fmt(f.installed_bytes / MB if f.installed_bytes else None, " MB")),
    ("async ACK p50 / p95, 0 ms model", "5.5 / 12.4 ms", lambda f: f"{fmt(f.ack_p50, '', 1)} / {fmt(f.ack_p95, ' ms', 1)}"),
    ("async adds applied/s, 0 ms model", "28.3 (quiet re-check 41.7)", lambda f: fmt(f.async_applied)),
    ("sync add latency p50, 0 ms model", "126 ms", lambda f: fmt(f.sync_lat_p50, " ms", 0)),
    ("plugin CPU per sync add", "105 ms", lambda f: fmt(f.sync_cpu_ms, " ms", 0)),
    ("sync adds/s, 8 sessions", "7.4", lambda f: fmt(f.sync_tput)),
    ("LLM calls per add", "2", lambda f: fmt(f.llm_all, "", 2)),
    ("LLM prompt chars per add", "≈ 11,790 (4,277 + 7,510)", lambda f: fmt(f.chars_all, "", 0)),
    ("search p50, 1k rows", "6.8 ms (100 users)", lambda f: fmt(f.s(1000, "latency.p50_ms"), " ms (1,000 users)", 1)),
    ("filtered-search recall, HNSW, ≥ 50 rows/user", "0.003–0.007", lambda f: fmt(f.s(100000, "recall_at_k_mean"), " (100k / 1,000 users)", 3)),
]


def baseline_check(py: "Figures") -> str:
    out = ["## Python side beside the reference baseline\n",
           "The Python stack here is a re-creation of the seed (see Method). For a sense of how faithful it is and how "
           "loaded this run's machine was, its figures beside `python-plugin-baseline.md` (the real seed v0.1.1 on the "
           "same kind of 2-core VM in a quieter period). Wall-clock figures move with machine load; counts (calls, "
           "prompt sizes, recall) should match closely.\n",
           "| figure | baseline (real seed) | this run (re-creation) |", "|---|---|---|"]
    for name, base, get in BASELINE:
        try:
            val = get(py)
        except (TypeError, ZeroDivisionError):
            val = "—"
        out.append(f"| {name} | {base} | {val} |")
    return "\n".join(out) + "\n"


HEADLINES = (  # (label, function of (py, rs) -> value)
    ("start → heartbeat (ms, Rust)", lambda py, rs: rs.heartbeat_ms),
    ("ACK p95 0 ms model (ms, Rust)", lambda py, rs: rs.ack_p95),
    ("sync own p50 (ms, Rust)", lambda py, rs: rs.sync_own_p50),
    ("async add throughput ratio", lambda py, rs: rs.async_applied / py.async_applied
     if rs.async_applied and py.async_applied else None),
    ("search p50 ratio 1k / 10k / 100k", lambda py, rs: " / ".join(
        fmt(py.s(z, "own_overhead.p50_ms") / rs.s(z, "own_overhead.p50_ms"), "×")
        if py.s(z, "own_overhead.p50_ms") and rs.s(z, "own_overhead.p50_ms") else "—" for z in SIZES)),
    ("search p50 at 100k (ms, Rust)", lambda py, rs: rs.s(100000, "own_overhead.p50_ms")),
)


def headline_row(data: dict) -> dict:
    """The headline figures of one results directory (for the run-to-run table)."""
    py = Figures(data["python"], data.get("install_python"), "python")
    rs = Figures(data["rust"], data.get("install_rust"), "rust")
    out = {}
    for label, fn in HEADLINES:
        try:
            v = fn(py, rs)
        except (TypeError, ZeroDivisionError):
            v = None
        out[label] = round(v, 2) if isinstance(v, float) else v
    return out


def history_section(results: str) -> str:
    path = os.path.join(results, "history.jsonl")
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if len(rows) < 2:
        return ""
    labels = [h for h, _ in HEADLINES]
    out = ["## Run-to-run spread\n",
           "The same harness on the same shared 2-core machine at different times (each row: one `bench/run.sh`; "
           "`bench/results/history.jsonl`). A row run with `--stacks` or `--only` re-measured only those stacks and "
           "experiments; its other figures are the latest results on disk. Wall-clock figures move with the "
           "machine's load; ratios inside one run are the comparison.\n",
           "| run | what | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for r in rows:
        vals = [fmt(r["figures"].get(h), "", 2) if not isinstance(r["figures"].get(h), str) else r["figures"][h]
                for h in labels]
        out.append(f"| {r['when']} | {r['what']} | " + " | ".join(vals) + " |")
    return "\n".join(out) + "\n"


def _mib(v, unit_kib=1):
    """KiB (or bytes with unit_kib=1024) → MiB."""
    if v is None:
        return None
    return v / 1024 if unit_kib == 1 else v / MIB


def analysis(py: Figures, rs: Figures, have_rust: bool) -> str:
    out = ["### Reading the figures\n"]
    recall_bits = ", ".join(
        f"{fmt(py.s(sz, 'recall_at_k_mean'), '', 3)} at {sz // 1000}k ({py.s(sz, 'data.mem0_query_plan') or 'plan not recorded'})"
        for sz in SIZES if py.s(sz, "recall_at_k_mean") is not None)
    out.append(
        f"- **Python seed.** mem0 always makes 2 LLM calls per add (extraction, then the update decision even when "
        f"nothing is stored) and sends ≈ {fmt(py.tok_all, '', 0)} prompt tokens per add, mostly its fixed prompt text. "
        f"Sync mode rebuilds `Memory` (pools, table checks, telemetry client) on every call, which is why its own "
        f"overhead is ~{fmt(py.sync_own_p50, '', 0)} ms with a model that answers instantly. Its filtered search is "
        f"exact when PostgreSQL picks a sequential scan, and loses most results when it picks the HNSW index (the "
        f"user filter is applied after the ~40 global nearest neighbours; which plan it gets depends on cost "
        f"estimates, so it can change between two seedings of the same data): recall {recall_bits}.")
    if py.sync200_own_p50 and py.sync_own_p50 and py.sync200_own_p50 > 1.5 * py.sync_own_p50:
        out.append(
            f"- With a 200 ms model the seed's sync own overhead grows to ~{fmt(py.sync200_own_p50, '', 0)} ms although "
            f"its CPU per add barely changes; the extra wall time is outside the model server (every model call's "
            f"server time is subtracted). Not investigated further; likely scheduling of mem0's thread pool under "
            f"gevent on a busy 2-core machine.")
    if not have_rust:
        out.append("- **Rust.** Not measured in this run (see the command at the top).")
        return "\n".join(out) + "\n"
    behind = []
    for label, a, b in (("async add ACK p95 with a 200 ms model", py.ack200_p95, rs.ack200_p95),
                        ("async add ACK p95 with a 0 ms model", py.ack_p95, rs.ack_p95),
                        ("async add ACK p50 with a 200 ms model", py.ack200_p50, rs.ack200_p50),
                        ("async add ACK p50 with a 0 ms model", py.ack_p50, rs.ack_p50)):
        if a is not None and b is not None and b > a:
            behind.append(f"{label} ({fmt(b, ' ms', 2)} vs Mem0's {fmt(a, ' ms', 2)})")
    if behind:
        out.append("- **Where the Rust plugin is not ahead:** " + "; ".join(behind) + ". The "
                   "Rust ACK writes the accepted add durably first (a journal row in PostgreSQL beside the collection in "
                   "this configuration), the seed's ACK only schedules a coroutine (its accepted writes are lost on a "
                   "crash or restart).")
    misses = [t for t in targets(py, rs, True) if "missed" in t[2]]
    if not misses:
        out.append("- **Rust.** Every target of issue 8 is met in this run.")
    if rs.ack_p95 is not None and rs.ack200_p95 is not None:
        out.append(
            f"- **Async add ACK.** One prepared statement on a small connection pool of its own: it records the write "
            f"in the journal, or finds an earlier recording of the same add within the repeat window (issue 15) and "
            f"records nothing; checked against a count of unfinished writes kept in memory (src/app/admission.rs). "
            f"Its p95 at 0 ms ({fmt(rs.ack_p95, ' ms', 2)} here) comes with the applying that runs during the burst (~"
            f"{fmt(rs.async_applied, '', 0)} adds/s on the same 2 cores) and moves with the machine's load from run to "
            f"run (see Run-to-run spread); with a 200 ms model, when the writers mostly wait, it was "
            f"{fmt(rs.ack200_p95, ' ms', 2)}. *Why the 0 ms p95 is above the 2.10 ms of 2026-12-05T12:37Z (written "
            f"2026-12-05, issue 15):* the same package run with the repeat window off "
            f"(`MEM0_DIFY_REPEAT_WINDOW_SECS=0`) gave p95 4.17–4.88 ms against 4.37–4.83 ms with it on, so the "
            f"repeat check (one statement with the insert since this change; a look-up of its own before it, 1.95 / "
            f"4.27 ms p50 / p95, in the first version) is not what costs; since 12:37Z every add's reply also "
            f"carries its typed variable messages (issue 15: one more chunk per output, each written and flushed) "
            f"and the graph step of a write is journaled (issue 12). Not isolated further yet; next step in issue 18 "
            f"(a breakdown of the plugin's own time per operation). Still within the 5 ms target and the historical "
            f"spread (2.98–9.26 ms).")
    if rs.rss_loaded_kib is not None:
        out.append(
            f"- **Loaded RSS** ({fmt(_mib(rs.rss_loaded_kib), ' MiB')} here). *Why it is above the 15.7 MiB of "
            f"2026-12-05T21:25Z (written 2026-12-06, issues 14 and 18):* the binary's allocator is mimalloc since then, "
            f"which keeps freed pages in its heaps (one per thread) for reuse instead of returning them to the kernel "
            f"at every free; musl's own malloc did return them, and with the local embedding model that cost a third "
            f"of the plugin's CPU time in page faults (BENCHMARKS.md, LoCoMo ingestion: 26 of 73 CPU-seconds). The "
            f"ratio against the Python plugin fell from 11.7× to {ratio(py.rss_loaded_kib, rs.rss_loaded_kib)}, for "
            f"lower CPU per add and search here and 1.6× the LoCoMo ingest rate.")
    else:
        out.append("- **Missed targets, by how much, the likely cause (to confirm from the per-run JSON and a profile) "
                   "and the next optimization:**")
        for name, value, _, margin in misses:
            why = WHY.get(_key(name), "")
            why = why(py, rs) if callable(why) else why
            out.append(f"  - {name}: {value} ({margin}). {why} Per-run detail: bench/results/rust/.")
    return "\n".join(out) + "\n"


def _key(name: str) -> str:
    """The longest WHY key that `name` starts with (so a more specific target finds its own entry)."""
    return max((k for k in WHY if name.startswith(k)), key=len, default="")


WHY = {
    "start → first heartbeat": lambda py, rs: (
        f"The binary alone reaches its first heartbeat in {fmt(rs.heartbeat_direct_ms, ' ms')} (median); the rest is "
        "the `python -m main` launcher the daemon runs: the venv's Python starts in ~21 ms on this machine "
        "(median of 20, `python -c pass`), then the launcher (it imports only `os` and `sys`) execs the binary; "
        "with the machine busy (5 starts spread over "
        f"{fmt(min(r['first_heartbeat_ms'] for r in rs.startup_runs), '', 0)}–"
        f"{fmt(max(r['first_heartbeat_ms'] for r in rs.startup_runs), ' ms', 0)} here) it crosses 50 ms. Python's "
        "own start is the floor as long as the daemon runs `python -m main`."),
    "idle RSS": "Idle RSS is dominated by the async runtime's worker threads and allocator arenas. Next: a smaller "
    "tokio worker count / `current_thread` runtime for stdio, and a lean allocator configuration.",
    "package": "The package carries one release binary per architecture. Next: `opt-level = \"s\"`, `panic = \"abort\"`, "
    "fewer TLS/HTTP features, strip debug info.",
    "async add ACK p95": lambda py, rs: (
        "The ACCEPT is one prepared INSERT into `<collection>_journal` on a small connection pool of its own; "
        "the busy bound is checked against a count of unfinished writes the engine keeps in memory "
        "(src/app/admission.rs; the journal is counted at start, when the count says full, and by the writer "
        "every poll period when no accept is in progress). With a 200 ms model, when the writers mostly wait, "
        "the ACK was p50 "
        f"{fmt(rs.ack200_p50, '', 2)} / p95 {fmt(rs.ack200_p95, ' ms', 2)} in this run; at 0 ms p50 "
        f"{fmt(rs.ack_p50, ' ms', 2)}. The tail at 0 ms comes with the applying that runs during the burst: the "
        f"writers apply ~{fmt(rs.async_applied, '', 0)} adds/s, and their work, PostgreSQL's backends and the "
        "fake model server share the 2 cores with the request path (and this run's machine may also have run other "
        "work: see the CPU share table)"
        + ("; on this shared machine its p95 moves around the target from run to run (see Run-to-run spread)"
           if rs.ack_p95 is not None and rs.ack_p95 < 7.5 else "")
        + ". Next: give the request path precedence over background applying "
        "(writers that pause while requests arrive, or the stdio and accept path on a runtime thread of its own), "
        "then measure on a quiet machine."),
    "sync add own overhead": "Own overhead = everything but model time: embeddings/LLM HTTP round trips, vector "
    "search, inserts, history. Next: overlap the per-fact embedding and search calls, batch the inserts.",
    "search own overhead p50": "Search cost is the query embedding round trip plus the filtered vector query. Next: "
    "check the query plan at 100k (index on the user filter, `hnsw.iterative_scan`).",
    "search own overhead p95": "Tail latency under a shared 2-core machine. Next: same as p50, then pool warm-up.",
    "recall of the user's top-10": "The plugin's search is hybrid by default (issue 14): its keyword side may put a "
    "memory sharing the query's rare words into the top 10 in place of the 10th nearest vector, so this row (the "
    "default search against the exact vector top-10) is below 1 by design where a user has more than 10 memories "
    "(100k: 100 each; at 1k and 10k every memory of a user is returned). In `retrieval: \"semantic\"` mode the "
    "exact top-10 comes back at every size (growth section: 1.000). Written 2026-12-06: the squared lexical part "
    "of issue 14 moved this row from 0.9945 to 0.975 on these synthetic facts, while finding more evidence turns "
    "on LoCoMo's real questions (LoCoMo section).",
    "LLM calls per add = 1": "The decision call is made even when the similarity search finds nothing related. Next: "
    "skip the decision call when there are no candidates (every fact is an ADD).",
    "LLM calls per add never": "More calls than Mem0 on some add. Next: one decision call per add, never per fact.",
    "prompt tokens per add": "Prompts carry more fixed text than Mem0's. Next: trim the instructions.",
    "≥ 10× Mem0's add throughput": "Throughput is bounded by per-add model round trips and DB writes. Next: more "
    "concurrent background writers, batched embeddings across facts.",
    "5× lower search overhead": lambda py, rs: (
        "At 10k and 100k Mem0's default query uses the HNSW index and filters by user afterwards, so it is cheap "
        f"because it returns almost nothing (recall {fmt(py.s(10000, 'recall_at_k_mean'), '', 3)} / "
        f"{fmt(py.s(100000, 'recall_at_k_mean'), '', 3)}, mean results {fmt(py.s(10000, 'mean_returned'), '', 2)} / "
        f"{fmt(py.s(100000, 'mean_returned'), '', 2)} of 10) while this plugin returns the exact top-10; at 1k, "
        "where both are exact, the ratio is the first figure. Rust's own overhead is "
        f"{fmt(rs.s(100000, 'own_overhead.p50_ms'), ' ms', 2)} at 100k; PostgreSQL alone needs "
        f"{fmt(g(rs.tables.get('100000', {}), 'exact_query_probe.execution_ms_p50'), ' ms', 2)} (EXPLAIN ANALYZE p50) "
        "to execute an exact per-user top-10 there (with this plugin's user index), the rest is the embedding round trip, the query round trip and "
        "the reply. The ratio sits around 5× and moves with the load of this shared machine (Mem0's side varies "
        "most; see Run-to-run spread). Next: measure the per-stage split in the plugin, then cut round trips "
        "(prepared statement cache, pipelining the scope check with the query)."),
}

METHOD = """## Method (short; details in bench/README.md)

- **Corpus** (`bench/harness/corpus.py`, seed 1): users with profiles of facts from 21 slot templates (city, job,
  pets, food, allergies, hobbies, family, trips, …) stated in first-person turns of 1–3 sentences, ~10 % of later
  turns revising a single-valued slot ("I just moved to Porto"), with optional assistant replies.
- **Fake model server** (`bench/fake-model`, Rust, multi-threaded; its script and reference rules in
  `bench/harness/model_script.py`, checked request for request by `harness/fake_model_check.py` before every run):
  answers extraction prompts with the corpus facts of the user turn found in the prompt, and update/decision prompts
  (Mem0's and this project's) with NONE for a known fact, UPDATE of the same single-valued slot, else ADD; embeddings
  are a weighted hashed bag of stemmed words (384 dims), so sentences sharing words are close. 0 ms fixed latency
  here; it counts calls, prompt characters (tokens ≈ chars/4) and its own time per request, which is subtracted from
  each operation's latency to give the plugin's **own overhead**.
- **Daemon stand-in** (`bench/harness/driver.py`): spawns the plugin like the Dify daemon's local runtime
  (`python -m main`, INSTALL_METHOD=local, or the Rust binary's `serve`), writes request envelopes on stdin, and times
  request write → `end` per session; RSS/CPU from /proc over the process tree.
- **Python side** is a minimal re-creation of the seed plugin v0.1.1 in `bench/python_seed/` (its source is not
  available here), on the real Dify Python SDK 0.6.1 and mem0ai 1.0.1, following seed-plugin.md §3–§6: a process-wide
  AsyncMemory on one background event loop behind `Semaphore(5)`, fire-and-forget ACCEPT writes, reads waited with
  60/30 s timeouts that degrade to empty results, and a new `Memory` per call in sync mode. Same credentials
  (five JSON blocks + `async_mode`, discrete pgvector form → connection string, mem0 defaults incl. HNSW).
- **Search tables** are seeded directly (COPY) in Mem0's layout (`id uuid, vector vector(384), payload jsonb` with
  `data, hash, created_at, updated_at, user_id`, plus Mem0's default HNSW cosine index), 1,000 users with equal
  shares; each stack gets its own identical copy (a stack may add indexes to its table: this plugin adds a `user_id`
  expression index; Mem0 must not profit from it). Both stacks run the same 200 queries interleaved in blocks of 25
  (alternating order), so machine noise falls on both alike. Then Mem0's HNSW index is dropped and Mem0 searches
  again, interleaved with the Rust plugin once more ("exact" rows: what `"hnsw": false` gives; equal recall).
  Queries are questions about a slot of the user's
  profile, `top_k` 10; recall = share of the user's exact top-10 by cosine (computed in the harness over that user's
  stored float32 vectors; a returned memory tying the 10th score counts).
- **CPU shares** (`bench/harness/cpu.py`): over each measurement, CPU seconds (/proc utime + stime, ended children
  included) of the plugin(s), PostgreSQL's whole process tree, the fake model server and the driver, ÷ wall time, beside
  the machine's busy cores (/proc/stat); "other" is the rest: work that is not part of the benchmark. A measurement
  whose "other" exceeds the noise limit is marked noisy (`--require-quiet` refuses to publish it). With
  `bench/run.sh --repeat 3` every figure is the median of three full runs and the spread table gives their range.
- At 10k every user owns exactly 10 memories, so a top-10 that returns all of them has recall 1 whatever its order;
  100k (100 per user) is the size where ranking matters.
- **Rust side** is driven from its package as Dify would: the static musl binary and `.difypkg` built by
  `scripts/build-release.sh` / `mem0-dify package`, installed like the daemon does (0644 files, `uv venv`,
  `uv pip install -r requirements.txt` with no dependencies) and started as `python -m main` (the launcher execs the
  binary); "binary alone" starts `bin/linux-amd64/mem0-dify serve` directly.
- Medians of runs where repeated (start ×5, async add ×3). Async add: 200 adds, each the first turn of a fresh user,
  sent back-to-back, each after the previous ACK (the ACK figures: request write → `end`); applied when every expected
  fact is a row. The async throughput figure comes from the same adds sent by a pipelining driver (the window shown,
  `async_add_0ms_pipelined`), so the send rate never paces the applying; the one-at-a-time figure is shown beside it. Sync add: 20 users × 5 turns round-robin, so round 1
  has nothing stored and later rounds find related memories.
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--plot", default=os.path.join(HERE, "plots", "search_latency_vs_size.png"))
    ap.add_argument("--record-history", metavar="WHEN", help="append this run's headline figures to history.jsonl")
    ap.add_argument("--history-what", default="full run")
    a = ap.parse_args()
    data = load(a.results)
    data["_results"] = a.results
    if a.record_history:
        with open(os.path.join(a.results, "history.jsonl"), "a") as f:
            f.write(json.dumps({"when": a.record_history, "what": a.history_what, "figures": headline_row(data)}) + "\n")
    rel = None
    if plot(data, a.plot):
        rel = os.path.relpath(a.plot, os.path.dirname(os.path.abspath(a.out)))
    kept = kept_section(a.out, "<!-- real-model:start -->", "<!-- real-model:end -->")
    from . import growth_report  # the growth section (issue 18): from the results, else kept as it was
    kept_growth = kept_section(a.out, growth_report.START, growth_report.END)
    from . import breakdown_report  # where the own time goes (issue 18): from the results, else kept as it was
    kept_breakdown = kept_section(a.out, breakdown_report.START, breakdown_report.END)
    with open(a.out, "w") as f:
        f.write(render(data, rel))
    print(f"wrote {a.out}" + (f" and {a.plot}" if rel else ""))
    breakdown_report.render_into(a.out, a.results, kept_breakdown)
    growth_report.render_into(a.out, a.results, kept_growth)
    from . import locomo_report  # the LoCoMo retrieval section is kept when the speed report is re-rendered
    locomo_report.render_into(a.out)
    if kept:  # and the real-model section (bench/real_model.sh writes it), as it was
        with open(a.out, "a") as f:
            f.write("\n" + kept + "\n")


def kept_section(path: str, start: str, end: str) -> str:
    """The section of the document at `path` between the markers `start` and `end` (included), or ""."""
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        document = f.read()
    i, j = document.find(start), document.find(end)
    return document[i:j + len(end)] if 0 <= i < j else ""


if __name__ == "__main__":
    main()
