from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage

from utils.constants import GET_ALL_OPERATION_TIMEOUT
from utils.results import clients, emit, parse_json_param


class GetAllMemoriesTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        try:
            user_id = tool_parameters.get("user_id")
            if not user_id:
                yield from emit(self, "ERROR", "user_id is required", [], "Error: user_id is required")
                return
            params = {"user_id": user_id}
            for key in ("agent_id", "run_id"):
                if tool_parameters.get(key):
                    params[key] = tool_parameters[key]
            if tool_parameters.get("limit") is not None:
                params["limit"] = int(tool_parameters["limit"])
            try:
                filters = parse_json_param(tool_parameters.get("filters"))
            except ValueError:
                yield from emit(self, "ERROR", "Invalid JSON format for filters", [], "Error: Invalid JSON format for filters")
                return
            if filters:
                params["filters"] = filters
            is_async, client = clients(self)
            if is_async:
                results = client.run_read(client.get_all(params), GET_ALL_OPERATION_TIMEOUT, [])
            else:
                try:
                    results = client.get_all(params)
                except Exception:
                    results = []
            text = f"Found {len(results)} memories" + "".join(
                f"\nID: {r['id']}\nMemory: {r['memory']}\nMetadata: {r.get('metadata')}\n"
                f"Created: {r.get('created_at')}\nUpdated: {r.get('updated_at')}" for r in results)
            yield from emit(self, "SUCCESS", params, results, text)
        except Exception as e:
            yield from emit(self, "ERROR", f"Error: {e}", [], f"Failed to get memories: Error: {e}")
