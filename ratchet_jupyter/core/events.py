"""A small synchronous event bus: what happened (executions, task loads), for whoever listens.

Event names in use:

``execution.started``
    ``task`` (Task), ``execution_ids`` (list of str), ``count`` (int).
``execution.finished``
    ``task``, ``batch`` (ExecutionBatch), ``executions`` (the successful ones).
``execution.failed``
    ``task``, ``batch``, ``executions`` (the failed, timed-out or cancelled ones).
``task.loaded``
    ``task``, ``source`` (str), ``path`` (str), ``reloaded`` (bool).
``task.reload_failed``
    ``name``, ``source``, ``path``, ``error`` (one line), ``kept_version`` (str or None).
``output.delivered`` / ``output.failed``
    ``delivery`` (the recorded delivery).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from typing import Any, Callable

Handler = Callable[..., Any]

log = logging.getLogger("ratchet_jupyter.events")


class EventBus:
    """Subscribe handlers to event names; :meth:`emit` calls them in subscription order.

    A handler that raises is logged and skipped: a listener never breaks the
    run, load or delivery that emitted the event. ``"*"`` subscribes to every event
    (the handler then receives the event name as ``event``).
    """

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, event: str, handler: Handler) -> Callable[[], None]:
        """Call ``handler(**payload)`` on each ``event``; return a function that unsubscribes it."""
        with self._lock:
            self._handlers[event].append(handler)

        def unsubscribe() -> None:
            with self._lock:
                if handler in self._handlers.get(event, []):
                    self._handlers[event].remove(handler)

        return unsubscribe

    def has_subscribers(self, event: str) -> bool:
        """Whether emitting ``event`` would call anything (lets hot paths skip building payloads)."""
        return bool(self._handlers.get(event) or self._handlers.get("*"))

    def emit(self, event: str, **payload: Any) -> None:
        """Call the handlers of ``event`` (then the ``"*"`` ones) with ``payload``."""
        with self._lock:
            handlers = list(self._handlers.get(event, ())), list(self._handlers.get("*", ()))
        for handler in handlers[0]:
            self._call(handler, event, payload)
        for handler in handlers[1]:
            self._call(handler, event, dict(payload, event=event))

    @staticmethod
    def _call(handler: Handler, event: str, payload: dict[str, Any]) -> None:
        try:
            handler(**payload)
        except Exception:  # noqa: BLE001 - a listener must not break what emitted the event
            log.exception("handler %r of event %r failed", handler, event)
