"""Renders the LoCoMo retrieval benchmark (results/locomo.json) as BENCHMARKS.md's own section, between the
markers below (replaced in place, or appended), and plots recall@k per retrieval mode.

    python -m harness.locomo_report [--results bench/results/locomo.json] [--out BENCHMARKS.md]

`harness.report` (the speed benchmark's report) calls `section()` too, so re-rendering either keeps both."""
import argparse
import json
import os

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(HERE)
START, END = "<!-- locomo:start -->", "<!-- locomo:end -->"
PLOT = os.path.join(HERE, "plots", "locomo_recall.png")
NAMES = {"1": "1 multi-hop", "2": "2 temporal", "3": "3 open-domain", "4": "4 single-hop", "5": "5 adversarial",
         "1-4": "**1–4**"}
# Today's figures before hybrid retrieval (issue 14, all ten conversations, categories 1–4).
TARGETS = {"session_hit@10": 95.0, "turn_recall@10": 66.0}


def plot(result: dict, path: str) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    ks = (5, 10, 20)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric, title in ((axes[0], "turn_recall", "evidence-turn recall@k"), (axes[1], "session_hit", "session hit@k")):
        for mode, metrics in result["metrics"].items():
            ax.plot(ks, [metrics["1-4"][f"{metric}@{k}"] for k in ks], marker="o", label=mode)
        ax.set_title(f"LoCoMo dev split, categories 1–4: {title}")
        ax.set_xlabel("k")
        ax.set_ylabel("%")
        ax.set_xticks(ks)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def section(result: dict, plot_rel: str | None) -> str:
    modes = list(result["metrics"])
    lines = [START, "## Retrieval quality on LoCoMo (issue 14)", ""]
    lines.append(
        f"Run {result['when']}{' on ' + result['machine_cpu'] if result.get('machine_cpu') else ''}: "
        f"{len(result['conversations'])} development conversations "
        f"({', '.join(result['conversations'])}), {result['turns']} turns added through the plugin binary over stdio "
        f"(`add_memory`, `infer: false`, local all-MiniLM-L6-v2, embedded store"
        f"{', `timestamp` = session date' if result['ingest'].get('timestamps') else ''}); every question asked with "
        f"`search_memory` (`top_k` 20, no reranker) in each retrieval mode. Command: `bench/locomo.sh` "
        f"(bench/README.md). Figures in %.")
    lines.append("")
    h = result["metrics"].get("hybrid", {}).get("1-4")
    if h:
        miss = [f"{k} {h[k]:.2f} % (target {t:.0f} %, {'met' if h[k] >= t else f'missed by {t - h[k]:.2f} points'})"
                for k, t in TARGETS.items()]
        lines += ["Targets (hybrid, categories 1–4): " + "; ".join(miss) + ".", ""]
    lines += ["| mode | category | questions | turn recall@5 | @10 | @20 | session hit@5 | @10 | @20 | "
              "all-evidence-session recall@5 | @10 | @20 |", "|" + "---|" * 12]
    for mode in modes:
        for cat, m in result["metrics"][mode].items():
            row = [mode, NAMES.get(cat, cat), str(m["questions"])]
            for metric in ("turn_recall", "session_hit", "session_recall"):
                row += [f"{m[f'{metric}@{k}']:.1f}" for k in (5, 10, 20)]
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", "| mode | search p50 ms | search p95 ms |", "|---|---|---|"]
    for mode, ms in result["search_ms"].items():
        lines.append(f"| {mode} | {ms['p50']} | {ms['p95']} |")
    ing, rss = result["ingest"], result["rss_kib"]
    lines += ["",
              f"Ingestion: {result['turns']} adds in {ing['seconds']} s = **{ing['adds_per_s']} adds/s** "
              f"({ing['mode']} mode: each call answers once its memory is written; {ing['concurrency']} calls in "
              f"flight, the conversations interleaved; the embedding of each add included). Resident memory: {rss['idle'] // 1024} MiB idle, "
              f"{rss['after_ingest'] // 1024} MiB after the ingest, {rss['peak'] // 1024} MiB peak. "
              f"Search latency includes embedding the question (local model, CPU) and the stdio round trip.",
              ""]
    if plot_rel:
        lines += [f"![recall@k per retrieval mode]({plot_rel})", ""]
    notes = result.get("notes")
    if notes:
        lines += [notes, ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def splice(document: str, block: str, start: str = START, end: str = END) -> str:
    """`document` with its section between `start` and `end` replaced by `block` (appended when it has none)."""
    if start in document and end in document:
        head, rest = document.split(start, 1)
        tail = rest.split(end, 1)[1]
        return head + block.rstrip("\n") + tail
    return document.rstrip("\n") + "\n\n" + block


def write_section(path: str, block: str, start: str, end: str) -> bool:
    """Puts `block` in the section of the document at `path` between `start` and `end` (see `splice`); False,
    writing nothing, when `block` is empty."""
    if not block:
        return False
    with open(path) as f:
        document = f.read()
    with open(path, "w") as f:
        f.write(splice(document, block, start, end))
    return True


def section_main(doc: str, render_into, what: str):
    """The command line of a section renderer: `--results`, `--out`; says what it did."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    a = ap.parse_args()
    print(f"wrote the {what} section of {a.out}" if render_into(a.out, a.results) else f"no {what} results in {a.results}")


def render_into(path: str, results: str = os.path.join(HERE, "results", "locomo.json")) -> bool:
    """Replaces (or appends) the LoCoMo section of the document at `path`; False when there are no results."""
    if not os.path.exists(results):
        return False
    with open(results) as f:
        result = json.load(f)
    notes_path = os.path.join(HERE, "results", "locomo_notes.md")
    if os.path.exists(notes_path):
        with open(notes_path) as f:
            result["notes"] = f.read().strip()
    rel = os.path.relpath(PLOT, os.path.dirname(os.path.abspath(path))) if plot(result, PLOT) else None
    with open(path) as f:
        document = f.read()
    with open(path, "w") as f:
        f.write(splice(document, section(result, rel)))
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=os.path.join(HERE, "results", "locomo.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    a = ap.parse_args()
    if render_into(a.out, a.results):
        print(f"wrote the LoCoMo section of {a.out} and {PLOT}")
    else:
        print(f"no results at {a.results}")


if __name__ == "__main__":
    main()
