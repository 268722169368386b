"""Execution backends: where requests for the engine go.

A backend answers ``call(kind, payload, limit)`` for one request and
``run_chunks(...)`` for the chunks of a batch. The local process pool is the
default; ``inline`` runs the engine in this process on a private asyncio loop.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Iterable

from ..core.errors import WorkerLostError


class ExecutionBackend:
    """What an execution backend must provide.

    Implementers answer requests of kind ``run``, ``map``, ``check`` and
    ``compile`` with the engine's result (see :mod:`.engine`), never wait
    forever, and raise :class:`WorkerLostError` when the thing running the
    request is lost.
    """

    def call(self, kind: str, payload: Any, limit: float, on_progress: Any = None) -> Any:  # pragma: no cover
        """Answer one request; progress events of a ``run`` go to ``on_progress`` as they happen."""
        raise NotImplementedError

    def run_chunks(
        self,
        chunks: Iterable[tuple[int, Any]],
        limit: Callable[[Any], float],
        on_result: Callable[[int, Any], None],
        on_lost: Callable[[int, Any, str], bool],
    ) -> None:
        """Run ``map`` requests; default: one after the other through :meth:`call`."""
        for key, payload in chunks:
            while True:
                try:
                    on_result(key, self.call("map", payload, limit(payload)))
                    break
                except WorkerLostError as exc:
                    if not on_lost(key, payload, str(exc)):
                        break

    def close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class ProcessBackend(ExecutionBackend):
    """The default: a :class:`~.pool.WorkerPool` of V8 worker processes."""

    def __init__(self, size: int, pin: bool, startup_timeout: float, grace: float) -> None:
        from .pool import WorkerPool

        self.pool = WorkerPool(size, pin=pin, startup_timeout=startup_timeout)
        self.grace = grace

    def call(self, kind: str, payload: Any, limit: float, on_progress: Any = None) -> Any:
        return self.pool.call(kind, payload, limit, self.grace, on_progress)

    def run_chunks(self, chunks, limit, on_result, on_lost) -> None:
        self.pool.run_chunks(chunks, limit, on_result, on_lost, self.grace)

    def close(self) -> None:
        self.pool.close()


class InlineBackend(ExecutionBackend):
    """V8 in this process, driven from a private asyncio loop thread."""

    def __init__(self, grace: float) -> None:
        from py_mini_racer import init_mini_racer

        from .engine import Engine

        # V8 must be initialised on an ordinary thread before a context is made on the
        # loop thread; otherwise a second context in this process crashes mini-racer.
        init_mini_racer(ignore_duplicate_init=True)
        self.grace = grace
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ratchet-inline", daemon=True)
        self._thread.start()
        self.engine = Engine()
        asyncio.run_coroutine_threadsafe(self.engine.start(), self._loop).result(60)
        self._lock = threading.Lock()

    def call(self, kind: str, payload: Any, limit: float, on_progress: Any = None) -> Any:
        if kind == "run" and on_progress is not None:
            with self._lock:
                future = asyncio.run_coroutine_threadsafe(self.engine.run(payload, on_progress), self._loop)
                return self._wait(future, limit)
        handlers = {
            "run": self.engine.run,
            "map": self.engine.map,
            "check": self.engine.check_syntax,
            "compile": self.engine.compile_only,
        }
        with self._lock:  # one context: one execution at a time
            future = asyncio.run_coroutine_threadsafe(handlers[kind](payload), self._loop)
            return self._wait(future, limit)

    def _wait(self, future: Any, limit: float) -> Any:
        try:
            return future.result(limit + self.grace)
        except TimeoutError:
            future.cancel()
            raise WorkerLostError("the inline engine stopped answering", operation="execute") from None
        except KeyboardInterrupt:
            future.cancel()  # cancels the evaluation, which interrupts V8
            raise

    def close(self) -> None:
        if self._loop.is_closed():
            return

        async def stop() -> None:
            self.engine.close()

        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            if not self._thread.is_alive():
                self._loop.close()
