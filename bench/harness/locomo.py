"""LoCoMo retrieval benchmark (issue 14): how well the plugin's search brings back the turns that answer a question.

Drives the plugin binary over stdio exactly as the Dify daemon does (`harness.driver.PluginProcess`): every turn of
the development conversations is added with `infer: false` (text "speaker: text", metadata `dia_id` and `session`,
`timestamp` = the session's date when the plugin accepts it), one scope (`user_id`) per conversation; then every
question is asked with `search_memory` (`top_k` 20, no reranker) in each retrieval mode (`hybrid`, and the
`semantic` / `lexical` baselines). Scores per question, from the `dia_id`s of the hits:

- evidence-turn recall@k: share of the question's evidence turns among the top k;
- session hit@k: 1 when any evidence session is among the sessions of the top k;
- all-evidence-session recall@k: share of the evidence sessions found.

Also measured: ingestion rate (adds/s, every add applied), search latency p50/p95 per mode, resident memory peak.
Writes `results/locomo.json`; `harness.locomo_report` renders BENCHMARKS.md's LoCoMo section and the plot.

    python -m harness.locomo --binary PATH --minilm DIR [--data DIR] [--conversations conv-26,conv-30]
"""
import argparse
import itertools
import datetime as dt
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time

from .cpu import cpu_model
from .driver import PluginProcess

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
KS = (5, 10, 20)
MODES = ("hybrid", "semantic", "lexical")
DEV_SPLIT = ("conv-26", "conv-30", "conv-41", "conv-42", "conv-43")
EVIDENCE = re.compile(r"D(\d+):(\d+)")
SESSION_KEY = re.compile(r"session_(\d+)$")


def session_date(raw: str) -> str | None:
    """LoCoMo's "1:56 pm on 8 May, 2023" as RFC 3339 (UTC), or None when unreadable."""
    try:
        return dt.datetime.strptime(raw.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=dt.timezone.utc).isoformat()
    except ValueError:
        return None


def load(path: str) -> dict:
    with open(path) as f:
        conv = json.load(f)
    turns = []
    sessions = sorted(int(m.group(1)) for k in conv if (m := SESSION_KEY.match(k)))
    for n in sessions:
        date = session_date(conv.get(f"session_{n}_date_time", ""))
        for t in conv[f"session_{n}"]:
            turns.append({"dia_id": t["dia_id"], "session": n, "text": f"{t['speaker']}: {t['text']}", "date": date})
    questions = []
    for q in conv["qa"]:
        ev = [(int(s), int(i)) for e in q.get("evidence", []) for s, i in EVIDENCE.findall(e)]
        if ev:
            questions.append({"question": q["question"], "category": q["category"], "evidence": ev})
    return {"turns": turns, "questions": questions}


def credentials(minilm: str, db_path: str, async_mode: bool) -> dict:
    return {
        "local_embedder_json": json.dumps({"provider": "local", "config": {"model_path": minilm}}),
        "local_vector_db_json": json.dumps({"provider": "embedded", "config": {"path": db_path,
                                                                               "collection_name": "locomo"}}),
        "async_mode": async_mode,
    }


def reply(session) -> dict:
    if session.error is not None:
        raise RuntimeError(f"plugin error: {session.error}")
    body = session.json_result()
    if not isinstance(body, dict) or body.get("status") != "SUCCESS":
        raise RuntimeError(f"unexpected reply: {body!r}")
    return body


class RssSampler:
    """Peak resident memory of the plugin's process tree, sampled every 200 ms."""

    def __init__(self, proc: PluginProcess):
        self.proc, self.peak_kib, self._stop = proc, 0, threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self._stop.wait(0.2):
            self.peak_kib = max(self.peak_kib, self.proc.rss_kib())

    def stop(self) -> int:
        self._stop.set()
        return max(self.peak_kib, self.proc.rss_kib())


def ingest(proc: PluginProcess, creds: dict, conversations: dict, concurrency: int, timestamps: bool) -> int:
    """Adds every turn of every conversation (one scope each), the conversations interleaved turn by turn,
    `concurrency` calls in flight; returns once every add has been applied (sync mode). Returns the number of adds."""
    queues = [[(f"locomo-{name}", t) for t in conv["turns"]] for name, conv in conversations.items()]
    order = [item for round_ in itertools.zip_longest(*queues) for item in round_ if item is not None]
    pending: list = []
    for user, t in order:
        params = {"user": t["text"], "user_id": user, "infer": False,
                  "metadata": json.dumps({"dia_id": t["dia_id"], "session": t["session"]})}
        if timestamps and t["date"]:
            params["timestamp"] = t["date"]
        pending.append(proc.send(proc.tool(creds, "add_memory", params)))
        if len(pending) >= concurrency:
            finish(pending.pop(0))
    for s in pending:
        finish(s)
    return len(order)


def finish(s, timeout: float = 300.0):
    if not s.done.wait(timeout) or s.t_end is None:
        raise TimeoutError(f"session {s.sid} got no end within {timeout}s")
    reply(s)


def search(proc: PluginProcess, creds: dict, user: str, question: str, mode: str, top_k: int) -> tuple[list, float]:
    params = {"query": question, "user_id": user, "top_k": top_k, "rerank": False}
    if mode != "hybrid":
        params["retrieval"] = mode
    s = proc.call(proc.tool(creds, "search_memory", params), timeout=120)
    hits = reply(s).get("results") or []
    ids = []
    for h in hits:
        meta = h.get("metadata") or {}
        m = EVIDENCE.fullmatch(str(meta.get("dia_id", "")))
        ids.append((int(m.group(1)), int(m.group(2))) if m else None)
    return ids, s.latency


def score(evidence: list, hits: list) -> dict:
    wanted, sessions = set(evidence), {s for s, _ in evidence}
    out = {}
    for k in KS:
        top = [h for h in hits[:k] if h is not None]
        found_sessions = {s for s, _ in top} & sessions
        out[k] = {"turn_recall": len(wanted & set(top)) / len(wanted),
                  "session_hit": 1.0 if found_sessions else 0.0,
                  "session_recall": len(found_sessions) / len(sessions)}
    return out


def aggregate(rows: list) -> dict:
    """Means per category (and over categories 1-4) of every metric at every k, as percentages."""
    groups = {str(c): [r for r in rows if r["category"] == c] for c in CATEGORIES}
    groups["1-4"] = [r for r in rows if r["category"] in (1, 2, 3, 4)]
    out = {}
    for name, rs in groups.items():
        if not rs:
            continue
        out[name] = {"questions": len(rs)}
        for k in KS:
            for metric in ("turn_recall", "session_hit", "session_recall"):
                out[name][f"{metric}@{k}"] = round(100 * statistics.fmean(r["scores"][k][metric] for r in rs), 2)
    return out


def percentile(values: list, p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True, help="the plugin binary (started as `BINARY serve`)")
    ap.add_argument("--minilm", required=True, help="all-MiniLM-L6-v2 directory (safetensors + tokenizer.json)")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../../shared/data/locomo"))
    ap.add_argument("--conversations", default=",".join(DEV_SPLIT))
    ap.add_argument("--modes", default=",".join(MODES), help="retrieval modes to ask every question in")
    ap.add_argument("--concurrency", type=int, default=8, help="add calls in flight")
    ap.add_argument("--no-timestamps", action="store_true", help="do not send the session date as `timestamp`")
    ap.add_argument("--dump", help="also write every question's 100 best hybrid candidates with their score "
                    "components (`explain`) to this JSON file, to compare fusion rules offline")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../results/locomo.json"))
    args = ap.parse_args()

    convs = {name: load(os.path.join(args.data, f"{name}.json")) for name in args.conversations.split(",")}
    modes = [m for m in args.modes.split(",") if m]
    scratch = tempfile.mkdtemp(prefix="locomo-")
    creds = credentials(os.path.abspath(args.minilm), os.path.join(scratch, "memories.db"), async_mode=False)
    env = {**os.environ, "MEM0_DIFY_DATA_DIR": scratch, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
    proc = PluginProcess([os.path.abspath(args.binary), "serve"], scratch, env, os.path.join(scratch, "plugin.log"))
    rows, latencies = {m: [] for m in modes}, {m: [] for m in modes}
    dump: list = []
    try:
        proc.wait_heartbeat()
        sampler = RssSampler(proc)
        rss_idle = proc.rss_kib()
        # Load the model once before timing the ingest.
        reply(proc.call(proc.tool(creds, "search_memory", {"query": "warm-up", "user_id": "locomo-warmup"}), 300))
        t0 = time.perf_counter()
        n_turns = ingest(proc, creds, convs, args.concurrency, not args.no_timestamps)
        ingest_s = time.perf_counter() - t0
        print(f"[locomo] {n_turns} turns added", file=sys.stderr)
        rss_after_ingest = proc.rss_kib()
        for name, conv in convs.items():
            for q in conv["questions"]:
                for mode in modes:
                    hits, latency = search(proc, creds, f"locomo-{name}", q["question"], mode, max(KS))
                    latencies[mode].append(latency)
                    rows[mode].append({"conversation": name, "category": q["category"], "scores": score(q["evidence"], hits)})
                if args.dump:
                    s = proc.call(proc.tool(creds, "search_memory", {"query": q["question"], "user_id": f"locomo-{name}",
                                                                     "top_k": 100, "rerank": False, "explain": True}))
                    dump.append({"conversation": name, "category": q["category"], "evidence": q["evidence"],
                                 "hits": [{"dia_id": (h.get("metadata") or {}).get("dia_id"), **h.get("explain", {})}
                                          for h in reply(s).get("results") or []]})
            print(f"[locomo] {name}: {len(conv['questions'])} questions asked", file=sys.stderr)
        rss_peak = sampler.stop()
    finally:
        proc.stop()
    result = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "conversations": list(convs),
        "turns": n_turns,
        "questions": {m: len(r) for m, r in rows.items()},
        "ingest": {"seconds": round(ingest_s, 2), "adds_per_s": round(n_turns / ingest_s, 1),
                   "concurrency": args.concurrency, "mode": "sync", "timestamps": not args.no_timestamps},
        "search_ms": {m: {"p50": round(1000 * percentile(v, 50), 2), "p95": round(1000 * percentile(v, 95), 2)}
                      for m, v in latencies.items() if v},
        "rss_kib": {"idle": rss_idle, "after_ingest": rss_after_ingest, "peak": rss_peak},
        "machine_cores": os.cpu_count(), "machine_cpu": cpu_model(), "kernel": platform.release(),
        "metrics": {m: aggregate(r) for m, r in rows.items()},
    }
    if args.dump:
        with open(args.dump, "w") as f:
            json.dump(dump, f)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    for m in modes:
        a = result["metrics"][m]["1-4"]
        print(f"[locomo] {m:9s} turn recall@10 {a['turn_recall@10']:5.1f}  session hit@10 {a['session_hit@10']:5.1f}  "
              f"p50 {result['search_ms'][m]['p50']} ms", file=sys.stderr)
    print(f"[locomo] ingest {result['ingest']['adds_per_s']} adds/s; results in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
