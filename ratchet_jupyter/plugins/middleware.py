"""Middleware: hooks that run before an execution (may change or reject its input) and after it.

Order: hooks run by ascending :attr:`Middleware.order` (then in the order they were
added) before the execution, and in the reverse order after it, so the first
middleware wraps all the others. Each hook call has a time limit
(:attr:`Middleware.timeout`); a hook that raises or overruns fails that one
execution with a :class:`~ratchet_jupyter.core.errors.MiddlewareError` naming
the hook. The process, the worker pool and the other executions carry on.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from ..core.errors import MiddlewareError, RatchetError
from ..core.execution import Execution, ExecutionStatus


class Middleware:
    """Base of middleware; override :meth:`before`, :meth:`after` or both.

    Implementers set :attr:`name` (shown in errors and listings) and may set
    :attr:`order` and :attr:`timeout`. Hooks are called from the thread that runs
    the task (a batch calls :meth:`before` once per item), so they must be
    thread-safe and quick.
    """

    #: Shown in errors and in ``%ratchet plugins``.
    name: str = "middleware"
    #: Lower runs earlier before an execution, and later after it.
    order: int = 100
    #: Seconds each hook call may take before the execution fails.
    timeout: float = 5.0

    def before(self, task: Any, input: Any) -> Any:
        """Return the input to run ``task`` on (``input`` itself, or a changed copy).

        Raise any exception to reject the input: the execution fails with a
        ``MiddlewareError`` carrying its message.
        """
        return input

    def after(self, task: Any, execution: Execution) -> Execution | None:
        """Observe or change a finished ``execution``; return it, a replacement, or None (unchanged)."""
        return None

    def overrides(self, hook: str) -> bool:
        """Whether this middleware defines its own ``hook`` ("before" or "after")."""
        return getattr(type(self), hook) is not getattr(Middleware, hook)


class MiddlewareChain:
    """The ordered middleware of one runtime, with per-call time limits."""

    def __init__(self, middleware: list[Middleware] | None = None) -> None:
        self._items: list[Middleware] = []
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        #: Whether any middleware has a before / after hook (read on every run: kept as plain flags).
        self.has_before = False
        self.has_after = False
        for item in middleware or ():
            self.add(item)

    def add(self, middleware: Middleware) -> None:
        """Add ``middleware`` in its place by :attr:`~Middleware.order`."""
        if not isinstance(middleware, Middleware):
            raise TypeError(f"{middleware!r} is not a ratchet_jupyter Middleware")
        with self._lock:
            self._items.append(middleware)
            self._items.sort(key=lambda m: m.order)  # stable: equal orders keep insertion order
            self._changed()

    def remove(self, middleware: Middleware) -> None:
        with self._lock:
            if middleware in self._items:
                self._items.remove(middleware)
                self._changed()

    def _changed(self) -> None:
        self.has_before = any(m.overrides("before") for m in self._items)
        self.has_after = any(m.overrides("after") for m in self._items)

    @property
    def items(self) -> list[Middleware]:
        return list(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def _call(self, middleware: Middleware, hook: str, task: Any, *args: Any) -> Any:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ratchet-middleware")
            pool = self._pool
        future: Future = pool.submit(getattr(middleware, hook), task, *args)
        label = f"{middleware.name}.{hook}"
        try:
            return future.result(timeout=middleware.timeout)
        except FutureTimeout:
            future.cancel()
            raise MiddlewareError(
                f"middleware hook '{label}' did not finish within {middleware.timeout:g} s",
                operation=f"middleware {hook}", task=getattr(task, "name", None),
                details={"hook": label, "reason": "timeout"},
            ) from None
        except RatchetError as exc:
            raise MiddlewareError(
                f"middleware hook '{label}' failed: {exc.one_line()}",
                operation=f"middleware {hook}", task=getattr(task, "name", None), details={"hook": label},
            ) from None
        except Exception as exc:  # noqa: BLE001 - any hook failure fails the execution, not the process
            raise MiddlewareError(
                f"middleware hook '{label}' failed: {type(exc).__name__}: {exc}",
                operation=f"middleware {hook}", task=getattr(task, "name", None), details={"hook": label},
            ) from None

    def before(self, task: Any, input: Any) -> Any:
        """The input after every ``before`` hook; raises MiddlewareError if one fails or rejects it."""
        for middleware in self.items:
            if middleware.overrides("before"):
                input = self._call(middleware, "before", task, input)
        return input

    def after(self, task: Any, execution: Execution) -> Execution:
        """The execution after every ``after`` hook (reverse order).

        A failing hook marks the execution failed with a MiddlewareError (its
        output, if any, stays on the execution and in the history).
        """
        for middleware in reversed(self.items):
            if not middleware.overrides("after"):
                continue
            try:
                changed = self._call(middleware, "after", task, execution)
            except MiddlewareError as exc:
                execution.error = exc
                execution.status = ExecutionStatus.FAILED
                return execution
            if changed is not None:
                if not isinstance(changed, Execution):
                    execution.error = MiddlewareError(
                        f"middleware hook '{middleware.name}.after' returned {type(changed).__name__}, not an Execution",
                        operation="middleware after", task=getattr(task, "name", None),
                        details={"hook": f"{middleware.name}.after"},
                    )
                    execution.status = ExecutionStatus.FAILED
                    return execution
                execution = changed
        return execution

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
