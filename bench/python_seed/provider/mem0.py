"""Provider: credential validation runs one search (embedder + vector store; the LLM is not called)."""
from typing import Any

from dify_plugin import ToolProvider
from dify_plugin.errors.tool import ToolProviderCredentialValidationError

from utils.config_builder import is_async_mode
from utils.mem0_client import AsyncLocalClient, LocalClient


class Mem0Provider(ToolProvider):
    def _validate_credentials(self, credentials: dict[str, Any]) -> None:
        try:
            payload = {"query": "test", "user_id": "validation_test"}
            if is_async_mode(credentials):
                client = AsyncLocalClient(credentials)
                client.submit(client.search(payload)).result()
            else:
                LocalClient(credentials).search(payload)
        except Exception as e:
            raise ToolProviderCredentialValidationError(str(e)) from e
