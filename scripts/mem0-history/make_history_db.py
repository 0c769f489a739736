"""Makes a Mem0 history.db with the real mem0ai package (scripts/mem0-history/install.sh installs
the seed's version): adds memories with infer=False (no LLM needed), updates one, deletes one.
Embeddings come from a tiny local OpenAI-compatible server (deterministic bag of words), the
vectors go to a throwaway local Qdrant folder. Prints what it did as JSON on stdout:
{"memories": [{"id", "text", "user_id", "deleted"}], "mem0ai": VERSION}.

Usage: python make_history_db.py OUT_HISTORY_DB WORK_DIR
"""

import hashlib
import http.server
import importlib.metadata
import json
import os
import sys
import threading

DIMS = 8


def embed(text):
    vector = [0.0] * DIMS
    for word in text.lower().split():
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIMS] += 1.0
    return vector if any(vector) else [1.0] + [0.0] * (DIMS - 1)


class FakeOpenAi(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if not self.path.endswith("/embeddings"):
            self.send_error(404, "only embeddings are served")
            return
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        answer = {
            "object": "list",
            "model": body.get("model", "fake"),
            "data": [{"object": "embedding", "index": i, "embedding": embed(t)} for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }
        raw = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


def main():
    out, work = sys.argv[1], sys.argv[2]
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ["MEM0_DIR"] = os.path.join(work, "mem0-dir")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/v1"

    from mem0 import Memory

    model = {"api_key": "sk-fake", "openai_base_url": base}
    memory = Memory.from_config(
        {
            "llm": {"provider": "openai", "config": {"model": "gpt-4o-mini", **model}},
            "embedder": {"provider": "openai", "config": {"model": "text-embedding-3-small", "embedding_dims": DIMS, **model}},
            "vector_store": {
                "provider": "qdrant",
                "config": {"collection_name": "seed", "path": os.path.join(work, "qdrant"), "embedding_model_dims": DIMS, "on_disk": True},
            },
            "history_db_path": out,
        }
    )
    done = []
    for user, text in [("alice", "Likes green tea"), ("alice", "Lives in Paris"), ("bob", "Plays the cello")]:
        result = memory.add([{"role": "user", "content": text}], user_id=user, infer=False)
        done.append({"id": result["results"][0]["id"], "text": text, "user_id": user, "deleted": False})
    memory.update(done[1]["id"], "Lives in Berlin")
    done[1]["text"] = "Lives in Berlin"
    memory.delete(done[2]["id"])
    done[2]["deleted"] = True
    print(json.dumps({"memories": done, "mem0ai": importlib.metadata.version("mem0ai")}))
    server.shutdown()


if __name__ == "__main__":
    main()
