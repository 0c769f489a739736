"""Entry point, as the seed's main.py: telemetry off before any import, SDK plugin, shutdown hooks."""
import os

os.environ.setdefault("MEM0_TELEMETRY", "False")
os.environ.setdefault("POSTHOG_DISABLED", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

import atexit  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from dify_plugin import DifyPluginEnv, Plugin  # noqa: E402

from utils.constants import MAX_REQUEST_TIMEOUT  # noqa: E402
from utils.mem0_client import AsyncLocalClient  # noqa: E402

plugin = Plugin(DifyPluginEnv(MAX_REQUEST_TIMEOUT=MAX_REQUEST_TIMEOUT))


def _graceful_shutdown() -> None:
    AsyncLocalClient.shutdown(timeout=3.0)


def _on_sigterm(signum, frame):  # noqa: ARG001
    _graceful_shutdown()
    sys.exit(0)


atexit.register(_graceful_shutdown)
signal.signal(signal.SIGTERM, _on_sigterm)

if __name__ == "__main__":
    try:
        plugin.run()
    except KeyboardInterrupt:
        _graceful_shutdown()
