"""Scripted OpenAI-format model server shared by both stacks.

    python -m harness.fake_model --port P --corpus corpus.json [--dims 384] [--delay-ms 0]

POST /v1/chat/completions
    * an update/decision prompt (Mem0's "new retrieved facts" or this project's "New facts (JSON):")
      -> {"memory": [...]}: NONE for a fact already stored, UPDATE of the stored memory of the same
      single-valued slot (city, job, ...), otherwise ADD;
    * anything else is a fact-extraction prompt -> {"facts": [...]}: the facts the corpus lists for
      the user turn found in the prompt (lines "user: ..." / "user (context only): ...");
      unknown text falls back to one fact per sentence.
POST /v1/embeddings -> harness.embedding vectors (float list or base64 float32, as requested).
GET /admin/stats, POST /admin/reset, POST /admin/config {"delay_ms": N}
    per-kind counters: calls, inputs, prompt chars, prompt tokens (estimated as ceil(chars / 4)),
    and server_ms (time inside the server per request, including the configured delay).
Every model answer waits delay_ms first. Sockets use TCP_NODELAY and each response is one write
(a split header/body write costs ~40 ms per call through Nagle + delayed ACK).
"""
import argparse
import ast
import base64
import json
import math
import re
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .corpus import SLOT_INDEX
from .embedding import embed

STATE = {"delay_ms": 0.0, "dims": 384}
LOCK = threading.Lock()
STATS: dict = {}
TURN_FACTS: dict[str, list[str]] = {}
FACT_SLOT: dict[str, str] = {}
_USER_LINE = re.compile(r"^\s*user(?:\s*\([^)]*\))?\s*:\s*(.*)$")
_CONVERSATION_MARKERS = ("Conversation:", "Input:")


def load_corpus(path: str) -> None:
    with open(path) as f:
        data = json.load(f)
    for t in data["turns"]:
        TURN_FACTS[t["user"].strip()] = [x["text"] for x in t["facts"]]
        for x in t["facts"]:
            FACT_SLOT[x["text"]] = x["slot"]


def estimate_tokens(chars: int) -> int:
    return math.ceil(chars / 4)


REQUEST_LOG = None


def record(kind: str, chars: int, inputs: int, server_s: float, sample=None) -> None:
    if REQUEST_LOG is not None:
        with LOCK:
            REQUEST_LOG.write(json.dumps({"kind": kind, "chars": chars, "inputs": inputs, "sample": sample}) + "\n")
    with LOCK:
        s = STATS.setdefault(kind, {"calls": 0, "inputs": 0, "prompt_chars": 0, "prompt_tokens": 0, "server_ms": 0.0})
        s["calls"] += 1
        s["inputs"] += inputs
        s["prompt_chars"] += chars
        s["prompt_tokens"] += estimate_tokens(chars)
        s["server_ms"] += server_s * 1000


def conversation_text(msgs: list[dict]) -> str:
    """The conversation inside an extraction request: the last user-role message, from its last
    "Input:" (Mem0) or "Conversation:" (this project) marker on; system prompts and their few-shot
    examples are never read."""
    users = [m.get("content") for m in msgs if m.get("role") == "user" and isinstance(m.get("content"), str)]
    text = users[-1] if users else ""
    cut = max(text.rfind(mk) for mk in _CONVERSATION_MARKERS)
    return text[cut:] if cut >= 0 else text


def extract_facts(prompt: str) -> list[str]:
    facts = []
    for line in prompt.splitlines():
        m = _USER_LINE.match(line)
        if not m:
            continue
        body = m.group(1).strip()
        known = TURN_FACTS.get(body)
        if known is not None:
            facts.extend(known)
            continue
        facts.extend(s.strip() for s in re.split(r"[.;!?]\s*", body) if s.strip())
    return facts


def _literal_after(text: str, marker: str, fenced: bool):
    i = text.find(marker)
    if i < 0:
        return None
    tail = text[i + len(marker):]
    if fenced:
        m = re.search(r"```\s*(.*?)\s*```", tail, re.S)
        if not m:
            return None
        raw = m.group(1)
        for parse in (json.loads, ast.literal_eval):
            try:
                return parse(raw)
            except (ValueError, SyntaxError):
                continue
        return None
    start = tail.find("[")
    if start < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(tail[start:])
        return value
    except ValueError:
        return None


def decision_inputs(prompt: str) -> tuple[list[dict], list[str]] | None:
    if "New facts (JSON):" in prompt:  # this project's decision prompt
        old = _literal_after(prompt, "Stored memories (JSON):", fenced=False) or []
        facts = _literal_after(prompt, "New facts (JSON):", fenced=False) or []
        return old, facts
    if "new retrieved facts" in prompt:  # Mem0's update prompt
        old = _literal_after(prompt, "Below is the current content of my memory", fenced=True) or []
        facts = _literal_after(prompt, "The new retrieved facts are mentioned in the triple backticks", fenced=True) or []
        return old, facts
    return None


def decide(old: list[dict], facts: list[str]) -> list[dict]:
    out, touched = [], set()
    by_text = {str(m.get("text", "")).strip().lower(): m for m in old if isinstance(m, dict)}
    for fact in facts:
        fact = str(fact)
        same = by_text.get(fact.strip().lower())
        if same is not None:
            out.append({"id": str(same.get("id")), "text": same.get("text"), "event": "NONE"})
            touched.add(str(same.get("id")))
            continue
        slot = FACT_SLOT.get(fact)
        target = None
        if slot in SLOT_INDEX and SLOT_INDEX[slot][1]:
            for m in old:
                if isinstance(m, dict) and FACT_SLOT.get(m.get("text")) == slot and str(m.get("id")) not in touched:
                    target = m
                    break
        if target is not None:
            touched.add(str(target.get("id")))
            out.append({"id": str(target.get("id")), "text": fact, "event": "UPDATE", "old_memory": target.get("text")})
        else:
            out.append({"id": "new", "text": fact, "event": "ADD"})
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _send(self, obj, code=200):
        body = json.dumps(obj).encode()
        head = (f"HTTP/1.1 {code} {'OK' if code == 200 else 'Error'}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n").encode()
        self.wfile.write(head + body)

    def do_GET(self):
        if self.path.startswith("/admin/stats"):
            with LOCK:
                return self._send({"delay_ms": STATE["delay_ms"], "dims": STATE["dims"],
                                   "stats": json.loads(json.dumps(STATS))})
        self._send({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        t0 = time.perf_counter()
        if self.path.startswith("/admin/reset"):
            with LOCK:
                STATS.clear()
            return self._send({"ok": True})
        if self.path.startswith("/admin/config"):
            STATE.update(json.loads(raw))
            return self._send({"ok": True, **STATE})
        try:
            req = json.loads(raw)
        except ValueError:
            return self._send({"error": {"message": "body is not JSON"}}, 400)
        if self.path.endswith("/chat/completions"):
            return self._chat(req, t0)
        if self.path.endswith("/embeddings"):
            return self._embeddings(req, t0)
        self._send({"error": {"message": f"no route {self.path}"}}, 404)

    def _delay(self):
        if STATE["delay_ms"]:
            time.sleep(STATE["delay_ms"] / 1000)

    def _chat(self, req, t0):
        msgs = req.get("messages") or []
        texts = [m.get("content") if isinstance(m.get("content"), str) else json.dumps(m.get("content")) for m in msgs]
        chars = sum(len(t or "") for t in texts)
        joined = "\n".join(t or "" for t in texts)
        decision = decision_inputs(joined)
        if decision is not None:
            kind, content = "llm_update", json.dumps({"memory": decide(*decision)})
        else:
            kind, content = "llm_extract", json.dumps({"facts": extract_facts(conversation_text(msgs))})
        self._delay()
        answer = {"id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
                  "model": req.get("model", "fake"),
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                               "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": estimate_tokens(chars), "completion_tokens": estimate_tokens(len(content)),
                            "total_tokens": estimate_tokens(chars) + estimate_tokens(len(content))}}
        record(kind, chars, 1, time.perf_counter() - t0, content[:300])
        self._send(answer)

    def _embeddings(self, req, t0):
        inp = req.get("input")
        inputs = [inp] if isinstance(inp, str) else list(inp or [])
        dims = int(req.get("dimensions") or STATE["dims"])
        as_b64 = req.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(inputs):
            v = embed(text if isinstance(text, str) else str(text), dims)
            if as_b64:
                v = base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode()
            data.append({"object": "embedding", "index": i, "embedding": v})
        chars = sum(len(t) for t in inputs if isinstance(t, str))
        self._delay()
        record("embed", chars, len(inputs), time.perf_counter() - t0, [str(t)[:120] for t in inputs[:4]])
        self._send({"object": "list", "data": data, "model": req.get("model", "fake"),
                    "usage": {"prompt_tokens": estimate_tokens(chars), "total_tokens": estimate_tokens(chars)}})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--dims", type=int, default=384)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--log", help="append one JSON line per model request (kind, size, sample of inputs/answer)")
    a = ap.parse_args()
    global REQUEST_LOG
    if a.log:
        REQUEST_LOG = open(a.log, "a", buffering=1)
    load_corpus(a.corpus)
    STATE.update(delay_ms=a.delay_ms, dims=a.dims)
    Server(("127.0.0.1", a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
