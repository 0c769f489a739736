from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage

from utils.constants import GET_OPERATION_TIMEOUT
from utils.results import clients, emit


class GetMemoryTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        memory_id = tool_parameters.get("memory_id")
        try:
            is_async, client = clients(self)
            if is_async:
                found = client.run_read(client.get(memory_id), GET_OPERATION_TIMEOUT, None)
            else:
                try:
                    found = client.get(memory_id)
                except Exception:
                    found = None
            if not found:
                yield from emit(self, "ERROR", f"Memory not found: {memory_id}", {},
                                f"Error: Memory not found: {memory_id}")
                return
            result = {k: found.get(k) for k in ("id", "memory", "metadata", "created_at", "updated_at")}
            text = (f"Memory Details:\nID: {result['id']}\nMemory: {result['memory']}\nMetadata: {result['metadata']}\n"
                    f"Created: {result['created_at']}\nUpdated: {result['updated_at']}")
            yield from emit(self, "SUCCESS", {"memory_id": memory_id}, result, text)
        except Exception as e:
            yield from emit(self, "ERROR", f"Error: {e}", {}, f"Failed to get memory: Error: {e}")
