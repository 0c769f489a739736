from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage

from utils.constants import SEARCH_DEFAULT_TOP_K, SEARCH_OPERATION_TIMEOUT
from utils.results import clients, emit, parse_json_param


class SearchMemoryTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        try:
            query = tool_parameters.get("query")
            user_id = tool_parameters.get("user_id")
            if not query:
                yield from emit(self, "ERROR", "query is required", [], "Failed to search memory: query is required")
                return
            if not user_id:
                yield from emit(self, "ERROR", "user_id is required", [], "Failed to search memory: user_id is required")
                return
            try:
                filters = parse_json_param(tool_parameters.get("filters"))
            except ValueError as e:
                yield from emit(self, "ERROR", f"Invalid JSON in filters: {e}", [], f"Failed to search memory: {e}")
                return
            top_k = tool_parameters.get("top_k")
            try:
                limit = int(top_k) if top_k is not None else SEARCH_DEFAULT_TOP_K
            except (TypeError, ValueError):
                limit = 100
            payload = {"query": query, "user_id": user_id, "agent_id": tool_parameters.get("agent_id"),
                       "run_id": tool_parameters.get("run_id"), "filters": filters, "limit": limit}
            is_async, client = clients(self)
            if is_async:
                results = client.run_read(client.search(payload), SEARCH_OPERATION_TIMEOUT, [])
            else:
                try:
                    results = client.search(payload)
                except Exception:
                    results = []
            lines = [f"Query: {query}"]
            for i, r in enumerate(results, 1):
                lines.append(f"{i}. Memory: {r.get('memory')}\n   Score: {r.get('score') or 0:.2f}\n"
                             f"   Metadata: {r.get('metadata')}")
            if not results:
                lines.append("No results found.")
            yield from emit(self, "SUCCESS", query, results, "\n".join(lines))
        except Exception as e:
            yield from emit(self, "ERROR", f"Error: {e}", [], f"Failed to search memory: Error: {e}")
