"""Credentials -> mem0 config dict, as the seed's utils/config_builder.py does it (seed-plugin.md §5)."""
import ast
import json
from typing import Any
from urllib.parse import quote

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def is_async_mode(credentials: dict[str, Any]) -> bool:
    value = credentials.get("async_mode")
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value.strip().lower()
        if v in _FALSE:
            return False
        if v in _TRUE:
            return True
    return True


def _parse_json_block(raw: Any, name: str) -> dict | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, dict):
        data = raw
    else:
        text = str(raw).strip()
        if text.startswith("```"):
            text = text.strip("`")
            if text.lower().startswith("json"):
                text = text[4:]
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            try:
                data = ast.literal_eval(text)
            except (ValueError, SyntaxError) as e:
                raise ValueError(f"{name} is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{name} must be a JSON object")
    if not data.get("provider") or not isinstance(data.get("config"), dict):
        raise ValueError(f"{name} must include 'provider' and 'config' object")
    return data


def _normalize_pgvector_config(cfg: dict) -> dict:
    if isinstance(cfg.get("connection_string"), str):
        return cfg
    dbname = cfg.get("dbname") or cfg.get("database")
    user = cfg.get("user")
    if not (dbname and user):
        return cfg
    password = cfg.get("password") or ""
    host = cfg.get("host") or "localhost"
    port = cfg.get("port") or 5432
    auth = quote(str(user), safe="") + (":" + quote(str(password), safe="") if password else "")
    url = f"postgresql://{auth}@{host}:{port}/{dbname}"
    if cfg.get("sslmode"):
        url += "?sslmode=" + quote(str(cfg["sslmode"]), safe="")
    out = {"connection_string": url}
    for key in ("collection_name", "embedding_model_dims", "metric"):
        if key in cfg:
            out[key] = cfg[key]
    return out


def build_local_mem0_config(credentials: dict[str, Any]) -> dict:
    llm = _parse_json_block(credentials.get("local_llm_json"), "local_llm_json")
    if llm is None:
        raise ValueError("LLM configuration (local_llm_json) is required in Local mode")
    embedder = _parse_json_block(credentials.get("local_embedder_json"), "local_embedder_json")
    if embedder is None:
        raise ValueError("Embedder configuration (local_embedder_json) is required in Local mode")
    vector = _parse_json_block(credentials.get("local_vector_db_json"), "local_vector_db_json")
    if vector is None:
        raise ValueError("Vector database configuration (local_vector_db_json) is required in Local mode")
    if vector["provider"] == "pgvector":
        vector = {"provider": "pgvector", "config": _normalize_pgvector_config(vector["config"])}
    config = {"llm": llm, "embedder": embedder, "vector_store": vector}
    reranker = _parse_json_block(credentials.get("local_reranker_json"), "local_reranker_json")
    if reranker:
        config["reranker"] = reranker
    graph = _parse_json_block(credentials.get("local_graph_db_json"), "local_graph_db_json")
    if graph:
        config["graph_store"] = graph
    return config
