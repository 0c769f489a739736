"""Holds the model server (bench/fake-model) to the reference rules of harness/model_script.py.

    python -m harness.fake_model_check --url http://127.0.0.1:P --script script.json [--reference-url URL]
                                       [--replay requests.jsonl]

Sends the same requests (extraction prompts in both formats, decision prompts in both formats with
NONE / UPDATE / ADD cases, unknown text, embeddings as floats and base64 with and without
`dimensions`, admin config/reset/stats, bad requests) to the server and to the reference (in process,
or another server given by --reference-url) and compares the answers: everything but `created`, the
answer text character for character, embedding floats exactly, and the counters but server time.
Exits 1 listing the differences. `harness.run` calls `check()` before every benchmark.
--replay sends instead the model requests a server recorded (`bench-fake-model --record FILE`, which
`python -m harness.run --model-record FILE` sets and replays at the end): the prompts the plugins really sent."""
import argparse
import json
import random
import sys
import urllib.error
import urllib.request

from .corpus import build
from .model_script import Reference, script_tables


def _http(url: str, method: str, path: str, raw: bytes | None) -> tuple[int, dict]:
    req = urllib.request.Request(url.rstrip("/") + path, data=raw if method == "POST" else None, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _chat(*contents: str, roles=None) -> dict:
    roles = roles or ["system"] * (len(contents) - 1) + ["user"]
    return {"model": "gpt-4o-mini", "messages": [{"role": r, "content": c} for r, c in zip(roles, contents)]}


def requests(tables: dict, seed: int = 7) -> list[tuple[str, str, bytes]]:
    """The requests both sides answer, in order."""
    rng = random.Random(seed)
    turns = sorted(tables["turn_facts"])
    facts = sorted(tables["fact_slot"])
    single = [f for f in facts if tables["fact_slot"][f] in set(tables["single_valued"])]
    out = []

    def post(path, obj):
        out.append(("POST", path, json.dumps(obj, ensure_ascii=False).encode()))

    post("/admin/reset", {})
    post("/admin/config", {"delay_ms": 0})
    for text in rng.sample(turns, 12):  # extraction, this project's and Mem0's formats
        post("/v1/chat/completions", _chat("Extract facts. Example:\nuser: I live in Paris.",
                                           f"Conversation:\nuser: {text}\nassistant: Got it."))
        post("/v1/chat/completions", _chat("You are a Personal Information Organizer...",
                                           f"Input:\nuser: {text}\nassistant: Thanks for sharing that with me.\n"))
    context = rng.choice(turns)
    post("/v1/chat/completions", _chat("sys", f"Conversation:\nuser (context only): {context}\r\nuser: Unknown words here. "
                                              f"Still talking; about Kraków! And more?"))
    post("/v1/chat/completions", _chat("sys", "no marker at all\nuser: Something new."))
    post("/v1/chat/completions", {"messages": [{"role": "user", "content": None},
                                               {"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
    for _ in range(10):  # decisions, this project's format
        old = [{"id": f"m{i}", "text": t} for i, t in enumerate(rng.sample(facts, 3) + rng.sample(single, 2))]
        new = [old[0]["text"].upper(), rng.choice(single), rng.choice(facts), "Something never seen"]
        post("/v1/chat/completions", _chat("Decide.", f"Stored memories (JSON): {json.dumps(old, ensure_ascii=False)}\n"
                                                      f"New facts (JSON): {json.dumps(new, ensure_ascii=False)}\nAnswer."))
    for _ in range(10):  # decisions, Mem0's format (Python literals in fenced blocks)
        old = [{"id": str(i), "text": t} for i, t in enumerate(rng.sample(single, 2) + rng.sample(facts, 2))]
        new = [old[-1]["text"], rng.choice(single), "It's a fact with a quote", rng.choice(facts)]
        prompt = ("You are a smart memory manager...\n    Below is the current content of my memory which I have "
                  f"collected till now. You have to update it in the following format only:\n\n    ```\n    {old}\n    ```\n\n"
                  "    The new retrieved facts are mentioned in the triple backticks. You have to analyze the new "
                  f"retrieved facts and determine whether these facts should be added, updated, or deleted in the "
                  f"memory.\n\n    ```\n    {new}\n    ```\n")
        post("/v1/chat/completions", {"messages": [{"role": "user", "content": prompt}], "model": "m"})
    post("/v1/chat/completions", _chat("x", "new retrieved facts\n```\n[]\n```"))  # empty memory, no facts
    texts = [rng.choice(facts) for _ in range(6)] + ["", "the and of", "Ünïcödé café in São Paulo", "Lives in Porto!!"]
    post("/v1/embeddings", {"model": "text-embedding-3-small", "input": texts})
    post("/v1/embeddings", {"model": "text-embedding-3-small", "input": texts, "encoding_format": "base64"})
    post("/v1/embeddings", {"input": rng.choice(turns), "dimensions": 64})
    post("/v1/embeddings", {"input": [rng.choice(turns)], "dimensions": 1536, "encoding_format": "base64"})
    post("/admin/config", {"delay_ms": 1})
    post("/v1/embeddings", {"input": "delayed"})
    post("/admin/config", {"delay_ms": 0})
    out.append(("GET", "/admin/stats", b""))
    out.append(("GET", "/v1/models", b""))
    out.append(("POST", "/v1/embeddings", b"{not json"))
    out.append(("POST", "/v1/nowhere", b"{}"))
    post("/admin/reset", {})
    out.append(("GET", "/admin/stats", b""))
    return out


def recorded(path: str) -> list[tuple[str, str, bytes]]:
    """The model requests a server recorded with --record, as requests to send again."""
    with open(path) as f:
        return [("POST", r["path"], r["body"].encode()) for r in map(json.loads, f) if r]


def _comparable(path: str, body: dict) -> dict:
    body = json.loads(json.dumps(body))
    body.pop("created", None)
    for kind in (body.get("stats") or {}).values() if path.startswith("/admin/stats") else ():
        kind.pop("server_ms", None)
    return body


def check(url: str, tables: dict, reference_url: str | None = None, reqs: list | None = None) -> list[str]:
    """The differences between the server at `url` and the reference (empty when they agree) over `reqs`
    (default: `requests(tables)`)."""
    ref = Reference(tables)
    diffs = []
    for method, path, raw in requests(tables) if reqs is None else reqs:
        want = _http(reference_url, method, path, raw) if reference_url else ref.handle(method, path, raw)
        got = _http(url, method, path, raw)
        w, g = (want[0], _comparable(path, want[1])), (got[0], _comparable(path, got[1]))
        if w != g:
            diffs.append(f"{method} {path} {raw[:160]!r}:\n  expected {json.dumps(w)[:600]}\n  got      {json.dumps(g)[:600]}")
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--script", help="the server's script file (default: built from the corpus of harness.run)")
    ap.add_argument("--reference-url", help="compare with another server instead of the in-process reference")
    ap.add_argument("--replay", help="send the requests a server recorded (--record) instead of the built-in set")
    a = ap.parse_args()
    if a.script:
        with open(a.script) as f:
            tables = json.load(f)
    else:
        tables = script_tables(build(users=2000, turns_per_user=6))
    reqs = recorded(a.replay) if a.replay else requests(tables)
    diffs = check(a.url, tables, a.reference_url, reqs)
    n = len(reqs)
    if diffs:
        print(f"{len(diffs)} of {n} answers differ:\n" + "\n".join(diffs))
        sys.exit(1)
    print(f"model server agrees with the reference on {n} requests")


if __name__ == "__main__":
    main()
