"""How entities become rows: one :class:`EntitySpec` per table, used by the one generic repository."""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Generic, TypeVar

from ..core.errors import error_from_dict
from ..core.execution import Execution, ExecutionStatus
from ..core.task import Task
from ..core.testcase import TestCase

T = TypeVar("T")

#: Column kinds: text, json (any JSON value), int, float, bool, ts (timestamp).
Columns = dict[str, str]


@dataclass(frozen=True)
class EntitySpec(Generic[T]):
    """A table, its columns and the conversions between an entity and a row.

    Implementers give ``to_row`` (entity -> dict of column values, JSON columns as
    Python values) and ``from_row`` (the reverse); ``key`` is the id column.
    """

    table: str
    key: str
    columns: Columns
    to_row: Callable[[T], dict[str, Any]]
    from_row: Callable[[dict[str, Any]], T]
    entity_id: Callable[[T], str]
    #: Where rows are written, when reads come from a view over it (default: ``table``).
    write_table: str | None = None

    @property
    def target(self) -> str:
        return self.write_table or self.table


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class StoredTask:
    """A task as the store keeps it: every version that was defined or loaded, and where from."""

    uuid: str
    name: str
    version: str
    code: str
    content_hash: str
    description: str = ""
    source: str | None = None
    input_schema: Any = None
    output_schema: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tests: list[dict[str, Any]] = field(default_factory=list)
    created_at: datetime = field(default_factory=_now)
    updated_at: datetime = field(default_factory=_now)

    @property
    def id(self) -> str:
        return self.content_hash

    @classmethod
    def from_task(cls, task: Task) -> "StoredTask":
        return cls(
            uuid=task.uuid or "",
            name=task.name,
            version=task.version,
            code=task.code,
            content_hash=task.content_hash,
            description=task.description,
            source=task.source,
            input_schema=task.input_schema,
            output_schema=task.output_schema,
            metadata=dict(task.metadata),
            tests=[case.to_json() for case in task.tests],
        )

    def to_task(self) -> Task:
        """The runnable :class:`~ratchet_jupyter.core.task.Task`."""
        return Task(
            name=self.name,
            code=self.code,
            input_schema=self.input_schema,
            output_schema=self.output_schema,
            version=self.version,
            description=self.description or "",
            uuid=self.uuid,
            tests=[TestCase.from_json(t, file_name=f"test-{i:03d}.json") for i, t in enumerate(self.tests or [], 1)],
            metadata=dict(self.metadata or {}),
            source=self.source,
        )


TASKS: EntitySpec[StoredTask] = EntitySpec(
    table="tasks",
    key="id",
    columns={
        "id": "text", "uuid": "text", "name": "text", "version": "text", "description": "text",
        "source": "text", "content_hash": "text", "code": "text", "input_schema": "json",
        "output_schema": "json", "metadata": "json", "tests": "json", "created_at": "ts", "updated_at": "ts",
    },
    to_row=lambda t: {
        "id": t.content_hash, "uuid": t.uuid, "name": t.name, "version": t.version,
        "description": t.description, "source": t.source, "content_hash": t.content_hash, "code": t.code,
        "input_schema": t.input_schema, "output_schema": t.output_schema, "metadata": t.metadata,
        "tests": t.tests, "created_at": t.created_at, "updated_at": t.updated_at,
    },
    from_row=lambda r: StoredTask(
        uuid=r["uuid"], name=r["name"], version=r["version"], code=r["code"], content_hash=r["content_hash"],
        description=r.get("description") or "", source=r.get("source"), input_schema=r.get("input_schema"),
        output_schema=r.get("output_schema"), metadata=r.get("metadata") or {}, tests=r.get("tests") or [],
        created_at=r["created_at"], updated_at=r["updated_at"],
    ),
    entity_id=lambda t: t.content_hash,
)

PROCESS_LABEL = f"{socket.gethostname()}:{os.getpid()}"


def execution_row(e: Execution, task_uuid: str | None = None, batch_id: str | None = None, process: str | None = None) -> dict[str, Any]:
    """The ``executions`` row of one execution."""
    error = e.error.to_dict() if e.error is not None else None
    finished = None
    if e.started_at is not None:
        from datetime import timedelta

        finished = e.started_at + timedelta(milliseconds=e.duration_ms or 0.0)
    return {
        "id": e.id, "task_uuid": task_uuid, "task_name": e.task_name, "task_version": e.task_version,
        "task_hash": e.task_hash, "input": e.input, "output": e.output, "status": e.status.value,
        "error_type": error["type"] if error else None,
        "error_message": error["message"] if error else None,
        "error": error, "logs": list(e.logs), "started_at": e.started_at, "finished_at": finished,
        "duration_ms": e.duration_ms, "attempts": e.attempts, "requests": list(e.requests),
        "progress": list(e.progress), "deterministic": e.deterministic,
        "process": process or PROCESS_LABEL, "batch_id": batch_id,
    }


def execution_from_row(r: dict[str, Any]) -> Execution:
    """Rebuild an :class:`Execution` from its row."""
    error = r.get("error")
    return Execution(
        r["task_name"], r.get("task_version") or "", r.get("task_hash") or "", r.get("input"),
        output=r.get("output"), status=ExecutionStatus(r["status"]),
        error=error_from_dict(error) if error else None, logs=r.get("logs") or [],
        requests=r.get("requests") or [], progress=r.get("progress") or [], started_at=r.get("started_at"),
        duration_ms=r.get("duration_ms") or 0.0, attempts=r.get("attempts") or 1,
        deterministic=bool(r.get("deterministic")), id=r["id"],
    )


EXECUTIONS: EntitySpec[Execution] = EntitySpec(
    table="executions",
    key="id",
    columns={
        "id": "text", "task_uuid": "text", "task_name": "text", "task_version": "text", "task_hash": "text",
        "input": "json", "output": "json", "status": "text", "error_type": "text", "error_message": "text",
        "error": "json", "logs": "json", "started_at": "ts", "finished_at": "ts", "duration_ms": "float",
        "attempts": "int", "requests": "json", "progress": "json", "deterministic": "bool", "process": "text",
        "batch_id": "text",
    },
    to_row=execution_row,
    from_row=execution_from_row,
    entity_id=lambda e: e.id,
    write_table="execution_rows",
)


@dataclass
class DeliveryRecord:
    """One delivery of one execution's output to one destination, as recorded.

    Attributes
    ----------
    id : str
    execution_id, task_name : str
    destination : str
        The configured destination name.
    destination_type : str
        Its type (``filesystem``, ``webhook``, ``duckdb``, ``stdout`` or a plugin's).
    status : str
        ``"delivered"`` or ``"failed"``.
    attempts : int
        Tries made (a webhook retries).
    error : str or None
        One line saying why it failed.
    location : str or None
        Where it went (a file, a URL and status, a table), when the destination says.
    created_at : datetime (UTC)
    """

    execution_id: str
    task_name: str
    destination: str
    destination_type: str
    status: str
    attempts: int = 1
    error: str | None = None
    location: str | None = None
    created_at: datetime = field(default_factory=_now)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def delivered(self) -> bool:
        return self.status == "delivered"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (``created_at`` as ISO text)."""
        return {
            "id": self.id, "execution_id": self.execution_id, "task_name": self.task_name,
            "destination": self.destination, "destination_type": self.destination_type, "status": self.status,
            "attempts": self.attempts, "error": self.error, "location": self.location,
            "created_at": self.created_at.isoformat(),
        }


DELIVERIES: EntitySpec[DeliveryRecord] = EntitySpec(
    table="deliveries",
    key="id",
    columns={
        "id": "text", "execution_id": "text", "task_name": "text", "destination": "text",
        "destination_type": "text", "status": "text", "attempts": "int", "error": "text", "location": "text",
        "created_at": "ts",
    },
    to_row=lambda d: {
        "id": d.id, "execution_id": d.execution_id, "task_name": d.task_name, "destination": d.destination,
        "destination_type": d.destination_type, "status": d.status, "attempts": d.attempts, "error": d.error,
        "location": d.location, "created_at": d.created_at,
    },
    from_row=lambda r: DeliveryRecord(
        execution_id=r["execution_id"], task_name=r["task_name"], destination=r["destination"],
        destination_type=r["destination_type"], status=r["status"], attempts=int(r.get("attempts") or 1),
        error=r.get("error"), location=r.get("location"), created_at=r["created_at"], id=r["id"],
    ),
    entity_id=lambda d: d.id,
)


def dumps(value: Any) -> str | None:
    """JSON text of a JSON column value (None stays SQL NULL)."""
    if value is None:
        return None
    return json.dumps(value, default=str, separators=(",", ":"))
