"""A pool of worker processes, each holding a V8 engine.

The calling thread talks to a worker directly over its pipe (no extra thread
hop on the hot path). Every wait is bounded: a worker that stops answering past
an execution's limit plus a grace period is killed and replaced, and a dead
worker's request fails with :class:`WorkerLostError`. Closing the pool, or the
interpreter exiting, stops every worker; workers also die with their parent.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import queue
import select
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_any
from pathlib import Path
from typing import Any, Callable, Iterable

from ..core.errors import RatchetError, WorkerLostError

log = logging.getLogger("ratchet_jupyter.pool")
#: Sent instead of HttpSettings the worker already holds.
SAME_HTTP = "same"
_live_pools: "weakref.WeakSet[WorkerPool]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for pool in list(_live_pools):
        pool.close()


class WorkerHandle:
    """One worker process and the main side's knowledge of it."""

    def __init__(self, process: subprocess.Popen, conn: Connection, index: int) -> None:
        self.process = process
        self.conn = conn
        self.index = index
        self.known: set[str] = set()
        self.sent_http: Any = None
        self.pid: int | None = None
        self._poller = select.poll()
        self._poller.register(conn.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)

    def wait(self, timeout: float) -> bool:
        """True when the worker has answered (or hung up) within ``timeout`` seconds."""
        return bool(self._poller.poll(max(0, int(timeout * 1000) + 1)))

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.wait(2)
        except Exception:  # noqa: BLE001
            pass
        try:
            self.conn.close()
        except OSError:
            pass


class WorkerPool:
    """Worker processes, each a fresh interpreter, replaced when they die.

    Workers are started as ``python -m ratchet_jupyter.runtime.worker`` (spawn
    semantics: V8 is not fork-safe) rather than through ``multiprocessing``, so
    a user's script needs no ``if __name__ == "__main__"`` guard. A worker's
    death shows as end-of-file on its socket.

    Parameters
    ----------
    size
        Number of workers.
    pin
        Pin worker ``i`` to CPU ``i mod ncpu``.
    startup_timeout
        Seconds to wait for a worker to come up.
    """

    def __init__(self, size: int, pin: bool = True, startup_timeout: float = 30.0) -> None:
        self.size = size
        self.startup_timeout = startup_timeout
        self._cpus = sorted(os.sched_getaffinity(0)) if pin and hasattr(os, "sched_getaffinity") else None
        # LIFO: the worker used last is used next, so its threads and caches are still warm
        self._idle: queue.LifoQueue[WorkerHandle] = queue.LifoQueue()
        self._workers: dict[int, WorkerHandle] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._closed = False
        self.replaced = 0
        for index in range(size):
            self._spawn(index)
        _live_pools.add(self)

    # -- workers ---------------------------------------------------------------------------
    def _spawn(self, index: int) -> None:
        ours, theirs = socket.socketpair()
        cpu = self._cpus[index % len(self._cpus)] if self._cpus else None
        command = [sys.executable, "-m", "ratchet_jupyter.runtime.worker", "--fd", str(theirs.fileno()), "--parent", str(os.getpid())]
        if cpu is not None:
            command += ["--cpu", str(cpu)]
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        process = subprocess.Popen(command, pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        handle = WorkerHandle(process, Connection(ours.detach()), index)
        with self._lock:
            self._workers[index] = handle
        threading.Thread(target=self._await_ready, args=(handle,), daemon=True).start()

    def _await_ready(self, handle: WorkerHandle) -> None:
        try:
            ready = wait_any([handle.conn], self.startup_timeout)
            if handle.conn in ready:
                tag, pid = handle.conn.recv()
                handle.pid = pid
                if not self._closed:
                    self._idle.put(handle)
                    return
        except (EOFError, OSError):
            pass
        if not self._closed:
            log.error("worker %d did not start; replacing it", handle.index)
            handle.kill()
            time.sleep(0.5)
            self._replace(handle)

    def _replace(self, handle: WorkerHandle) -> None:
        handle.kill()
        if self._closed:
            return
        with self._lock:
            if self._workers.get(handle.index) is not handle:
                return
            self.replaced += 1
        self._spawn(handle.index)

    def acquire(self, timeout: float | None = None) -> WorkerHandle:
        """Take an idle worker, waiting at most ``timeout`` seconds (default: startup timeout)."""
        if self._closed:
            raise RatchetError("the worker pool is closed", operation="execute")
        try:
            handle = self._idle.get_nowait()
            if handle.alive:
                return handle
            self._replace(handle)
        except queue.Empty:
            pass
        deadline = time.monotonic() + (timeout if timeout is not None else self.startup_timeout)
        while True:
            try:
                handle = self._idle.get(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    raise WorkerLostError("no worker became available in time", operation="execute") from None
                continue
            if handle.alive:
                return handle
            self._replace(handle)

    def release(self, handle: WorkerHandle) -> None:
        if self._closed:
            handle.kill()
        else:
            self._idle.put(handle)

    def pids(self) -> list[int]:
        """Process ids of the current workers."""
        with self._lock:
            return [h.process.pid for h in self._workers.values()]

    def alive_count(self) -> int:
        """How many worker processes are running."""
        with self._lock:
            return sum(h.alive for h in self._workers.values())

    # -- calls -------------------------------------------------------------------------------
    def _send(self, handle: WorkerHandle, kind: str, payload: Any) -> int:
        request_id = next(self._ids)
        if isinstance(payload, dict):
            changes = {}
            if payload.get("code") is not None and payload["hash"] in handle.known:
                changes.update(code=None, checks=None)  # the worker has them already
            http = payload.get("http")
            if http is not None and http is handle.sent_http:
                changes["http"] = SAME_HTTP  # and these settings too
            if http is not None and changes.get("http") is None:
                handle.sent_http = http
            if changes:
                payload = dict(payload, **changes)
        handle.conn.send((kind, request_id, payload))
        if isinstance(payload, dict) and "hash" in payload:
            handle.known.add(payload["hash"])
        return request_id

    def call(self, kind: str, payload: Any, limit: float, grace: float = 2.0, on_progress: Any = None) -> Any:
        """Send one request to an idle worker and wait for its answer.

        Progress events the worker sends meanwhile go to ``on_progress``. Raises
        :class:`WorkerLostError` if the worker dies, or stops answering for
        ``limit + grace`` seconds (it is then killed and replaced).
        """
        handle = self.acquire()
        try:
            self._send(handle, kind, payload)
            deadline = time.monotonic() + limit + grace
            while True:
                if handle.wait(deadline - time.monotonic()):
                    message = handle.conn.recv()  # EOFError here: the worker died
                    if len(message) == 3:  # ("progress", request id, event)
                        if on_progress is not None:
                            on_progress(message[2])
                        continue
                    self.release(handle)
                    return message[1]
                if time.monotonic() < deadline:
                    continue
                self._replace(handle)
                raise WorkerLostError(
                    f"worker process stopped answering for {limit + grace:.1f}s and was replaced", operation="execute"
                )
        except (EOFError, OSError, BrokenPipeError):
            self._replace(handle)
            raise WorkerLostError("worker process died during the execution", operation="execute") from None
        except BaseException:
            # KeyboardInterrupt or similar while waiting: the worker's state is unknown.
            self._replace(handle)
            raise

    def run_chunks(
        self,
        chunks: Iterable[tuple[int, Any]],
        limit: Callable[[Any], float],
        on_result: Callable[[int, Any], None],
        on_lost: Callable[[int, Any, str], bool],
        grace: float = 2.0,
    ) -> None:
        """Spread ``(key, payload)`` map requests over all workers, as they free up.

        ``on_result(key, result)`` gets each answer. ``on_lost(key, payload, why)``
        is called when a worker dies or hangs with a chunk; it returns True to send
        the chunk again.
        """
        pending = deque(chunks)
        inflight: dict[Any, tuple[WorkerHandle, int, Any, float]] = {}
        try:
            while pending or inflight:
                while pending:
                    try:
                        handle = self._idle.get_nowait() if inflight else self.acquire()
                    except queue.Empty:
                        break
                    if not handle.alive:
                        self._replace(handle)
                        continue
                    key, payload = pending.popleft()
                    try:
                        self._send(handle, "map", payload)
                    except (OSError, BrokenPipeError):
                        self._replace(handle)
                        pending.appendleft((key, payload))
                        continue
                    inflight[handle.conn] = (handle, key, payload, time.monotonic() + limit(payload) + grace)
                if not inflight:
                    continue
                waitables = list(inflight)
                nearest = min(d for *_, d in inflight.values())
                ready = wait_any(waitables, max(0.0, min(0.25, nearest - time.monotonic())) if pending else max(0.0, nearest - time.monotonic()))
                now = time.monotonic()
                for conn, (handle, key, payload, deadline) in list(inflight.items()):
                    if conn in ready:
                        try:
                            _, result = conn.recv()
                        except (EOFError, OSError):
                            del inflight[conn]
                            self._replace(handle)
                            if on_lost(key, payload, "died"):
                                pending.append((key, payload))
                            continue
                        del inflight[conn]
                        self.release(handle)
                        on_result(key, result)
                    elif now >= deadline:
                        del inflight[conn]
                        self._replace(handle)
                        if on_lost(key, payload, "stopped answering"):
                            pending.append((key, payload))
        except BaseException:
            for handle, *_ in inflight.values():
                self._replace(handle)
            raise

    # -- shutdown -----------------------------------------------------------------------------
    def close(self) -> None:
        """Stop every worker (politely, then by force); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            handles = list(self._workers.values())
        for handle in handles:
            try:
                handle.conn.send(("stop", -1, None))
            except (OSError, BrokenPipeError):
                pass
        deadline = time.monotonic() + 1.0
        for handle in handles:
            try:
                handle.process.wait(max(0.01, deadline - time.monotonic()))
                handle.conn.close()
            except subprocess.TimeoutExpired:
                handle.kill()
        _live_pools.discard(self)
