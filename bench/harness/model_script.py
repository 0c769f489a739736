"""The fake model's script: the corpus tables its answers come from, and the reference rules.

The benchmark's model server is the Rust program in bench/fake-model (`bench-fake-model --port P
--script script.json`, built by bench/install.sh). This module writes its script file from the
generated corpus (`write_script`: `turn_facts`, `fact_slot`, `single_valued`), so the corpus rules
live only in harness/corpus.py, and holds the reference behaviour the server is held to by
harness/fake_model_check.py (every `bench/run.sh` runs it before measuring):

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
import ast
import base64
import json
import math
import re
import struct
import time

from .corpus import SLOT_INDEX
from .embedding import embed

_USER_LINE = re.compile(r"^\s*user(?:\s*\([^)]*\))?\s*:\s*(.*)$")
_CONVERSATION_MARKERS = ("Conversation:", "Input:")


def script_tables(corpus: dict) -> dict:
    """What the server needs of the corpus: each user turn's facts, each fact's slot, and which
    slots are single-valued (a later fact of the slot UPDATEs the stored one)."""
    turn_facts, fact_slot = {}, {}
    for t in corpus["turns"]:
        turn_facts[t["user"].strip()] = [x["text"] for x in t["facts"]]
        for x in t["facts"]:
            fact_slot[x["text"]] = x["slot"]
    return {"turn_facts": turn_facts, "fact_slot": fact_slot,
            "single_valued": sorted(name for name, s in SLOT_INDEX.items() if s[1])}


def write_script(corpus: dict, path: str) -> None:
    with open(path, "w") as f:
        json.dump(script_tables(corpus), f, ensure_ascii=False)


def estimate_tokens(chars: int) -> int:
    return math.ceil(chars / 4)


def conversation_text(msgs: list[dict]) -> str:
    """The conversation inside an extraction request: the last user-role message, from its last
    "Input:" (Mem0) or "Conversation:" (this project) marker on; system prompts and their few-shot
    examples are never read."""
    users = [m.get("content") for m in msgs if m.get("role") == "user" and isinstance(m.get("content"), str)]
    text = users[-1] if users else ""
    cut = max(text.rfind(mk) for mk in _CONVERSATION_MARKERS)
    return text[cut:] if cut >= 0 else text


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


class Reference:
    """The server's behaviour in Python, request by request (the check's expected answers)."""

    def __init__(self, tables: dict, dims: int = 384, delay_ms: float = 0.0):
        self.turn_facts, self.fact_slot = tables["turn_facts"], tables["fact_slot"]
        self.single_valued = set(tables["single_valued"])
        self.state = {"delay_ms": delay_ms, "dims": dims}
        self.stats: dict = {}

    def record(self, kind: str, chars: int, inputs: int, server_s: float) -> None:
        s = self.stats.setdefault(kind, {"calls": 0, "inputs": 0, "prompt_chars": 0, "prompt_tokens": 0, "server_ms": 0.0})
        s["calls"] += 1
        s["inputs"] += inputs
        s["prompt_chars"] += chars
        s["prompt_tokens"] += estimate_tokens(chars)
        s["server_ms"] += server_s * 1000

    def handle(self, method: str, path: str, raw: bytes) -> tuple[int, dict]:
        """(status, JSON body) of one request (the configured delay is not slept)."""
        t0 = time.perf_counter()
        if method == "GET":
            if path.startswith("/admin/stats"):
                return 200, {"delay_ms": self.state["delay_ms"], "dims": self.state["dims"],
                             "stats": json.loads(json.dumps(self.stats))}
            return 200, {"object": "list", "data": [{"id": "fake", "object": "model"}]}
        raw = raw or b"{}"
        if path.startswith("/admin/reset"):
            self.stats.clear()
            return 200, {"ok": True}
        if path.startswith("/admin/config"):
            self.state.update(json.loads(raw))
            return 200, {"ok": True, **self.state}
        try:
            req = json.loads(raw)
        except ValueError:
            return 400, {"error": {"message": "body is not JSON"}}
        if path.endswith("/chat/completions"):
            return 200, self._chat(req, t0)
        if path.endswith("/embeddings"):
            return 200, self._embeddings(req, t0)
        return 404, {"error": {"message": f"no route {path}"}}

    def _chat(self, req, t0):
        msgs = req.get("messages") or []
        texts = [m.get("content") if isinstance(m.get("content"), str) else json.dumps(m.get("content")) for m in msgs]
        chars = sum(len(t or "") for t in texts)
        joined = "\n".join(t or "" for t in texts)
        decision = decision_inputs(joined)
        if decision is not None:
            kind, content = "llm_update", json.dumps({"memory": self.decide(*decision)})
        else:
            kind, content = "llm_extract", json.dumps({"facts": self.extract_facts(conversation_text(msgs))})
        answer = {"id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
                  "model": req.get("model", "fake"),
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                               "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": estimate_tokens(chars), "completion_tokens": estimate_tokens(len(content)),
                            "total_tokens": estimate_tokens(chars) + estimate_tokens(len(content))}}
        self.record(kind, chars, 1, time.perf_counter() - t0)
        return answer

    def _embeddings(self, req, t0):
        inp = req.get("input")
        inputs = [inp] if isinstance(inp, str) else list(inp or [])
        dims = int(req.get("dimensions") or self.state["dims"])
        as_b64 = req.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(inputs):
            v = embed(text if isinstance(text, str) else str(text), dims)
            if as_b64:
                v = base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode()
            data.append({"object": "embedding", "index": i, "embedding": v})
        chars = sum(len(t) for t in inputs if isinstance(t, str))
        self.record("embed", chars, len(inputs), time.perf_counter() - t0)
        return {"object": "list", "data": data, "model": req.get("model", "fake"),
                "usage": {"prompt_tokens": estimate_tokens(chars), "total_tokens": estimate_tokens(chars)}}

    def extract_facts(self, prompt: str) -> list[str]:
        facts = []
        for line in prompt.splitlines():
            m = _USER_LINE.match(line)
            if not m:
                continue
            body = m.group(1).strip()
            known = self.turn_facts.get(body)
            if known is not None:
                facts.extend(known)
                continue
            facts.extend(s.strip() for s in re.split(r"[.;!?]\s*", body) if s.strip())
        return facts

    def decide(self, old: list[dict], facts: list[str]) -> list[dict]:
        out, touched = [], set()
        by_text = {str(m.get("text", "")).strip().lower(): m for m in old if isinstance(m, dict)}
        for fact in facts:
            fact = str(fact)
            same = by_text.get(fact.strip().lower())
            if same is not None:
                out.append({"id": str(same.get("id")), "text": same.get("text"), "event": "NONE"})
                touched.add(str(same.get("id")))
                continue
            slot = self.fact_slot.get(fact)
            target = None
            if slot in self.single_valued:
                for m in old:
                    if isinstance(m, dict) and self.fact_slot.get(m.get("text")) == slot and str(m.get("id")) not in touched:
                        target = m
                        break
            if target is not None:
                touched.add(str(target.get("id")))
                out.append({"id": str(target.get("id")), "text": fact, "event": "UPDATE", "old_memory": target.get("text")})
            else:
                out.append({"id": "new", "text": fact, "event": "ADD"})
        return out
