from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage

from utils.constants import UPDATE_ACCEPT_RESULT
from utils.results import clients, emit


class UpdateMemoryTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        memory_id = tool_parameters.get("memory_id")
        text = tool_parameters.get("text")
        params = {"memory_id": memory_id, "text": text}
        try:
            is_async, client = clients(self)
            if is_async:
                client.submit(client.update(memory_id, text))
                yield from emit(self, "SUCCESS", params, UPDATE_ACCEPT_RESULT["results"],
                                "Asynchronous memory update has been accepted.")
                return
            if not client.get(memory_id):
                yield from emit(self, "ERROR", f"Memory not found: {memory_id}", {}, f"Error: Memory not found: {memory_id}")
                return
            try:
                result = client.update(memory_id, text)
            except AttributeError:
                msg = f"Memory not found or already deleted: {memory_id}"
                yield from emit(self, "ERROR", msg, {}, f"Error: {msg}")
                return
            yield from emit(self, "SUCCESS", params, result, f"Memory {memory_id} updated to '{text}' successfully!")
        except Exception as e:
            yield from emit(self, "ERROR", f"Error: {e}", [], f"Failed to update memory: Error: {e}")
