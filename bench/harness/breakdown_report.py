"""Renders the breakdown of the plugin's own time (results/rust/breakdown.json, `harness/breakdown.py`) as
BENCHMARKS.md's own section, between the markers below: per operation, ms of each phase.

    python -m harness.breakdown_report [--results bench/results] [--out BENCHMARKS.md]

`harness.report` calls `render_into` too (re-rendering the speed report keeps this section: from the results when
there are any, else as it was)."""
import json
import os

from .locomo_report import section_main, write_section

START, END = "<!-- breakdown:start -->", "<!-- breakdown:end -->"
OPS = (("async_add", "async add (ACK)"), ("sync_add", "sync add"), ("search", "search"))


def load(results: str) -> dict | None:
    path = os.path.join(results, "rust", "breakdown.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def section(result: dict) -> str:
    phases = result["phases"]
    ops = [(key, label, result["ops"][key]) for key, label in OPS if key in result["ops"]]
    lines = [START, "## Where the plugin's own time goes (issue 18, Rust, pgvector)", ""]
    lines.append(
        "`bench/run.sh --stacks rust --only breakdown` (harness/breakdown.py): separate short runs with the plugin's "
        "span timings on (`MEM0_DIFY_SPAN_TIMINGS`, src/adapters/span_timings.rs), so no other figure of this report "
        "is measured while spans are collected. Per operation a fresh process, a warm-up call, then SIGUSR1 (the "
        "plugin writes what it timed and starts again, leaving the warm-up out) and the operations one at a time. "
        "ms per operation: the spans' wall time added up and divided by the operations; the fake model's own time is "
        "taken off the model round trips; *SQL* is the time of the calls into the stores minus their pool checkouts "
        "(statements, round trips, row decoding); *rest* = own time (latency − model time, as the driver measured "
        "it) − every phase: the pipes, task hand-overs, the app's bookkeeping and, for a sync add, waiting for the "
        "background writer (its claim included). A sync add counts the spans of the write that applies it too.")
    lines += ["", "| phase (ms per operation) | " + " | ".join(f"{label} ({r['ops']} ops)" for _, label, r in ops) + " |",
              "|---|" + "---|" * len(ops)]
    for key, label in phases:
        lines.append(f"| {label} | " + " | ".join(f"{r['phases'][key]:.3f}" for _, _, r in ops) + " |")
    lines.append("| **own time** (latency − model time) | " + " | ".join(f"**{r['phases']['own_ms']:.3f}**" for _, _, r in ops) + " |")
    lines.append("| latency p50 / mean | " + " | ".join(f"{r['latency']['p50_ms']:.3f} / {r['latency']['mean_ms']:.3f}"
                                                       for _, _, r in ops) + " |")
    lines.append("| model server time (embedding / LLM) | " + " | ".join(
        f"{r['model_ms'].get('embed', 0):.3f} / {r['model_ms'].get('llm', 0):.3f}" for _, _, r in ops) + " |")
    lines.append("| statements (`pg.query` spans; concurrent ones each counted) | " + " | ".join(
        f"{r['phases']['pg_query_spans_ms']:.3f}" for _, _, r in ops) + " |")
    lines += ["", "The largest own-time phases: " + "; ".join(
        f"{label}: " + ", ".join(f"{dict(phases)[k]} {v:.3f} ms" for k, v in sorted(
            ((k, r["phases"][k]) for k, _ in phases), key=lambda kv: -kv[1])[:3])
        for _, label, r in ops) + ".", END]
    return "\n".join(lines) + "\n"


def render_into(path: str, results: str, kept: str = "") -> bool:
    """Replaces (or appends) the breakdown section of the document at `path` from `results`, or puts `kept` (the
    section as it was) back when there are no breakdown results; False when neither."""
    result = load(results)
    return write_section(path, section(result) if result else kept, START, END)


if __name__ == "__main__":
    section_main(__doc__, render_into, "breakdown")
