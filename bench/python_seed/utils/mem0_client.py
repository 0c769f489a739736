"""The seed's two clients (seed-plugin.md §6): a per-call sync LocalClient and a process-wide
AsyncLocalClient singleton running mem0 AsyncMemory on one background event loop, every operation
behind one asyncio.Semaphore(MAX_CONCURRENT_MEM_ADDS)."""
import asyncio
import concurrent.futures
import logging
import threading
from typing import Any

from mem0 import AsyncMemory, Memory

from .config_builder import build_local_mem0_config
from .constants import ADD_SKIP_RESULT, CUSTOM_PROMPT, MAX_CONCURRENT_MEM_ADDS

logger = logging.getLogger(__name__)


def _norm_search(raw: Any) -> list[dict]:
    items = raw.get("results", []) if isinstance(raw, dict) else (raw or [])
    return [{"id": m.get("id"), "memory": m.get("memory"), "score": m.get("score"),
             "metadata": m.get("metadata"), "created_at": m.get("created_at")} for m in items]


def _norm_get_all(raw: Any) -> list[dict]:
    items = raw.get("results", []) if isinstance(raw, dict) else (raw or [])
    return [{"id": m.get("id"), "memory": m.get("memory"), "metadata": m.get("metadata"),
             "created_at": m.get("created_at"), "updated_at": m.get("updated_at")} for m in items]


def _add_kwargs(payload: dict) -> dict:
    kw = {"user_id": payload.get("user_id")}
    for key in ("agent_id", "run_id", "metadata"):
        if payload.get(key):
            kw[key] = payload[key]
    return kw


def _search_kwargs(payload: dict) -> dict:
    filters = payload.get("filters")
    if isinstance(filters, dict) and filters:
        # the seed drops the id parameters when filters are given
        return {"filters": filters, "limit": payload.get("limit")}
    kw = {"user_id": payload.get("user_id"), "limit": payload.get("limit")}
    for key in ("agent_id", "run_id"):
        if payload.get(key):
            kw[key] = payload[key]
    return kw


class LocalClient:
    """Sync mode: a new mem0 Memory per tool call (never cached)."""

    def __init__(self, credentials: dict):
        self.memory = Memory.from_config(build_local_mem0_config(credentials))

    def add(self, payload: dict) -> dict:
        if not payload.get("messages"):
            return ADD_SKIP_RESULT
        return self.memory.add(payload["messages"], prompt=CUSTOM_PROMPT, **_add_kwargs(payload))

    def search(self, payload: dict) -> list[dict]:
        return _norm_search(self.memory.search(payload["query"], **_search_kwargs(payload)))

    def get_all(self, payload: dict) -> list[dict]:
        kw = {k: payload[k] for k in ("user_id", "agent_id", "run_id", "filters", "limit") if payload.get(k)}
        return _norm_get_all(self.memory.get_all(**kw))

    def get(self, memory_id: str):
        return self.memory.get(memory_id)

    def update(self, memory_id: str, text: str):
        return self.memory.update(memory_id, text)

    def delete(self, memory_id: str):
        return self.memory.delete(memory_id)

    def delete_all(self, filters: dict):
        return self.memory.delete_all(**filters)

    def history(self, memory_id: str):
        return self.memory.history(memory_id)


class AsyncLocalClient:
    """Async mode: first credentials win; AsyncMemory built lazily on the background loop."""

    _instance = None
    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _loop_lock = threading.Lock()

    def __new__(cls, credentials: dict):
        with cls._lock:
            if cls._instance is None:
                inst = super().__new__(cls)
                inst._initialized = False
                cls._instance = inst
            return cls._instance

    def __init__(self, credentials: dict):
        if self._initialized:
            return
        self.config = build_local_mem0_config(credentials)
        self.memory = None
        self._create_lock = None
        self._sem = None
        self._initialized = True

    # -- background loop
    @classmethod
    def ensure_bg_loop(cls) -> asyncio.AbstractEventLoop:
        with cls._loop_lock:
            if cls._loop is not None and cls._thread is not None and cls._thread.is_alive():
                return cls._loop
            ready = threading.Event()

            def run():
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
                cls._loop = loop
                ready.set()
                loop.run_forever()

            cls._thread = threading.Thread(target=run, name="mem0-bg-loop", daemon=True)
            cls._thread.start()
            ready.wait()
            return cls._loop

    def submit(self, coro) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coro, self.ensure_bg_loop())

    async def _mem(self):
        if self._create_lock is None:
            self._create_lock = asyncio.Lock()
            self._sem = asyncio.Semaphore(MAX_CONCURRENT_MEM_ADDS)
        if self.memory is None:
            async with self._create_lock:
                if self.memory is None:
                    self.memory = await AsyncMemory.from_config(self.config)
        return self.memory

    async def _guarded(self, fn):
        mem = await self._mem()
        async with self._sem:
            return await fn(mem)

    # -- operations (coroutines)
    async def add(self, payload: dict):
        if not payload.get("messages"):
            return ADD_SKIP_RESULT
        try:
            return await self._guarded(
                lambda m: m.add(payload["messages"], prompt=CUSTOM_PROMPT, **_add_kwargs(payload)))
        except Exception:
            logger.exception("background add failed")
            return None

    async def search(self, payload: dict):
        return _norm_search(await self._guarded(lambda m: m.search(payload["query"], **_search_kwargs(payload))))

    async def get_all(self, payload: dict):
        kw = {k: payload[k] for k in ("user_id", "agent_id", "run_id", "filters", "limit") if payload.get(k)}
        return _norm_get_all(await self._guarded(lambda m: m.get_all(**kw)))

    async def get(self, memory_id: str):
        return await self._guarded(lambda m: m.get(memory_id))

    async def update(self, memory_id: str, text: str):
        try:
            return await self._guarded(lambda m: m.update(memory_id, text))
        except Exception:
            logger.exception("background update failed")

    async def delete(self, memory_id: str):
        try:
            return await self._guarded(lambda m: m.delete(memory_id))
        except Exception:
            logger.exception("background delete failed")

    async def delete_all(self, filters: dict):
        try:
            return await self._guarded(lambda m: m.delete_all(**filters))
        except Exception:
            logger.exception("background delete_all failed")

    async def history(self, memory_id: str):
        return await self._guarded(lambda m: m.history(memory_id))

    def run_read(self, coro, timeout: float, default):
        """Submit a read and wait up to `timeout`; on timeout or error degrade to `default`."""
        fut = self.submit(coro)
        try:
            return fut.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            logger.warning("read timed out after %ss; degrading", timeout)
            return default
        except Exception:
            logger.exception("read failed; degrading")
            return default

    @classmethod
    def shutdown(cls, timeout: float = 3.0) -> None:
        loop, thread = cls._loop, cls._thread
        if loop is None or not loop.is_running():
            return

        async def drain():
            me = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not me]
            if pending:
                await asyncio.wait(pending, timeout=timeout)

        try:
            asyncio.run_coroutine_threadsafe(drain(), loop).result(timeout=timeout + 1)
        except Exception:
            pass
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=3.0)
        cls._loop = None
        cls._thread = None
        cls._instance = None
