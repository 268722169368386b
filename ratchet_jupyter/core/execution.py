"""The record of one run of a task."""

from __future__ import annotations

import enum
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Sequence

from .errors import RatchetError


class ExecutionStatus(str, enum.Enum):
    """Where an execution ended (or stands)."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


def new_execution_id() -> str:
    """A fresh, unique execution id."""
    return uuid.uuid4().hex


_EMPTY: tuple = ()


class Execution:
    """One run of a task: its input, output or error, logs, HTTP requests and timing.

    Attributes
    ----------
    id : str
    task_name, task_version, task_hash : str
    input, output : Any
    status : ExecutionStatus
    error : RatchetError or None
    logs : list of dict
        ``{"level", "message", "time_ms"}`` per ``console`` call.
    requests : list of dict
        ``{"method", "url", "status", "duration_ms", "error"?}`` per ``fetch``.
    progress : list of dict
        What the task reported through ``reportProgress``.
    started_at : datetime (UTC)
    duration_ms : float
    attempts : int
    deterministic : bool
    """

    __slots__ = (
        "id", "task_name", "task_version", "task_hash", "input", "output", "status", "error",
        "logs", "requests", "progress", "started_at", "duration_ms", "attempts", "deterministic",
    )

    def __init__(
        self,
        task_name: str,
        task_version: str,
        task_hash: str,
        input: Any,
        output: Any = None,
        status: ExecutionStatus = ExecutionStatus.PENDING,
        error: RatchetError | None = None,
        logs: list | None = None,
        requests: list | None = None,
        progress: list | None = None,
        started_at: datetime | None = None,
        duration_ms: float = 0.0,
        attempts: int = 1,
        deterministic: bool = False,
        id: str | None = None,
    ) -> None:
        self.id = id or new_execution_id()
        self.task_name = task_name
        self.task_version = task_version
        self.task_hash = task_hash
        self.input = input
        self.output = output
        self.status = status
        self.error = error
        self.logs = logs if logs is not None else []
        self.requests = requests if requests is not None else []
        self.progress = progress if progress is not None else []
        self.started_at = started_at or datetime.now(timezone.utc)
        self.duration_ms = duration_ms
        self.attempts = attempts
        self.deterministic = deterministic

    @classmethod
    def successes(
        cls,
        task: tuple[str, str, str],
        pairs: Any,
        started_at: datetime,
        duration_ms: float,
        attempts: int,
        deterministic: bool,
    ) -> list["Execution"]:
        """Build many successful executions at once from ``(id, input, output)`` triples.

        The fast path of batches: one call instead of one ``__init__`` per item, and
        the empty ``logs``/``requests``/``progress`` are one shared empty tuple
        (allocating three lists per item measurably slowed large batches).
        """
        name, version, digest = task
        new = object.__new__
        success = ExecutionStatus.SUCCESS
        out = []
        append = out.append
        for ident, value, output in pairs:
            e = new(cls)
            e.id = ident
            e.task_name = name
            e.task_version = version
            e.task_hash = digest
            e.input = value
            e.output = output
            e.status = success
            e.error = None
            e.logs = _EMPTY
            e.requests = _EMPTY
            e.progress = _EMPTY
            e.started_at = started_at
            e.duration_ms = duration_ms
            e.attempts = attempts
            e.deterministic = deterministic
            append(e)
        return out

    @property
    def ok(self) -> bool:
        """True when the execution succeeded."""
        return self.status is ExecutionStatus.SUCCESS

    def result(self) -> Any:
        """Return the output, or raise the execution's :class:`RatchetError`."""
        if self.error is not None:
            raise self.error
        return self.output

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (what the history and the REST API store)."""
        return {
            "id": self.id,
            "task_name": self.task_name,
            "task_version": self.task_version,
            "task_hash": self.task_hash,
            "input": self.input,
            "output": self.output,
            "status": self.status.value,
            "error": self.error.to_dict() if self.error is not None else None,
            "logs": self.logs,
            "requests": self.requests,
            "progress": self.progress,
            "started_at": self.started_at.isoformat(),
            "duration_ms": self.duration_ms,
            "attempts": self.attempts,
            "deterministic": self.deterministic,
        }

    def __repr__(self) -> str:
        tail = f"error={self.error.one_line()!r}" if self.error else f"output={json.dumps(self.output, default=str)[:60]}"
        return (
            f"Execution({self.task_name}@{self.task_version} {self.status.value} "
            f"{self.duration_ms:.1f}ms {tail})"
        )


@dataclass
class BulkChunk:
    """Successful batch items whose input and output JSON texts are already at hand.

    The recorder hands these texts to the database as they are, instead of
    encoding every item again: ``inputs_json`` is a JSON array, ``outputs_json``
    an object whose ``"o"`` member is the array of outputs (what workers send),
    ``positions`` the indices of these items in :attr:`ExecutionBatch.executions`.
    """

    positions: Sequence[int]
    inputs_json: str
    outputs_json: str


@dataclass
class ExecutionBatch:
    """What the runtime tells its listeners (the recorder among them) after each run or map."""

    task: Any
    executions: list[Execution]
    bulk: list[BulkChunk] = field(default_factory=list)
    batch_id: str | None = None
    #: Output destinations named for this run (None: those configured for the task).
    outputs: list[str] | None = None
