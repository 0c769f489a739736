from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage

from utils.constants import HISTORY_OPERATION_TIMEOUT
from utils.results import clients, emit


class GetMemoryHistoryTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        memory_id = tool_parameters.get("memory_id")
        params = {"memory_id": memory_id}
        try:
            is_async, client = clients(self)
            if is_async:
                records = client.run_read(client.history(memory_id), HISTORY_OPERATION_TIMEOUT, [])
            else:
                try:
                    records = client.history(memory_id)
                except Exception:
                    records = []
            keys = ("memory_id", "old_memory", "new_memory", "event", "created_at", "updated_at", "is_deleted")
            results = [{k: r.get(k) for k in keys} for r in records or []]
            text = f"Found {len(results)} history records for memory {memory_id}" + "".join(
                f"\n- {r['event']}: {r['old_memory']} -> {r['new_memory']} ({r['created_at']})" for r in results)
            yield from emit(self, "SUCCESS", params, results, text)
        except Exception as e:
            yield from emit(self, "ERROR", f"Error: {e}", [], f"Failed to get memory history: Error: {e}")
