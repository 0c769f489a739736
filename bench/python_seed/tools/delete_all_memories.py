from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage

from utils.constants import DELETE_ALL_ACCEPT_RESULT
from utils.results import clients, emit


class DeleteAllMemoriesTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        user_id = tool_parameters.get("user_id")
        if not user_id:
            yield from emit(self, "ERROR", "user_id is required", [], "Error: user_id is required")
            return
        filters = {"user_id": user_id}
        for key in ("agent_id", "run_id"):
            if tool_parameters.get(key):
                filters[key] = tool_parameters[key]
        try:
            is_async, client = clients(self)
            if is_async:
                client.submit(client.delete_all(filters))
                yield from emit(self, "SUCCESS", {"filters": filters}, DELETE_ALL_ACCEPT_RESULT["results"],
                                "Asynchronous batch memory deletion has been accepted.")
                return
            result = client.delete_all(filters)
            yield from emit(self, "SUCCESS", {"filters": filters}, result,
                            f"All memories deleted successfully with filters : {filters}")
        except Exception as e:
            yield from emit(self, "ERROR", f"Error: {e}", [], f"Failed to delete memories: Error: {e}")
