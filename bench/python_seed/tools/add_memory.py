from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage

from utils.constants import ADD_ACCEPT_RESULT, ADD_SKIP_RESULT
from utils.results import clients, emit, parse_json_param


class AddMemoryTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        try:
            user = (tool_parameters.get("user") or "").strip()
            assistant = (tool_parameters.get("assistant") or "").strip()
            user_id = tool_parameters.get("user_id")
            if not user_id:
                yield from emit(self, "ERROR", "user_id is required", [], "Failed to add memory: user_id is required")
                return
            messages = []
            if user:
                messages.append({"role": "user", "content": user})
            if assistant and assistant != user:
                messages.append({"role": "assistant", "content": assistant})
            if not messages:
                yield from emit(self, "SUCCESS", messages, ADD_SKIP_RESULT["results"],
                                "Skipped memory addition for empty messages.")
                return
            payload = {"messages": messages, "user_id": user_id,
                       "agent_id": tool_parameters.get("agent_id"), "run_id": tool_parameters.get("run_id"),
                       "app_id": tool_parameters.get("app_id"), "output_format": tool_parameters.get("output_format")}
            try:
                md = parse_json_param(tool_parameters.get("metadata"))
                if isinstance(md, dict):
                    payload["metadata"] = md
            except ValueError:
                pass
            is_async, client = clients(self)
            if is_async:
                client.submit(client.add(payload))  # fire and forget
                yield from emit(self, "SUCCESS", messages, ADD_ACCEPT_RESULT["results"],
                                "Asynchronous memory addition has been accepted.")
            else:
                result = client.add(payload)
                yield from emit(self, "SUCCESS", messages, result, "Memory added synchronously.")
        except Exception as e:
            yield from emit(self, "ERROR", f"Error: {e}", [], f"Failed to add memory: Error: {e}")
