"""Real-model benchmark (issue 17): the write path driven by a real small model.

For each target (a llama-server started here on a GGUF, or any OpenAI-compatible URL) and each mode
(`infer` off; `infer` on, two-pass; `infer` on, additive), the plugin binary is started over stdio like the
Dify daemon drives it (`harness.driver.PluginProcess`, sync mode, embedded store, local MiniLM embedder) and
LoCoMo conv-26 sessions 1-3 are added turn pair by turn pair (speaker A as `user`, speaker B as
`assistant`, `timestamp` = the session's date, metadata = the two turns' `dia_id`s). Every model call goes
through a recording proxy here, which counts calls and tokens per add and reads each answer the way the
plugin should (JSON with a `facts` / `memory` list). Then every question whose evidence lies in those
sessions is searched (`top_k` 10).

Reported per target and mode: answers unreadable on the first try and after the repair, runaway answers,
facts per turn, facts the plugin dropped as copied from the prompt (and the other screen reasons), facts
copied from the prompt that got through (judged here), memories stored, writes failed, facts stored or
merged over facts kept, add latency p50/p95, LLM calls and tokens per add, evidence-turn recall@10.

    python -m harness.real_model --bin PATH --llama-server PATH --targets "llama|FILE.gguf|name" "url|URL|model"
"""
import argparse
import datetime as dt
import http.server
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from .driver import PluginProcess
from .locomo import EVIDENCE, session_date

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = ("infer_off", "two_pass", "additive")
DROP = re.compile(r'extracted fact dropped reason="?([a-z_]+)')
WORD = re.compile(r"\w+")
REMEMBERED_HEADER = "\n\nAlready remembered ("


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(path: str, sessions: list[int]) -> dict:
    """Turn pairs of the sessions (speaker A's turn, then B's reply when B answers) and the questions whose
    evidence lies in them."""
    with open(path) as f:
        conv = json.load(f)
    pairs = []
    for n in sessions:
        date = session_date(conv.get(f"session_{n}_date_time", ""))
        turns = conv[f"session_{n}"]
        first = turns[0]["speaker"]
        i = 0
        while i < len(turns):
            user = turns[i]
            reply = turns[i + 1] if i + 1 < len(turns) and turns[i + 1]["speaker"] != user["speaker"] else None
            pairs.append({"session": n, "date": date, "user": user, "assistant": reply,
                          "user_is_a": user["speaker"] == first})
            i += 2 if reply else 1
    questions = []
    for q in conv["qa"]:
        ev = [(int(s), int(i)) for e in q.get("evidence", []) for s, i in EVIDENCE.findall(e)]
        if ev and all(s in sessions for s, _ in ev):
            questions.append({"question": q["question"], "category": q["category"], "evidence": ev})
    return {"pairs": pairs, "questions": questions}


class Recorder:
    """An HTTP proxy in front of the model server that records every chat call."""

    def __init__(self, upstream: str, timeout: float):
        self.upstream = upstream.rstrip("/")
        # The proxy gives up when the plugin does: an upstream request left running would hold
        # llama-server's single slot, so every later call would wait behind it and time out too.
        self.timeout = timeout
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                url = recorder.upstream + self.path.removeprefix("/v1")
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")}
                started = time.perf_counter()
                try:
                    with urllib.request.urlopen(urllib.request.Request(url, body, headers),
                                                timeout=recorder.timeout) as r:
                        status, answer = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, answer = e.code, e.read()
                except (OSError, TimeoutError) as e:
                    status, answer = 504, json.dumps({"error": str(e)}).encode()
                recorder.record(body, status, answer, time.perf_counter() - started)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def record(self, body: bytes, status: int, answer: bytes, seconds: float):
        try:
            request = json.loads(body)
        except ValueError:
            request = {}
        try:
            answer_json = json.loads(answer)
        except ValueError:
            answer_json = {}
        choice = (answer_json.get("choices") or [{}])[0]
        content = (choice.get("message") or {}).get("content") or ""
        messages = request.get("messages") or []
        step = "extraction" if messages and messages[0].get("role") == "system" else "decision"
        first_len = 2 if step == "extraction" else 1
        usage = answer_json.get("usage") or {}
        with self.lock:
            self.calls.append({
                "step": step, "repair": len(messages) > first_len, "status": status, "seconds": seconds,
                "finish": choice.get("finish_reason"), "content": content,
                "readable": readable(content, "facts" if step == "extraction" else "memory"),
                "prompt_tokens": usage.get("prompt_tokens", 0), "completion_tokens": usage.get("completion_tokens", 0),
                # The instructions only: the additive mode's list of remembered memories is no prompt text
                # (copies of it are the plugin's `already_remembered` drops).
                "system": (messages[0].get("content", "") if step == "extraction" and messages else "")
                .split(REMEMBERED_HEADER)[0],
                "response_format": (request.get("response_format") or {}).get("type"),
                "max_tokens": request.get("max_tokens"),
            })

    def take(self) -> list[dict]:
        with self.lock:
            calls, self.calls = self.calls, []
        return calls

    def stop(self):
        self.server.shutdown()


def readable(content: str, key: str):
    """The list under `key` when `content` holds JSON with one (fences and prose tolerated), else None."""
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    for candidate in (text, text[text.find("{"):text.rfind("}") + 1] if "{" in text else ""):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get(key), list):
            return value[key]
        if isinstance(value, list):
            return value
    return None


def words(text: str) -> set[str]:
    return {w.lower()[:6] for w in WORD.findall(text) if len(w) >= 3}


def copied_from_prompt(fact: str, system: str, conversation: str) -> bool:
    """The benchmark's own judgement: most of the fact's words are the prompt's and few the conversation's."""
    fw = words(fact)
    if not fw:
        return False
    return len(fw & words(system)) / len(fw) >= 0.75 and len(fw & words(conversation)) / len(fw) < 0.5


def start_llama(server: str, gguf: str, alias: str, log_path: str, seed: int) -> tuple[subprocess.Popen, str]:
    """llama-server on a free port. A fixed `seed` makes its sampling (temperature 0.1 / top_p 0.1 from the
    plugin) repeat from run to run, so two runs of one build give the same answers."""
    port = free_port()
    log = open(log_path, "ab")
    proc = subprocess.Popen([server, "-m", gguf, "--host", "127.0.0.1", "--port", str(port), "-t", "2", "-c", "8192", "-np", "1",
                             "--seed", str(seed), "--alias", alias], stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url + "/v1"
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"llama-server exited with {proc.returncode}; see {log_path}")
        time.sleep(0.5)
    raise RuntimeError("llama-server did not become healthy")


def credentials(model_url: str, model: str, minilm: str, db: str, mode: str, max_tokens: int, timeout: float,
                fact_roles: list[str]) -> dict:
    llm = {"api_key": "bench", "openai_base_url": model_url, "model": model, "max_tokens": max_tokens,
           "timeout": timeout, "max_retries": 0}
    if mode == "additive":
        llm["extraction_mode"] = "additive"
    if fact_roles != ["user"]:
        llm["fact_roles"] = fact_roles
    return {
        "local_llm_json": json.dumps({"provider": "openai", "config": llm}),
        "local_embedder_json": json.dumps({"provider": "local", "config": {"model_path": minilm}}),
        "local_vector_db_json": json.dumps({"provider": "embedded", "config": {"path": db, "collection_name": "bench"}}),
        "async_mode": False,
    }


def binary_kind(path: str) -> str:
    """`release` or `debug` from the Cargo profile folder the plugin binary was built in, else its path."""
    parts = os.path.abspath(path).split(os.sep)
    return next((p for p in ("release", "debug") if p in parts), path)


def percentile(values: list, p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run_mode(args, target: str, model_url: str, model: str, data: dict, mode: str, recorder: Recorder) -> dict:
    scratch = tempfile.mkdtemp(prefix=f"real-model-{mode}-")
    creds = credentials(recorder.url, model, args.minilm, os.path.join(scratch, "memories.db"), mode,
                        args.max_tokens, args.timeout, fact_roles(args))
    env = {**os.environ, "MEM0_DIFY_DATA_DIR": scratch, "RUST_LOG": "warn,mem0_dify=info"}
    log_path = os.path.join(scratch, "plugin.log")
    proc = PluginProcess([os.path.abspath(args.bin), "serve"], scratch, env, log_path)
    user = "locomo-conv-26"
    adds = []
    answers = []
    memories = []
    try:
        proc.wait_heartbeat()
        proc.call(proc.tool(creds, "search_memory", {"query": "warm-up", "user_id": "warm-up"}), 300)
        recorder.take()
        for n, pair in enumerate(data["pairs"]):
            u, a = pair["user"], pair["assistant"]
            ids = [u["dia_id"]] + ([a["dia_id"]] if a else [])
            params = {"user": f"{u['speaker']}: {u['text']}", "user_id": user, "infer": mode != "infer_off",
                      "metadata": json.dumps({"dia_id": ids[0], "dia_ids": " ".join(ids)})}
            if a:
                params["assistant"] = f"{a['speaker']}: {a['text']}"
            if pair["date"]:
                params["timestamp"] = pair["date"]
            s = proc.call(proc.tool(creds, "add_memory", params), timeout=900)
            body = s.json_result() if s.error is None else {"status": "ERROR", "messages": str(s.error)}
            latency, past_ceiling = s.latency, False
            if isinstance(body, dict) and body.get("write_id") and body.get("still_running"):
                past_ceiling, body = True, await_write(proc, creds, body["write_id"])
                latency = time.perf_counter() - s.t_send
            results = body.get("results") if isinstance(body, dict) else None
            if isinstance(results, dict):
                results = results.get("results")
            results = [r for r in results or [] if isinstance(r, dict)]
            events = {}
            for r in results:
                events[r.get("event")] = events.get(r.get("event"), 0) + 1
            adds.append({"latency": latency, "past_ceiling": past_ceiling,
                         "status": body.get("status") if isinstance(body, dict) else None,
                         "message": body.get("messages") if isinstance(body, dict) else None, "events": events,
                         "conversation": params["user"] + "\n" + params.get("assistant", ""),
                         "calls": recorder.take()})
            print(f"[real_model] {target} {mode} add {n + 1}/{len(data['pairs'])}: {adds[-1]['status']} "
                  f"{latency:.1f}s {events}{' (past the sync ceiling)' if past_ceiling else ''}", file=sys.stderr)
        hits_rows = []
        for q in data["questions"]:
            s = proc.call(proc.tool(creds, "search_memory", {"query": q["question"], "user_id": user, "top_k": 10,
                                                             "rerank": False}), 300)
            found_body = s.json_result()
            hits = found_body.get("results") if isinstance(found_body, dict) else found_body
            hits = [h for h in hits or [] if isinstance(h, dict)]
            found = set()
            for h in hits[:10]:
                for d in str((h.get("metadata") or {}).get("dia_ids", "")).split():
                    m = EVIDENCE.fullmatch(d)
                    if m:
                        found.add((int(m.group(1)), int(m.group(2))))
            wanted = set(q["evidence"])
            hits_rows.append(len(wanted & found) / len(wanted))
            answers.append({"question": q["question"], "category": q["category"],
                            "evidence": [f"D{s}:{i}" for s, i in q["evidence"]],
                            "recall": hits_rows[-1],
                            "hits": [{"memory": h.get("memory"), "dia_ids": (h.get("metadata") or {}).get("dia_ids")}
                                     for h in hits[:10]]})
        stored = proc.call(proc.tool(creds, "get_all_memories", {"user_id": user}), 120).json_result()
        listed = stored.get("results") if isinstance(stored, dict) else stored
        n_stored = len(listed or [])
        memories = [{"memory": m.get("memory"), "dia_ids": (m.get("metadata") or {}).get("dia_ids")}
                    for m in listed or [] if isinstance(m, dict)]
    finally:
        proc.stop()
    with open(log_path, errors="replace") as f:
        log = f.read()
    os.makedirs(args.calls, exist_ok=True)
    with open(os.path.join(args.calls, f"{target}-{mode}.jsonl"), "w") as f:
        for n, a in enumerate(adds):
            for c in a["calls"]:
                f.write(json.dumps({"add": n, **{k: v for k, v in c.items() if k != "system"}}) + "\n")
    # What each question found and what was stored, to read why a question misses.
    with open(os.path.join(args.calls, f"{target}-{mode}-questions.jsonl"), "w") as f:
        for a in answers:
            f.write(json.dumps(a) + "\n")
    with open(os.path.join(args.calls, f"{target}-{mode}-memories.json"), "w") as f:
        json.dump(memories, f, indent=1)
    return summarise(adds, hits_rows, n_stored, log, mode)


def await_write(proc: PluginProcess, creds: dict, write_id: str) -> dict:
    """The outcome of a sync add that ran past its ceiling, polled with `get_write_status`, in the shape of
    an add reply (`status`, `messages`, `results`)."""
    while True:
        s = proc.call(proc.tool(creds, "get_write_status", {"write_id": write_id}), 60)
        body = s.json_result() if s.error is None else {}
        state = (body.get("results") or {}) if isinstance(body, dict) else {}
        if state.get("state") == "applied":
            return {"status": "SUCCESS", "results": state.get("result") or {}}
        if state.get("state") == "failed":
            return {"status": "ERROR", "messages": state.get("error")}
        time.sleep(2)


def summarise(adds: list, recall: list, n_stored: int, log: str, mode: str) -> dict:
    calls = [c for a in adds for c in a["calls"]]
    first = [c for c in calls if not c["repair"]]
    extraction_final = []
    copied_through = 0
    for a in adds:
        ex = [c for c in a["calls"] if c["step"] == "extraction" and c["readable"] is not None]
        if ex:
            facts = [f for f in ex[-1]["readable"] if isinstance(f, str)]
            extraction_final.append(len(facts))
            copied_through += sum(copied_from_prompt(f, ex[-1]["system"], a["conversation"]) for f in facts)
    drops = {}
    for reason in DROP.findall(log):
        drops[reason] = drops.get(reason, 0) + 1
    extracted = sum(extraction_final)
    kept = extracted - sum(drops.values())
    stored_or_merged = sum(a["events"].get("ADD", 0) + a["events"].get("UPDATE", 0) + a["events"].get("NONE", 0)
                           for a in adds)
    failed = [a for a in adds if a["status"] != "SUCCESS"]
    silent = [a for a in adds if a["status"] == "SUCCESS" and mode != "infer_off" and not a["events"]
              and any(c["readable"] is None for c in a["calls"])]
    lat = [a["latency"] for a in adds]
    turns = sum(1 + (1 if "\n" in a["conversation"].strip() else 0) for a in adds)
    return {
        "adds": len(adds), "turns": turns,
        "writes_failed": len(failed), "failure_reasons": [str(a["message"])[:200] for a in failed][:5],
        "past_sync_ceiling": sum(a["past_ceiling"] for a in adds),
        "writes_silently_empty": len(silent),
        "llm_calls": len(calls), "llm_calls_per_add": round(len(calls) / max(1, len(adds)), 2),
        "repairs": sum(c["repair"] for c in calls),
        "unreadable_first_try": sum(c["readable"] is None for c in first),
        "unreadable_first_try_pct": round(100 * sum(c["readable"] is None for c in first) / max(1, len(first)), 1),
        "unreadable_after_repair": sum(1 for a in adds if "cannot be read" in str(a["message"] or "")),
        "unreadable_after_repair_pct": round(100 * sum(1 for a in adds if "cannot be read" in str(a["message"] or ""))
                                             / max(1, len(first)), 1),
        "answers_cut_at_limit": sum(c["finish"] == "length" for c in calls),
        "runaways_cut": log.count("runaway model answer cut"),
        "facts_extracted": extracted, "facts_per_turn": round(extracted / max(1, turns), 2),
        "facts_dropped_by_screen": drops, "copied_from_prompt_stored_or_kept": copied_through,
        "facts_kept": kept, "stored_or_merged": stored_or_merged,
        "stored_or_merged_pct_of_kept": round(100 * stored_or_merged / kept, 1) if kept > 0 else None,
        "memories_stored": n_stored,
        "add_s": {"p50": round(percentile(lat, 50), 2), "p95": round(percentile(lat, 95), 2),
                  "max": round(max(lat, default=0), 2)},
        "tokens_per_add": {"prompt": round(sum(c["prompt_tokens"] for c in calls) / max(1, len(adds))),
                           "completion": round(sum(c["completion_tokens"] for c in calls) / max(1, len(adds)))},
        "response_formats": sorted({str(c["response_format"]) for c in calls}),
        "recall_at_10": round(100 * statistics.fmean(recall), 1) if recall else None,
        "questions": len(recall),
    }


def render(result: dict) -> str:
    lines = ["<!-- real-model:start -->", "## Real small model (issue 17)", "",
             f"Run {result['when']} on {result['machine_cores']} cores: LoCoMo {result['conversation']} sessions "
             f"{result['sessions']} ({result['pairs']} user/assistant adds, sync, embedded store, local MiniLM), "
             f"{result['questions']} questions on those sessions; `max_tokens` {result['max_tokens']}, `timeout` "
             f"{result['timeout']} s. Command: `bench/real_model.sh` (not in CI). Unreadable = no JSON with the "
             "expected list; \"copied\" = the benchmark's own judgement (most words from the prompt, few from the "
             "conversation) over the facts the model returned. Plugin binary: "
             f"{result.get('plugin_binary', 'not recorded')}. The machine is shared with other builds and tests: "
             "5-minute load average before and after each mode, "
             + ("; ".join(f"{t} {' → '.join(str(x) for x in l)}" for t, l in result.get("load_avg", {}).items())
                or "not recorded") + ".", ""]
    head = ("| model | mode | failed | silently empty | unreadable 1st try | unreadable after repair | runaways cut "
            "| facts/turn | dropped (screen) | copied, not dropped | kept → stored or merged | memories | add p50 / p95 "
            "| calls/add | tokens/add (prompt+completion) | recall@10 |")
    lines += [head, "|" + "---|" * 16]
    for target, modes in result["targets"].items():
        for mode, r in modes.items():
            if "error" in r:
                lines.append(f"| {target} | {mode} | run failed: {r['error'][:120]} |" + " |" * 14)
                continue
            drops = ", ".join(f"{k} {v}" for k, v in sorted(r["facts_dropped_by_screen"].items())) or "0"
            ratio = "–" if r["stored_or_merged_pct_of_kept"] is None else f"{r['stored_or_merged_pct_of_kept']} %"
            lines.append(
                f"| {target} | {mode} | {r['writes_failed']}/{r['adds']} ({r['past_sync_ceiling']} past the sync "
                f"ceiling) | {r['writes_silently_empty']} "
                f"| {r['unreadable_first_try']} ({r['unreadable_first_try_pct']} %) "
                f"| {r['unreadable_after_repair']} ({r['unreadable_after_repair_pct']} %) | {r['runaways_cut']} "
                f"| {r['facts_per_turn']} | {drops} | {r['copied_from_prompt_stored_or_kept']} "
                f"| {r['facts_kept']} → {r['stored_or_merged']} ({ratio}) | {r['memories_stored']} "
                f"| {r['add_s']['p50']} / {r['add_s']['p95']} s | {r['llm_calls_per_add']} "
                f"| {r['tokens_per_add']['prompt']}+{r['tokens_per_add']['completion']} | {r['recall_at_10']} % |")
    notes = os.path.join(HERE, "../results/real_model_notes.md")
    if os.path.exists(notes):
        lines += ["", open(notes).read().strip()]
    lines += ["", "<!-- real-model:end -->"]
    return "\n".join(lines) + "\n"


def write_section(path: str, section: str):
    text = open(path).read() if os.path.exists(path) else ""
    start, end = "<!-- real-model:start -->", "<!-- real-model:end -->"
    if start in text and end in text:
        text = text[:text.index(start)] + section.rstrip("\n") + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


def rerender(out: str, report: str):
    """BENCHMARKS.md's section again from saved results (after editing the notes)."""
    with open(out) as f:
        write_section(report, render(json.load(f)))


def fact_roles(args) -> list[str]:
    return args.fact_roles.split(",")


def row_key(args, mode: str) -> str:
    """The results key of a mode's row: the mode, with the fact roles when they are not the default."""
    roles = fact_roles(args)
    return mode if roles == ["user"] or mode == "infer_off" else f"{mode}, fact_roles {'+'.join(roles)}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--llama-server", default="")
    ap.add_argument("--targets", nargs="+", required=True, help="kind|where|name, kind = llama (where = GGUF) or url")
    ap.add_argument("--minilm", default=os.environ.get("MEM0_TEST_MINILM_DIR", ""))
    ap.add_argument("--data", default=os.environ.get("MEM0_LOCOMO_DIR", os.path.join(HERE, "../../../shared/data/locomo")))
    ap.add_argument("--conversation", default="conv-26")
    ap.add_argument("--sessions", default="1,2,3")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--max-tokens", type=int, default=2000, help="the LLM block's max_tokens (Mem0's default)")
    ap.add_argument("--timeout", type=float, default=60, help="the LLM block's timeout (seconds per request)")
    ap.add_argument("--seed", type=int, default=1,
                    help="llama-server's sampling seed (fixed so runs repeat; vary it to see the spread)")
    ap.add_argument("--fact-roles", default="user",
                    help="the LLM block's fact_roles: `user` (the plugin's default) or `user,assistant` (LoCoMo's two "
                         "speakers are both people the questions ask about; infer off stores both roles' turns)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N adds (a quick look; no report)")
    ap.add_argument("--calls", default=os.path.join(tempfile.gettempdir(), "real_model_calls"),
                    help="folder of one JSON-lines file per target and mode with every model call (to read answers)")
    ap.add_argument("--out", default=os.path.join(HERE, "../results/real_model.json"))
    ap.add_argument("--report", default=os.path.join(HERE, "../../BENCHMARKS.md"))
    ap.add_argument("--merge", action="store_true",
                    help="keep the other targets and modes already in --out (one run per model or mode, one report)")
    args = ap.parse_args()
    sessions = [int(s) for s in args.sessions.split(",")]
    data = load(os.path.join(args.data, f"{args.conversation}.json"), sessions)
    if args.limit:
        data["pairs"] = data["pairs"][:args.limit]
    result = {"when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine_cores": os.cpu_count(),
              "conversation": args.conversation, "sessions": args.sessions, "pairs": len(data["pairs"]),
              "questions": len(data["questions"]), "max_tokens": args.max_tokens, "timeout": args.timeout,
              "plugin_binary": binary_kind(args.bin), "seed": args.seed, "load_avg": {}, "targets": {}}
    for spec in args.targets:
        kind, where, name = spec.split("|", 2)
        server = None
        try:
            if kind == "llama":
                server, url = start_llama(args.llama_server, where, name,
                                          os.path.join(tempfile.gettempdir(), f"llama-{name}.log"), args.seed)
            else:
                url = where
            recorder = Recorder(url, args.timeout + 1)
            result["targets"][name] = {}
            loads = [os.getloadavg()[1]]
            for mode in args.modes.split(","):
                key = row_key(args, mode)
                try:
                    result["targets"][name][key] = run_mode(args, name, url, name, data, mode, recorder)
                except Exception as e:  # a failed run is reported, not hidden
                    result["targets"][name][key] = {"error": f"{type(e).__name__}: {e}"}
                print(f"[real_model] {name} {key}: {json.dumps(result['targets'][name][key])}", file=sys.stderr)
                loads.append(os.getloadavg()[1])
            # 5-minute load averages around each mode: the machine is shared, so latencies depend on it.
            result["load_avg"][f"{name} ({args.modes})"] = [round(x, 2) for x in loads]
            recorder.stop()
        finally:
            if server is not None:
                server.terminate()
                server.wait(10)
    if args.limit:
        print(json.dumps(result, indent=1))
        return 0
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    if args.merge and os.path.exists(args.out):
        with open(args.out) as f:
            before = json.load(f)
        targets = before.get("targets", {})
        for name, modes in result["targets"].items():
            targets[name] = {**targets.get(name, {}), **modes}
        result["targets"] = targets
        result["load_avg"] = {**before.get("load_avg", {}), **result["load_avg"]}
        result["when"] = f"{before.get('when')} and {result['when']}"
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    write_section(args.report, render(result))
    print(f"[real_model] results in {args.out}; section written to {args.report}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
