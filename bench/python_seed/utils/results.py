"""Helpers shared by the tools: the unified {"status","messages","results"} JSON, then a text message."""
import json
from typing import Any

from .config_builder import is_async_mode
from .mem0_client import AsyncLocalClient, LocalClient


def emit(tool, status: str, messages: Any, results: Any, text: str):
    yield tool.create_json_message({"status": status, "messages": messages, "results": results})
    yield tool.create_text_message(text)


def clients(tool):
    creds = tool.runtime.credentials
    if is_async_mode(creds):
        return True, AsyncLocalClient(creds)
    return False, LocalClient(creds)


def parse_json_param(raw):
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, dict):
        return raw
    return json.loads(raw)
