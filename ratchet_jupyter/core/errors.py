"""The error tree of ratchet-jupyter.

Every failure the library reports is a :class:`RatchetError`. Each carries
context (the operation, the task, free-form details) so that front-ends can
render it once: a short message in a notebook, one line on the CLI's stderr,
a JSON body from the REST API.
"""

from __future__ import annotations

from typing import Any


class RatchetError(Exception):
    """Base of every error raised by ratchet-jupyter.

    Parameters
    ----------
    message
        A short, human readable sentence.
    operation
        What was being done (``"load"``, ``"validate input"``, ``"execute"``...).
    task
        The name of the task involved, if any.
    details
        Extra machine-readable context (JSON-serialisable).
    retryable
        Whether running the same thing again may succeed.
    """

    #: Name used in serialised form (``<ErrorType>: <message>`` on the CLI).
    error_type = "RatchetError"
    retryable_default = False

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        task: str | None = None,
        details: dict[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.task = task
        self.details = dict(details or {})
        self.retryable = self.retryable_default if retryable is None else retryable

    def __str__(self) -> str:
        return self.message

    def one_line(self) -> str:
        """``<ErrorType>: <message>`` on a single line (what the CLI prints)."""
        text = " ".join(self.message.split("\n")[0:1]).strip()
        return f"{self.error_type}: {text}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description (used when recording executions)."""
        return {
            "type": self.error_type,
            "message": self.message,
            "operation": self.operation,
            "task": self.task,
            "details": self.details,
        }


class TaskError(RatchetError):
    """A task could not be loaded or is malformed (metadata, files, code)."""

    error_type = "TaskError"


class TaskSyntaxError(TaskError):
    """The task's JavaScript does not parse. ``details`` has ``line`` and ``column``."""

    error_type = "SyntaxError"


class ValidationError(RatchetError):
    """A value does not match its JSON Schema.

    ``details`` holds ``path`` (a JSON path such as ``$.items[2].id``), ``rule``
    (the schema keyword broken), ``value`` (the offending value) and ``which``
    (``"input"`` or ``"output"``).
    """

    error_type = "ValidationError"

    @property
    def path(self) -> str | None:
        return self.details.get("path")


class SchemaError(ValidationError):
    """A JSON Schema is itself invalid (or uses an unknown format in strict mode)."""

    error_type = "SchemaError"


class JSRuntimeError(RatchetError):
    """The task's JavaScript threw.

    ``details`` holds ``name`` (the JS error class, e.g. ``HttpError``),
    ``stack`` (frames of the task's own source, with its line numbers) and,
    for ``HttpError``, ``status``.
    """

    error_type = "JSRuntimeError"
    _retryable_js = {"NetworkError", "RateLimitError", "ServiceUnavailableError"}

    def __init__(self, message: str, *, js_name: str = "Error", **kw: Any) -> None:
        details = dict(kw.pop("details", None) or {})
        details.setdefault("name", js_name)
        if kw.get("retryable") is None:
            kw["retryable"] = js_name in self._retryable_js
        super().__init__(message, details=details, **kw)
        self.js_name = js_name

    @property
    def stack(self) -> str:
        return self.details.get("stack") or ""

    def one_line(self) -> str:
        text = self.message.split("\n")[0].strip()
        return f"{self.js_name}: {text}"


class TimeoutError(RatchetError):  # noqa: A001 - deliberately mirrors the JS name
    """An execution ran past its time limit and was interrupted."""

    error_type = "TimeoutError"


class MemoryLimitError(RatchetError):
    """An execution allocated past its heap limit and was interrupted."""

    error_type = "MemoryLimitError"


class WorkerLostError(RatchetError):
    """The worker process running an execution died. Retryable."""

    error_type = "WorkerLostError"
    retryable_default = True


class CancelledError(RatchetError):
    """The execution was cancelled before it finished."""

    error_type = "CancelledError"


class FetchError(RatchetError):
    """A request a task made could not be performed (refused host, size, network)."""

    error_type = "FetchError"


class ConfigError(RatchetError):
    """Configuration is invalid."""

    error_type = "ConfigError"


class StorageError(RatchetError):
    """The history or task store failed."""

    error_type = "StorageError"


class PluginError(RatchetError):
    """A plugin failed to load, initialise or run."""

    error_type = "PluginError"


class MiddlewareError(PluginError):
    """A middleware hook raised, rejected an input or overran its time limit (``details['hook']``)."""

    error_type = "MiddlewareError"


class RegistryError(RatchetError):
    """A task source could not be read, or its tasks conflict (``details['source']``, ``details['path']``)."""

    error_type = "RegistryError"


class DeliveryError(RatchetError):
    """An output destination did not take an output (``details['destination']``, ``details['attempts']``)."""

    error_type = "DeliveryError"
    retryable_default = True


class NotFoundError(RatchetError):
    """A task, execution or other named thing does not exist (``details['kind']``, ``details['id']``)."""

    error_type = "NotFoundError"


class InvalidRequestError(RatchetError):
    """A request's parameters are wrong (``details['parameter']`` names the bad one)."""

    error_type = "InvalidRequestError"


class ConflictError(RatchetError):
    """The request clashes with the current state (e.g. a sync already running)."""

    error_type = "ConflictError"
    retryable_default = True


class ServiceNotFoundError(ConfigError):
    """Nothing is registered for a requested service type."""

    error_type = "ServiceNotFoundError"


#: Map of serialised ``error_type`` to class, for rebuilding errors sent by workers.
ERROR_TYPES: dict[str, type[RatchetError]] = {
    cls.error_type: cls
    for cls in (
        RatchetError, TaskError, TaskSyntaxError, ValidationError, SchemaError,
        JSRuntimeError, TimeoutError, MemoryLimitError, WorkerLostError,
        CancelledError, FetchError, ConfigError, StorageError, PluginError,
        MiddlewareError, RegistryError, DeliveryError, ServiceNotFoundError,
        NotFoundError, InvalidRequestError, ConflictError,
    )
}


def error_from_dict(data: dict[str, Any]) -> RatchetError:
    """Rebuild an error from :meth:`RatchetError.to_dict` output."""
    cls = ERROR_TYPES.get(data.get("type", ""), RatchetError)
    kwargs = dict(
        operation=data.get("operation"), task=data.get("task"), details=data.get("details")
    )
    if cls is JSRuntimeError:
        details = data.get("details") or {}
        return JSRuntimeError(data.get("message", ""), js_name=details.get("name", "Error"), **kwargs)
    return cls(data.get("message", ""), **kwargs)
